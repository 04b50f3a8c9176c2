import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { Readable } from 'node:stream';
import { Agent, Dispatcher, errors } from 'undici';

export interface HubHttpRequest {
  method: 'GET' | 'HEAD';
  url: string;
  headers: Record<string, string>;
  /** Aborts the request and destroys its body. */
  signal?: AbortSignal;
}

export interface HubHttpResponse {
  status: number;
  /** Lower-case names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  /** The body as bytes arrive; destroyed when the signal fires. Consume or destroy it. */
  body: Readable;
}

/**
 * A request that got no HTTP answer, or whose body broke off: refused, reset, timed out,
 * aborted. `retryable` is true for what a retry can cure (everything but an abort).
 */
export class HubTransportError extends Error {
  constructor(
    readonly code: string,
    readonly retryable: boolean,
    message: string,
  ) {
    super(message);
    this.name = 'HubTransportError';
  }
}

/**
 * The hub's HTTP port: one exchange, no redirect followed (the caller decides where the
 * token may go), the body as a stream with back-pressure. Thin on purpose: URLs, tokens,
 * redirects and retries are HubClient's.
 */
export abstract class HubHttp {
  abstract send(req: HubHttpRequest): Promise<HubHttpResponse>;
}

/** No byte for this long on an open transfer counts as a dropped connection. */
const STALL_MS = 30_000;

/** Maps what undici throws to a HubTransportError naming the code, without any header. */
export function transportError(e: unknown, signal?: AbortSignal): HubTransportError {
  if (signal?.aborted) return new HubTransportError('ABORTED', false, 'request aborted');
  const err = e as { code?: string; message?: string; name?: string };
  const code =
    err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError
      ? 'ETIMEDOUT'
      : (err?.code ?? err?.name ?? 'EUNKNOWN');
  return new HubTransportError(code, true, `${code}: ${err?.message ?? String(e)}`);
}

@Injectable()
export class UndiciHubHttp extends HubHttp implements OnApplicationShutdown {
  // One keep-alive pool per origin (a listing makes a few ranged reads per file on the file
  // host); undici follows no redirect without its redirect interceptor, which is not added.
  private readonly agent = new Agent({
    connections: 16,
    keepAliveTimeout: 10_000,
    headersTimeout: STALL_MS,
    bodyTimeout: STALL_MS,
  });

  async send(req: HubHttpRequest): Promise<HubHttpResponse> {
    let res: Dispatcher.ResponseData;
    try {
      res = await this.agent.request({
        origin: new URL(req.url).origin,
        path: pathAndQuery(req.url),
        method: req.method,
        headers: req.headers,
        signal: req.signal,
      });
    } catch (e) {
      throw transportError(e, req.signal);
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) {
      if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
    }
    return { status: res.statusCode, headers, body: res.body };
  }

  /** After the downloads have stopped (their onModuleDestroy), so no transfer sees its socket vanish first. */
  async onApplicationShutdown(): Promise<void> {
    await this.agent.destroy().catch(() => undefined);
  }
}

function pathAndQuery(url: string): string {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
}
