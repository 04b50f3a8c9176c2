import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { BearerAuthService } from '../common/auth/bearer-auth.service';
import { toAppError, writeError } from '../common/errors/error-writer';
import { AppError, PayloadTooLargeError } from '../common/errors/app-error';
import { observeHttpRequest } from '../metrics/http-metrics.middleware';
import { MetricsService } from '../metrics/metrics.service';
import { GATEWAY_PATHS } from './gateway-paths';
import type { GatewayEndpoint } from './route';
import { GatewayService } from './gateway.service';

const ENDPOINTS = new Map<string, GatewayEndpoint>(
  Object.entries(GATEWAY_PATHS).map(([endpoint, path]) => [path, endpoint as GatewayEndpoint]),
);

/**
 * The gateway route a request path names, in every spelling Express's router would also
 * match (any letter case, one trailing slash), so no request for these routes reaches Express.
 */
export function gatewayEndpointOf(path: string): GatewayEndpoint | undefined {
  const exact = ENDPOINTS.get(path);
  if (exact !== undefined || path.length > 40) return exact;
  return ENDPOINTS.get(path.toLowerCase().replace(/\/$/, ''));
}

export interface GatewayListenerOptions {
  gateway: GatewayService;
  auth: BearerAuthService;
  metrics: MetricsService;
  /** GATEWAY_MAX_BODY_MB in bytes. */
  maxBodyBytes: number;
}

class UnsupportedEncodingError extends AppError {
  constructor(encoding: string) {
    super(
      'UnsupportedMediaType',
      415,
      `Content-Encoding '${encoding.slice(0, 40)}' is not supported: send the body uncompressed`,
      {},
      'unsupported_content_encoding',
    );
  }
}

/**
 * Reads a request body as bytes, at most `limit` of them, and hands it to `done` (or the
 * error to `fail`). Past the limit the rest is read and dropped (so the 413 reaches a
 * client that is still sending), never kept. A client that goes away before the end is
 * simply never answered: `end` does not come.
 */
function readBody(req: IncomingMessage, limit: number, done: (body: Buffer) => void, fail: (e: unknown) => void): void {
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    req.resume();
    return fail(new UnsupportedEncodingError(encoding));
  }
  const declared = Number(req.headers['content-length']);
  if (declared > limit) {
    req.resume();
    return fail(new PayloadTooLargeError());
  }
  let first: Buffer | null = null;
  let more: Buffer[] | null = null;
  let size = 0;
  const onData = (chunk: Buffer): void => {
    size += chunk.length;
    if (size > limit) {
      req.off('data', onData);
      req.off('end', onEnd);
      req.resume();
      fail(new PayloadTooLargeError());
    } else if (first === null) first = chunk;
    else (more ??= [first]).push(chunk);
  };
  const onEnd = (): void => done(more !== null ? Buffer.concat(more, size) : (first ?? Buffer.alloc(0)));
  req.on('data', onData);
  req.on('end', onEnd);
}

/**
 * The one way into the gateway's three POST routes: Node's `request` event, ahead of
 * Express. Only what the routes need runs — the bearer check (the same BearerAuthService
 * as every other route), the HTTP duration metric, the body read with its limit — then
 * GatewayService, which logs its own line. Measured against a real llama-server, Nest's
 * Express pipeline on these routes cost a visible share of throughput (BENCHMARKS.md,
 * "Gateway decisions"). GatewayController declares the same routes for Swagger and is
 * never reached for them.
 */
export function gatewayRequestHandler(
  options: GatewayListenerOptions,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { gateway, auth, metrics, maxBodyBytes } = options;
  const fail = (req: IncomingMessage, res: ServerResponse, e: unknown): void => writeError(req, res, toAppError(e));
  return (req, res) => {
    if (req.method !== 'POST') return false;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const endpoint = gatewayEndpointOf(path);
    if (endpoint === undefined) return false;
    observeHttpRequest(metrics, 'POST', res, () => GATEWAY_PATHS[endpoint]);
    try {
      auth.authorize(path, req.headers.authorization);
    } catch (e) {
      req.resume();
      fail(req, res, e);
      return true;
    }
    const onError = (e: unknown): void => fail(req, res, e);
    readBody(req, maxBodyBytes, (body) => void gateway.proxy(endpoint, body, res).catch(onError), onError);
    return true;
  };
}

/** Puts the gateway's handler in front of the server's own request listener (Express). */
export function installGatewayListener(server: Server, options: GatewayListenerOptions): void {
  const handler = gatewayRequestHandler(options);
  const rest = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (handler(req, res)) return;
    for (const listener of rest) listener.call(server, req, res);
  });
}
