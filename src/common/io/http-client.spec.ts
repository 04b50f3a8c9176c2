import { Logger } from '@nestjs/common';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MagiConfig } from '../../config/magi-config';
import { AxiosHttpClient, HttpError, redactSecrets } from './http-client';

const KEY = 'sk-configured-key-123456';

function config(): MagiConfig {
  return {
    providers: { openai: { apiKey: KEY } },
    litellm: { apiKey: 'litellm-master-key' },
    auth: { apiTokens: ['magi-token-1'] },
  } as unknown as MagiConfig;
}

describe('redactSecrets', () => {
  it('removes configured secrets and credential-looking strings', () => {
    const text =
      `key ${KEY} and Bearer abc.def-123, Basic dXNlcjpwdw==; https://user:pw@host:1/x?api_key=zzz&key=yyy&ok=1 ` +
      'echoed sk-ab***********wxyz and sk-...wxyz token=ttt';
    const out = redactSecrets(text, [KEY]);
    for (const s of [KEY, 'abc.def-123', 'dXNlcjpwdw==', 'user:pw', 'zzz', 'yyy', 'wxyz', 'ttt'])
      expect(out).not.toContain(s);
    expect(out).toContain('ok=1');
    expect(out).toContain('https://[redacted]@host:1/x');
  });

  it('leaves ordinary text alone', () => {
    expect(redactSecrets('pull model manifest: file does not exist', [KEY])).toBe(
      'pull model manifest: file does not exist',
    );
  });
});

describe('AxiosHttpClient', () => {
  let server: http.Server;
  let base: string;
  let closedRequests = 0;
  const sut = new AxiosHttpClient(config());

  beforeAll(async () => {
    Logger.overrideLogger(false);
    server = http.createServer((req, res) => {
      res.on('close', () => {
        if (!res.writableFinished) closedRequests++;
      });
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/json') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({ auth: req.headers.authorization ?? null }));
      }
      if (url.pathname === '/error') {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({ error: { message: `Incorrect API key provided: ${KEY}` } }));
      }
      if (url.pathname === '/text') {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        return res.end('Ollama is running');
      }
      if (url.pathname === '/stream') {
        res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
        res.write('{"status":"one"}\n');
        return; // never ends
      }
      if (url.pathname === '/redirect') {
        res.writeHead(302, { Location: '/json' });
        return res.end();
      }
      // /hang: never answers
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    sut.onModuleDestroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('answers JSON parsed, text as text, and sends the given headers', async () => {
    const j = await sut.request({ url: `${base}/json`, headers: { Authorization: 'Bearer x' } });
    expect(j).toMatchObject({ status: 200, json: { auth: 'Bearer x' } });
    expect(j.headers['content-type']).toBe('application/json');
    const t = await sut.request({ url: `${base}/text` });
    expect(t).toMatchObject({ status: 200, text: 'Ollama is running', json: undefined });
  });

  it('resolves error statuses with their body, secrets removed', async () => {
    const r = await sut.request({ url: `${base}/error` });
    expect(r.status).toBe(401);
    expect(r.text).not.toContain(KEY);
    expect(r.json).toEqual({ error: { message: 'Incorrect API key provided: [redacted]' } });
  });

  it('does not follow redirects', async () => {
    const r = await sut.request({ url: `${base}/redirect` });
    expect(r.status).toBe(302);
  });

  it('fails with kind timeout after timeoutMs and closes the request', async () => {
    const before = closedRequests;
    const started = Date.now();
    const e = await sut.request({ url: `${base}/hang?key=${KEY}`, timeoutMs: 150 }).catch((x: unknown) => x);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(e).toBeInstanceOf(HttpError);
    expect((e as HttpError).kind).toBe('timeout');
    expect((e as HttpError).message).toMatch(
      /^GET http:\/\/127\.0\.0\.1:\d+\/hang\?key=\[redacted\] timed out after 150 ms$/,
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(closedRequests).toBe(before + 1);
  });

  it("fails with kind aborted on the caller's signal", async () => {
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(), 50);
    const e = await sut.request({ url: `${base}/hang`, signal: ctrl.signal, timeoutMs: 5000 }).catch((x: unknown) => x);
    expect((e as HttpError).kind).toBe('aborted');
  });

  it('fails with kind connection when nothing listens', async () => {
    const e = await sut.request({ url: 'http://127.0.0.1:9/x' }).catch((x: unknown) => x);
    expect(e).toMatchObject({ kind: 'connection', code: 'ECONNREFUSED' });
    expect((e as Error).message).toBe('GET http://127.0.0.1:9/x failed: connection refused (ECONNREFUSED)');
  });

  it('streams a body and destroys it (closing the request) when the signal fires', async () => {
    const before = closedRequests;
    const ctrl = new AbortController();
    const res = await sut.stream({ url: `${base}/stream`, signal: ctrl.signal, timeoutMs: 100 });
    expect(res.status).toBe(200);
    const first = await new Promise<string>((r) => res.body.once('data', (c: Buffer) => r(c.toString())));
    expect(first).toBe('{"status":"one"}\n');
    // The head timeout no longer applies once the answer started.
    await new Promise((r) => setTimeout(r, 200));
    expect(res.body.destroyed).toBe(false);
    ctrl.abort();
    await new Promise((r) => setTimeout(r, 100));
    expect(res.body.destroyed).toBe(true);
    expect(closedRequests).toBe(before + 1);
  });
});
