// Preloaded (`node -r`) into the MAGI process the gateway bench starts: answers the
// bench's questions about the process's own CPU time and memory over the IPC channel.
'use strict';
process.on('message', (msg) => {
  if (!msg || typeof msg.cmd !== 'string') return;
  if (msg.cmd === 'cpu') process.send({ cpu: process.cpuUsage() });
  if (msg.cmd === 'mem') {
    if (typeof global.gc === 'function') global.gc();
    const m = process.memoryUsage();
    process.send({
      mem: { rssMb: m.rss / 2 ** 20, heapUsedMb: m.heapUsed / 2 ** 20, externalMb: m.external / 2 ** 20 },
    });
  }
});
// The channel must not keep MAGI alive once it has shut down.
if (process.channel) process.channel.unref();
