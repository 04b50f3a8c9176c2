import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  RunningStandin,
  freePort,
  httpRequest,
  startLlamaStandin,
  stopAllStandins,
  waitFor,
} from '../../test/support/fixtures';
import { ForwardRequest, ForwardResult, Forwarder, answerHeaders, readUsage } from './forwarder';

describe('readUsage', () => {
  it('reads the usage of a non-streamed answer', () => {
    const body =
      '{"choices":[],"usage":{"completion_tokens":5,"prompt_tokens":12,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":0}},"id":"x","timings":{"prompt_n":12}}';
    expect(readUsage(body)).toEqual({ promptTokens: 12, completionTokens: 5 });
  });

  it('reads the last usage of a stream and ignores usage: null chunks', () => {
    const tail =
      'data: {"choices":[{"delta":{}}],"usage":null}\n\ndata: {"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3}}\n\ndata: [DONE]\n\n';
    expect(readUsage(tail)).toEqual({ promptTokens: 9, completionTokens: 3 });
    expect(readUsage('data: {"choices":[],"usage":null}\n\ndata: [DONE]\n\n')).toBeNull();
  });

  it('is null without usage, and reads embeddings usage (no completion tokens)', () => {
    expect(readUsage('{"choices":[]}')).toBeNull();
    expect(readUsage('{"data":[],"usage":{"prompt_tokens":4,"total_tokens":4}}')).toEqual({
      promptTokens: 4,
      completionTokens: 0,
    });
  });
});

describe('answerHeaders', () => {
  it('drops hop-by-hop headers and those Connection names, keeps the rest, adds ours', () => {
    const out = answerHeaders(
      {
        connection: 'keep-alive, x-per-hop',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        'x-per-hop': '1',
        'content-type': 'text/event-stream',
        'set-cookie': ['a=1', 'b=2'],
        server: 'llama.cpp',
      },
      { 'X-Magi-Model': 'm', 'X-Magi-Upstream': '8081' },
    );
    expect(out).toEqual({
      'content-type': 'text/event-stream',
      'set-cookie': ['a=1', 'b=2'],
      server: 'llama.cpp',
      'X-Magi-Model': 'm',
      'X-Magi-Upstream': '8081',
    });
  });
});

describe('Forwarder.forward', () => {
  let sut: Forwarder;
  let standin: RunningStandin;
  let proxy: http.Server;
  let proxyUrl: string;
  /** What the next proxied request is sent to, and what the last forward() returned. */
  let target: Omit<ForwardRequest, 'body'>;
  let last: Promise<ForwardResult>;

  beforeAll(async () => {
    sut = new Forwarder();
    standin = await startLlamaStandin({
      alias: 'fwd',
      args: ['--parallel', '1'],
      env: { STANDIN_CHUNK_DELAY_MS: '100', STANDIN_LOAD_MS: '0' },
    });
    // A minimal proxy around forward(): what it writes is what the client sees.
    proxy = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        last = sut.forward({ ...target, body: Buffer.concat(chunks) }, res);
        void last.then((r) => {
          if (r.kind === 'unreachable' && !res.headersSent)
            res.writeHead(599).end(JSON.stringify({ unreachable: true }));
        });
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await sut.onModuleDestroy();
    await new Promise((r) => proxy.close(r));
    await stopAllStandins();
  });

  const toStandin = (): Omit<ForwardRequest, 'body'> => ({
    origin: standin.url,
    path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json' },
    answerHeaders: { 'X-Magi-Model': 'fwd', 'X-Magi-Upstream': String(standin.port) },
  });
  const chat = (extra: Record<string, unknown> = {}) => ({
    model: 'fwd',
    messages: [{ role: 'user', content: 'hi' }],
    max_tokens: 2,
    ...extra,
  });

  it('passes status, headers and body through, adds ours, and reads usage', async () => {
    target = toStandin();
    const res = await httpRequest(`${proxyUrl}/x`, { method: 'POST', body: chat() });
    expect(res.status).toBe(200);
    expect(res.headers['x-standin-port']).toBe(String(standin.port));
    expect(res.headers['x-magi-model']).toBe('fwd');
    expect(res.json()).toMatchObject({ object: 'chat.completion', usage: { completion_tokens: 2 } });
    const result = await last;
    expect(result).toMatchObject({ kind: 'completed', status: 200, usage: { completionTokens: 2 } });
    expect(sut.origins()).toContain(standin.url);
  });

  it("passes the upstream's error status and body through", async () => {
    target = toStandin();
    const res = await httpRequest(`${proxyUrl}/x`, { method: 'POST', body: { model: 'fwd' } });
    expect(res.status).toBe(400);
    expect(res.json().error.message).toBe("'messages' is required");
    expect(await last).toMatchObject({ kind: 'completed', status: 400, usage: null });
  });

  it('reports a refused connection as unreachable without writing anything', async () => {
    const closed = await freePort();
    target = { ...toStandin(), origin: `http://127.0.0.1:${closed}` };
    const res = await httpRequest(`${proxyUrl}/x`, { method: 'POST', body: chat() });
    expect(res.status).toBe(599);
    const result = await last;
    expect(result.kind).toBe('unreachable');
    expect(result.kind === 'unreachable' && (result.error as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });

  it('aborts the upstream request when the client goes away mid-stream', async () => {
    target = toStandin();
    const req = http.request(`${proxyUrl}/x`, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json' },
    });
    const firstChunk = new Promise<void>((resolve) => req.on('response', (r) => r.once('data', () => resolve())));
    req.on('error', () => undefined);
    req.end(JSON.stringify(chat({ stream: true, max_tokens: 5 })));
    await firstChunk;
    const busy = await httpRequest(`${standin.url}/slots`);
    expect(busy.json()[0].is_processing).toBe(true);
    req.destroy();
    expect(await last).toMatchObject({ kind: 'client-gone', status: 200 });
    await waitFor(
      async () => !(await httpRequest(`${standin.url}/slots`)).json()[0].is_processing,
      1000,
      10,
      'slot freed',
    );
  });

  it('sends an SSE head at once when the first event is not there yet, and passes an event that came with its head', async () => {
    // An upstream that flushes its head, then writes the first event `gap` ms later.
    const upstream = http.createServer((req, res) => {
      const gap = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('gap'));
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (gap === 0) return res.end('data: [DONE]\n\n');
      res.flushHeaders();
      setTimeout(() => res.end('data: [DONE]\n\n'), gap);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const timing = (gap: number) => {
      target = { ...toStandin(), origin, path: `/sse?gap=${gap}` };
      const t0 = Date.now();
      const req = http.request(`${proxyUrl}/x`, { method: 'POST', agent: false });
      const times = new Promise<{ head: number; data: number; firstData: string }>((resolve) =>
        req.on('response', (r) => {
          const head = Date.now() - t0;
          r.setEncoding('utf8');
          r.once('data', (d: string) => resolve({ head, data: Date.now() - t0, firstData: d }));
        }),
      );
      req.end('{}');
      return times;
    };
    try {
      const late = await timing(150);
      expect(late.data - late.head).toBeGreaterThanOrEqual(100);
      expect(await last).toMatchObject({ kind: 'completed', status: 200 });
      const together = await timing(0);
      expect(together.firstData).toBe('data: [DONE]\n\n');
      expect(await last).toMatchObject({ kind: 'completed', status: 200 });
    } finally {
      sut.drop(origin);
      await new Promise((r) => upstream.close(r));
    }
  });

  it('keeps only the pools it is told to retain', () => {
    expect(sut.origins()).toEqual(expect.arrayContaining([standin.url]));
    sut.retain(new Set([standin.url]));
    expect(sut.origins()).toEqual([standin.url]);
    sut.retain(new Set());
    expect(sut.origins()).toEqual([]);
  });
});
