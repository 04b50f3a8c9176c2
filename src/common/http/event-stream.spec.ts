import express, { Request, Response } from 'express';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { clientAbortSignal } from './client-abort-signal.decorator';
import { acceptsEventStream, ServerSentEvent, sseFrame, writeEventStream } from './event-stream';

/** An express app on loopback answering GET / with `handler`; closed by the returned function. */
async function serve(
  handler: (req: Request, res: Response) => unknown,
): Promise<{ url: string; close(): Promise<void> }> {
  const app = express();
  app.get('/', (req, res) => void handler(req, res));
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Resolves on the next turn that `check` holds (polling every 5 ms, up to 5 s). */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

describe('acceptsEventStream', () => {
  it.each([
    ['text/event-stream', true],
    ['application/json, TEXT/EVENT-STREAM;q=0.9', true],
    ['application/json', false],
    ['text/event-streams', false],
    [undefined, false],
  ])('%s → %s', (accept, expected) => {
    expect(acceptsEventStream(accept)).toBe(expected);
  });
});

describe('sseFrame', () => {
  it('writes a named event and one data line of JSON', () => {
    expect(sseFrame({ event: 'done', data: { modelIds: ['a'] } })).toBe('event: done\ndata: {"modelIds":["a"]}\n\n');
  });

  it('writes an unnamed event as its data line alone, with newlines escaped by JSON', () => {
    expect(sseFrame({ data: 'two\nlines' })).toBe('data: "two\\nlines"\n\n');
  });
});

describe('writeEventStream', () => {
  it('answers 200 text/event-stream unbuffered, writes every event in order, then ends', async () => {
    async function* events(): AsyncGenerator<ServerSentEvent> {
      yield { data: { step: 1 } };
      yield { event: 'progress', data: { step: 2 } };
      yield { event: 'done', data: {} };
    }
    const sut = await serve((_req, res) => writeEventStream(res, events()));
    try {
      const r = await fetch(sut.url);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      expect(r.headers.get('cache-control')).toBe('no-cache, no-transform');
      expect(r.headers.get('x-accel-buffering')).toBe('no');
      expect(await r.text()).toBe('data: {"step":1}\n\nevent: progress\ndata: {"step":2}\n\nevent: done\ndata: {}\n\n');
    } finally {
      await sut.close();
    }
  });

  it('stops reading the events when the client goes away, and ends the answer', async () => {
    let stopped = false;
    let ended = false;
    let client: AbortSignal | null = null;
    // Never ends by itself: only writeEventStream letting go of it stops it.
    async function* endless(): AsyncGenerator<ServerSentEvent> {
      try {
        for (let i = 0; ; i++) {
          yield { event: 'tick', data: i };
          await new Promise((r) => setTimeout(r, 5));
        }
      } finally {
        stopped = true;
      }
    }
    const sut = await serve(async (req, res) => {
      client = clientAbortSignal(req, res);
      await writeEventStream(res, endless());
      ended = res.writableEnded;
    });
    try {
      const ctrl = new AbortController();
      const r = await fetch(sut.url, { signal: ctrl.signal });
      const reader = r.body!.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toMatch(/^event: tick\ndata: 0\n\n/);
      ctrl.abort();
      await until(() => stopped && ended);
      expect(client!.aborted).toBe(true);
    } finally {
      await sut.close();
    }
  });
});

describe('clientAbortSignal', () => {
  it('does not fire once the answer is complete', async () => {
    let signal: AbortSignal | null = null;
    let closed = false;
    const sut = await serve((req, res) => {
      signal = clientAbortSignal(req, res);
      res.once('close', () => (closed = true));
      res.json({ ok: true });
    });
    try {
      expect(await (await fetch(sut.url)).json()).toEqual({ ok: true });
      await until(() => closed);
      expect(signal!.aborted).toBe(false);
    } finally {
      await sut.close();
    }
  });

  it('fires when the client leaves before the answer is complete', async () => {
    let signal: AbortSignal | null = null;
    const sut = await serve((req, res) => {
      signal = clientAbortSignal(req, res);
      res.writeHead(200).write('partial');
    });
    try {
      const ctrl = new AbortController();
      const r = await fetch(sut.url, { signal: ctrl.signal });
      await r.body!.getReader().read();
      ctrl.abort();
      await until(() => signal?.aborted === true);
    } finally {
      await sut.close();
    }
  });
});
