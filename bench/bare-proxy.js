// The floor for the gateway bench: the least a Node proxy can do — node:http in, one
// undici Pool out, status, headers and body passed through — with no routing, auth,
// metrics or logs. Measured in the same rounds as MAGI, it shows what any Node proxy
// costs on the machine at hand. Usage: node bare-proxy.js <upstream origin> <port>
'use strict';
const http = require('node:http');
const { Pool } = require('undici');

const [upstream, port] = process.argv.slice(2);
const pool = new Pool(upstream, { pipelining: 1, headersTimeout: 0, bodyTimeout: 0 });
const HOP = ['connection', 'keep-alive', 'transfer-encoding'];
const STREAM = Buffer.from('"stream":true');

http
  .createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      pool.dispatch(
        // a stream on a connection of its own, as MAGI sends it (llama-server closes it after)
        {
          path: req.url,
          method: req.method,
          headers: { 'content-type': 'application/json' },
          body,
          reset: body.includes(STREAM),
        },
        {
          onRequestStart() {},
          onResponseStart(_c, status, headers) {
            for (const h of HOP) delete headers[h];
            res.writeHead(status, headers);
          },
          onResponseData(_c, chunk) {
            res.write(chunk);
          },
          onResponseEnd() {
            res.end();
          },
          onResponseError() {
            res.destroy();
          },
        },
      );
    });
  })
  .listen(Number(port), '127.0.0.1', () => process.send?.('listening'));
