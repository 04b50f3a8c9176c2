/**
 * One registry scan measurement in a fresh process (so peak RSS is this scan's):
 * boots the app on an empty scan folder, moves N prepared GGUF files in, then times a
 * cold rescan (every header read) and an unchanged rescan (none read). Prints JSON.
 */
import { readFileSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { createTestApp, makeTestDirs } from '../test/support/create-test-app';

function rchar(): number {
  const m = /rchar: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'));
  return m ? Number(m[1]) : 0;
}

async function main(): Promise<void> {
  const source = process.argv[2];
  const dirs = makeTestDirs('magi-bench-scan-');
  const t = await createTestApp({ dirs });
  const rssBefore = process.memoryUsage().rss;
  const files = readdirSync(source);
  for (const f of files) renameSync(join(source, f), join(dirs.models, f));

  const post = async (): Promise<{ ms: number; body: { modelsFound: number } }> => {
    const started = process.hrtime.bigint();
    const res = await fetch(`${t.url}/api/models/rescan`, { method: 'POST' });
    const body = (await res.json()) as { modelsFound: number };
    return { ms: Number(process.hrtime.bigint() - started) / 1e6, body };
  };
  const io0 = rchar();
  const cold = await post();
  const io1 = rchar();
  const warm = await post();
  const io2 = rchar();
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  for (const f of files) renameSync(join(dirs.models, f), join(source, f));
  await t.close();
  console.log(
    JSON.stringify({
      files: files.length,
      modelsFound: cold.body.modelsFound,
      coldMs: cold.ms,
      warmMs: warm.ms,
      bytesPerFileCold: (io1 - io0) / files.length,
      bytesReadWarm: io2 - io1,
      rssBeforeMb: rssBefore / 2 ** 20,
      peakRssMb,
    }),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
