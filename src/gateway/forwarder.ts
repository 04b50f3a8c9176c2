import { Injectable, OnModuleDestroy } from '@nestjs/common';
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Dispatcher, Pool } from 'undici';

/** One request to send upstream. The body is sent as it is. */
export interface ForwardRequest {
  /** `http://host:port` (or LiteLLM's origin). */
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  /** Added to the answer's headers (X-Magi-Model, X-Magi-Upstream). */
  answerHeaders: Record<string, string>;
}

/** Token counts read from an answer's `usage`. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

export type ForwardResult =
  /** The upstream answered and the whole answer was passed on. */
  | { outcome: 'completed'; status: number; usage: Usage | null; ttfbMs: number }
  /** Nothing was received and nothing written to the client: the request may go elsewhere. */
  | { outcome: 'unreachable'; error: Error }
  /** The answer had started when the upstream failed; the client connection was cut. */
  | { outcome: 'broken'; status: number; error: Error }
  /** The client went away; the upstream request was aborted. */
  | { outcome: 'client-gone'; status: number | null };

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

/** The upstream's headers minus hop-by-hop ones (and those its `Connection` header names). */
export function answerHeaders(upstream: IncomingHttpHeaders, extra: Record<string, string>): OutgoingHttpHeaders {
  const named = typeof upstream.connection === 'string' ? upstream.connection.toLowerCase().split(/\s*,\s*/) : [];
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.includes(name)) continue;
    out[name] = value;
  }
  return Object.assign(out, extra);
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
   * Sends `request` and streams the answer into `res`. Never throws: the outcome says
   * whether anything was written, so the caller can retry elsewhere or answer an error.
   */
  forward(request: ForwardRequest, res: ServerResponse): Promise<ForwardResult> {
    if (this.closed) return Promise.resolve({ outcome: 'unreachable', error: new Error('gateway is shutting down') });
    if (res.destroyed || res.writableEnded) return Promise.resolve({ outcome: 'client-gone', status: null });
    const t0 = performance.now();
    return new Promise<ForwardResult>((resolve) => {
      let controller: Dispatcher.DispatchController | null = null;
      let status: number | null = null;
      let ttfbMs = 0;
      let clientGone = false;
      // The answer's last chunks, at least TAIL_BYTES of them once that many came (joined once, at the end).
      const tail: Buffer[] = [];
      let tailBytes = 0;
      let settled = false;

      const settle = (result: ForwardResult): void => {
        if (settled) return;
        settled = true;
        res.off('close', onClose);
        res.off('drain', onDrain);
        resolve(result);
      };
      const onClose = (): void => {
        if (res.writableFinished) return;
        clientGone = true;
        if (controller && !controller.aborted) controller.abort(new ClientGoneError());
        // Not yet dispatched onto a socket: onRequestStart aborts it.
      };
      let draining = false;
      /** Some of the body was written (so the head went with it). */
      let wrote = false;
      const onDrain = (): void => {
        draining = false;
        controller?.resume();
      };
      res.on('close', onClose);

      const handler: Dispatcher.DispatchHandler = {
        onRequestStart(c) {
          controller = c;
          if (clientGone) c.abort(new ClientGoneError());
        },
        onResponseStart(c, statusCode, headers) {
          if (statusCode < 200) return; // 1xx informational: the final head follows
          status = statusCode;
          ttfbMs = performance.now() - t0;
          res.writeHead(statusCode, answerHeaders(headers, request.answerHeaders));
          // SSE: the head goes out now, not with the first token — unless that token came in
          // the same read (undici hands it over before the tick ends): then both leave in one write.
          if (String(headers['content-type'] ?? '').startsWith('text/event-stream')) {
            process.nextTick(() => {
              if (!wrote && !res.destroyed) res.flushHeaders();
            });
          }
        },
        onResponseData(c, chunk) {
          if (status === 200) {
            tail.push(chunk);
            tailBytes += chunk.length;
            while (tailBytes - tail[0].length >= TAIL_BYTES) tailBytes -= tail.shift()!.length;
          }
          wrote = true;
          if (!res.write(chunk) && !draining) {
            draining = true;
            c.pause();
            res.once('drain', onDrain);
          }
        },
        onResponseEnd() {
          res.end();
          const usage = tail.length > 0 ? readUsage(Buffer.concat(tail, tailBytes).toString('latin1', Math.max(0, tailBytes - TAIL_BYTES))) : null;
          settle({ outcome: 'completed', status: status ?? 502, usage, ttfbMs });
        },
        onResponseError(_c, error) {
          if (clientGone || error instanceof ClientGoneError) {
            if (!res.destroyed) res.destroy();
            return settle({ outcome: 'client-gone', status });
          }
          if (status === null) return settle({ outcome: 'unreachable', error });
          // The answer has started: it cannot be retried or replaced by an error body.
          res.destroy();
          settle({ outcome: 'broken', status, error });
        },
      };
      this.pool(request.origin).dispatch(
        { path: request.path, method: 'POST', headers: request.headers, body: request.body, blocking: true },
        handler,
      );
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
