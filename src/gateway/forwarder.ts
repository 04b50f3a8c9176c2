import { Injectable, OnModuleDestroy } from '@nestjs/common';
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Dispatcher, Pool } from 'undici';

/** One request to send upstream. The body is sent as it is. */
export interface ForwardRequest {
  /** `http://host:port` (or LiteLLM's origin). */
  origin: string;
  path: string;
  headers: Readonly<Record<string, string>>;
  body: Buffer;
  /** Added to the answer's headers (X-Magi-Model, X-Magi-Upstream). */
  answerHeaders: Record<string, string>;
  /**
   * Send `Connection: close` and never reuse the connection. llama-server closes the
   * connection after every streamed answer although it announced keep-alive, so a request
   * sent on it next would meet a closing socket (see Sender).
   */
  closeAfter?: boolean;
}

/** Token counts read from an answer's `usage`. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

export type ForwardResult =
  /** The upstream answered and the whole answer was passed on. */
  | { kind: 'completed'; status: number; usage: Usage | null; ttfbMs: number }
  /** Nothing was received and nothing written to the client: the request may go elsewhere. */
  | { kind: 'unreachable'; error: Error }
  /** The answer had started when the upstream failed; the client connection was cut. */
  | { kind: 'broken'; status: number; error: Error }
  /** The client went away; the upstream request was aborted. */
  | { kind: 'client-gone'; status: number | null };

/** Response headers that belong to one connection, never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** How much of an answer's end is kept to read `usage` from (it closes OpenAI answers and streams). */
const TAIL_BYTES = 4096;

class ClientGoneError extends Error {
  constructor() {
    super('client disconnected');
  }
}

/** Reads `usage.prompt_tokens` / `usage.completion_tokens` from the last `"usage"` object in `text`. */
export function readUsage(text: string): Usage | null {
  const at = text.lastIndexOf('"usage"');
  if (at < 0) return null;
  const end = text.indexOf('}', at);
  const obj = text.slice(at, end < 0 ? undefined : end);
  const prompt = /"prompt_tokens"\s*:\s*(\d+)/.exec(obj);
  const completion = /"completion_tokens"\s*:\s*(\d+)/.exec(obj);
  if (!prompt && !completion) return null;
  return { promptTokens: prompt ? Number(prompt[1]) : 0, completionTokens: completion ? Number(completion[1]) : 0 };
}

/** Reads `usage` from the end of an answer: only the bytes from its last `"usage"` on become a string. */
function usageOf(tail: Buffer): Usage | null {
  const at = tail.lastIndexOf('"usage"');
  return at < 0 ? null : readUsage(tail.toString('latin1', at));
}

/** The upstream's headers minus hop-by-hop ones (and those its `Connection` header names). */
export function answerHeaders(upstream: IncomingHttpHeaders, extra: Record<string, string>): OutgoingHttpHeaders {
  const connection = upstream.connection;
  // `keep-alive` / `close` name no header of their own; only other tokens need the split.
  const named =
    typeof connection === 'string' && connection !== 'keep-alive' && connection !== 'close'
      ? connection.toLowerCase().split(/\s*,\s*/)
      : null;
  const out: OutgoingHttpHeaders = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || HOP_BY_HOP.has(name) || (named !== null && named.includes(name))) continue;
    out[name] = value;
  }
  for (const name in extra) out[name] = extra[name];
  return out;
}

/**
 * One forwarded request: undici's dispatch handler, writing the answer into `res` as it
 * arrives. A class rather than a closure per callback: one object per request.
 */
class ForwardExchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private status: number | null = null;
  private ttfbMs = 0;
  private clientGone = false;
  /** The answer's last chunks, at least TAIL_BYTES of them once that many came (joined once, at the end). */
  private readonly tail: Buffer[] = [];
  private tailBytes = 0;
  private settled = false;
  private draining = false;
  /** Some of the body was written (so the head went with it). */
  private wrote = false;
  private readonly onClose = (): void => {
    if (this.res.writableFinished) return;
    this.clientGone = true;
    const c = this.controller;
    if (c && !c.aborted) c.abort(new ClientGoneError());
    // Not yet dispatched onto a socket: onRequestStart aborts it.
  };
  private readonly onDrain = (): void => {
    this.draining = false;
    this.controller?.resume();
  };

  constructor(
    private readonly res: ServerResponse,
    private readonly extraHeaders: Record<string, string>,
    private readonly t0: number,
    private readonly resolve: (result: ForwardResult) => void,
  ) {
    res.on('close', this.onClose);
  }

  private settle(result: ForwardResult): void {
    if (this.settled) return;
    this.settled = true;
    this.res.off('close', this.onClose);
    this.res.off('drain', this.onDrain);
    this.resolve(result);
  }

  onRequestStart(c: Dispatcher.DispatchController): void {
    this.controller = c;
    if (this.clientGone) c.abort(new ClientGoneError());
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return; // 1xx informational: the final head follows
    this.status = statusCode;
    this.ttfbMs = performance.now() - this.t0;
    const res = this.res;
    res.writeHead(statusCode, answerHeaders(headers, this.extraHeaders));
    // SSE: the head goes out now, not with the first token — unless that token came in
    // the same read (undici hands it over before the tick ends): then both leave in one write.
    if (String(headers['content-type'] ?? '').startsWith('text/event-stream')) {
      process.nextTick(() => {
        if (!this.wrote && !res.destroyed) res.flushHeaders();
      });
    }
  }

  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.status === 200) {
      const tail = this.tail;
      tail.push(chunk);
      this.tailBytes += chunk.length;
      while (this.tailBytes - tail[0].length >= TAIL_BYTES) this.tailBytes -= tail.shift()!.length;
    }
    this.wrote = true;
    if (!this.res.write(chunk) && !this.draining) {
      this.draining = true;
      c.pause();
      this.res.once('drain', this.onDrain);
    }
  }

  onResponseEnd(): void {
    this.res.end();
    const tail = this.tail;
    const usage = tail.length === 0 ? null : usageOf(tail.length === 1 ? tail[0] : Buffer.concat(tail, this.tailBytes));
    this.settle({ kind: 'completed', status: this.status ?? 502, usage, ttfbMs: this.ttfbMs });
  }

  onResponseError(_c: Dispatcher.DispatchController | null, error: Error): void {
    const { res, status } = this;
    if (this.clientGone || error instanceof ClientGoneError) {
      if (!res.destroyed) res.destroy();
      return this.settle({ kind: 'client-gone', status });
    }
    if (status === null) return this.settle({ kind: 'unreachable', error });
    // The answer has started: it cannot be retried or replaced by an error body.
    res.destroy();
    this.settle({ kind: 'broken', status, error });
  }
}

/**
 * Moves bytes between a client and an upstream: one keep-alive undici Pool per upstream
 * origin, the answer written to the client as it arrives (status, headers minus
 * hop-by-hop, body chunk by chunk with back-pressure), and the upstream request aborted
 * the moment the client goes away. Knows nothing of models or routing.
 */
@Injectable()
export class Forwarder implements OnModuleDestroy {
  private readonly pools = new Map<string, Pool>();
  private closed = false;

  /** Origins that currently have a pool (for tests and for dropping stale ones). */
  origins(): string[] {
    return [...this.pools.keys()];
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        pipelining: 1,
        // Generation may take minutes before the first byte and between tokens: the client decides.
        headersTimeout: 0,
        bodyTimeout: 0,
        connectTimeout: 5000,
        keepAliveTimeout: 4000,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /**
   * Sends `request` and streams the answer into `res`. Never rejects: the result says
   * whether anything was written, so the caller can retry elsewhere or answer an error.
   */
  forward(request: ForwardRequest, res: ServerResponse): Promise<ForwardResult> {
    if (this.closed) return Promise.resolve({ kind: 'unreachable', error: new Error('gateway is shutting down') });
    if (res.destroyed || res.writableEnded) return Promise.resolve({ kind: 'client-gone', status: null });
    return new Promise((resolve) => {
      const exchange = new ForwardExchange(res, request.answerHeaders, performance.now(), resolve);
      try {
        this.pool(request.origin).dispatch(
          {
            path: request.path,
            method: 'POST',
            headers: request.headers,
            body: request.body,
            blocking: true,
            reset: request.closeAfter === true,
          },
          exchange,
        );
      } catch (e) {
        // undici refused the request itself (e.g. a pool closing under it): nothing was sent.
        exchange.onResponseError(null, e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  /** Closes the pool of an upstream that went away; its requests in flight finish first. */
  drop(origin: string): void {
    const pool = this.pools.get(origin);
    if (!pool) return;
    this.pools.delete(origin);
    void pool.close().catch(() => undefined);
  }

  /** Keeps only the pools of `origins` (the fleet's current servers, LiteLLM). */
  retain(origins: ReadonlySet<string>): void {
    for (const origin of [...this.pools.keys()]) if (!origins.has(origin)) this.drop(origin);
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  }
}
