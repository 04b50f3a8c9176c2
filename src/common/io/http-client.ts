import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import axios, { AxiosError, AxiosInstance, AxiosResponse } from 'axios';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Readable } from 'node:stream';
import { MagiConfig } from '../../config/magi-config';
import { magiConfig } from '../../config/magi-config.provider';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD';

export interface HttpRequest {
  method?: HttpMethod;
  url: string;
  headers?: Record<string, string>;
  /** Sent as JSON. */
  body?: unknown;
  /** Aborts the request (and the body of a stream) when it fires. */
  signal?: AbortSignal;
  /** Per-call timeout; combined with `signal`. */
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  /** The body as text. Error answers (status >= 400) are already redacted. */
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
  latencyMs: number;
}

export interface HttpStreamResponse {
  status: number;
  headers: Record<string, string>;
  /** The raw body; destroyed when the request's signal fires. */
  body: Readable;
}

export type HttpFailureKind = 'timeout' | 'aborted' | 'connection' | 'other';

/**
 * A request that got no HTTP answer (refused, reset, DNS, timeout, aborted). The message
 * names the method and URL with secrets removed and never carries the axios error,
 * whose config holds the request headers.
 */
export class HttpError extends Error {
  constructor(
    readonly kind: HttpFailureKind,
    /** e.g. `ECONNREFUSED` */
    readonly code: string | undefined,
    /** The URL with secrets removed. */
    readonly url: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

const SECRET_PATTERNS: Array<[RegExp, string]> = [
  // Authorization values
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=*-]+/gi, '$1 [redacted]'],
  // key=…, api_key=…, token=… in query strings and form-like text
  [/\b((?:api[_-]?)?key|token|access_token|secret|password)=([^&\s"'#]+)/gi, '$1=[redacted]'],
  // user:password@ in URLs
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s@:]+:[^/\s@]+@/gi, '$1[redacted]@'],
  // OpenAI/LiteLLM style keys, including the masked forms upstreams echo (sk-ab****wxyz, sk-...wxyz)
  [/\bsk-[A-Za-z0-9*._-]{3,}/g, 'sk-[redacted]'],
];

/** Removes the given secrets and anything that looks like a credential from `text`. */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('[redacted]');
  for (const [re, to] of SECRET_PATTERNS) out = out.replace(re, to);
  return out;
}

/**
 * The outbound HTTP port: one axios instance (own agents, no redirects, no throwing
 * on HTTP error statuses), per-call timeout through AbortSignal, and every secret removed
 * from what it logs or puts into an error.
 */
export abstract class HttpClient {
  /** Sends a request and reads the whole body; resolves for every HTTP status. */
  abstract request(req: HttpRequest): Promise<HttpResponse>;
  /** Sends a request and hands back the body as a stream (Ollama's NDJSON pull). */
  abstract stream(req: HttpRequest): Promise<HttpStreamResponse>;
  /** Text with configured secrets and credential-looking strings removed. */
  abstract redact(text: string): string;
}

function lowerHeaders(h: AxiosResponse['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {}))
    if (v != null) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  return out;
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  const c = text.trimStart()[0];
  if (c !== '{' && c !== '[' && c !== '"') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;

@Injectable()
export class AxiosHttpClient extends HttpClient implements OnModuleDestroy {
  private readonly logger = new Logger(AxiosHttpClient.name);
  // No keep-alive: these calls are occasional (checks are cached), and a pooled socket the
  // upstream closed meanwhile would turn into a false "connection reset".
  private readonly httpAgent = new http.Agent({ keepAlive: false, maxSockets: 64 });
  private readonly httpsAgent = new https.Agent({ keepAlive: false, maxSockets: 64 });
  private readonly axios: AxiosInstance;
  private readonly secrets: string[];

  constructor(@Inject(magiConfig.KEY) config: MagiConfig) {
    super();
    this.secrets = [config.providers.openai.apiKey, config.litellm.apiKey, ...config.auth.apiTokens].filter(
      (s): s is string => typeof s === 'string' && s.length > 0,
    );
    this.axios = axios.create({
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      // Following a redirect could carry an Authorization header to another host.
      maxRedirects: 0,
      validateStatus: () => true,
      maxContentLength: MAX_BODY_BYTES,
      transitional: { silentJSONParsing: true, forcedJSONParsing: false, clarifyTimeoutError: true },
    });
  }

  redact(text: string): string {
    return redactSecrets(text, this.secrets);
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const started = performance.now();
    const { signal, cleanup } = this.signalFor(req);
    try {
      const res = await this.axios.request<string>({
        method: req.method ?? 'GET',
        url: req.url,
        headers: this.headersFor(req),
        data: req.body === undefined ? undefined : JSON.stringify(req.body),
        responseType: 'text',
        transformResponse: [(d: unknown) => d],
        signal,
      });
      const latencyMs = Math.round(performance.now() - started);
      let text = typeof res.data === 'string' ? res.data : res.data == null ? '' : String(res.data);
      if (res.status >= 400) text = this.redact(text);
      this.logger.debug(
        { method: req.method ?? 'GET', url: this.redact(req.url), status: res.status, latencyMs },
        'Upstream answered',
      );
      return { status: res.status, headers: lowerHeaders(res.headers), text, json: parseJson(text), latencyMs };
    } catch (e) {
      throw this.failure(e, req, signal);
    } finally {
      cleanup();
    }
  }

  async stream(req: HttpRequest): Promise<HttpStreamResponse> {
    const { signal, cleanup } = this.signalFor(req);
    try {
      const res = await this.axios.request<Readable>({
        method: req.method ?? 'GET',
        url: req.url,
        headers: this.headersFor(req),
        data: req.body === undefined ? undefined : JSON.stringify(req.body),
        responseType: 'stream',
        signal,
      });
      const body = res.data;
      // The per-call timeout bounds the wait for the answer's head only; the caller's
      // signal keeps bounding the body.
      cleanup();
      if (req.signal) {
        const onAbort = (): void => {
          body.destroy(
            new HttpError(
              'aborted',
              undefined,
              this.redact(req.url),
              `${req.method ?? 'GET'} ${this.redact(req.url)} aborted`,
            ),
          );
        };
        if (req.signal.aborted) onAbort();
        else {
          req.signal.addEventListener('abort', onAbort, { once: true });
          body.once('close', () => req.signal?.removeEventListener('abort', onAbort));
        }
      }
      this.logger.debug(
        { method: req.method ?? 'GET', url: this.redact(req.url), status: res.status },
        'Upstream stream started',
      );
      return { status: res.status, headers: lowerHeaders(res.headers), body };
    } catch (e) {
      cleanup();
      throw this.failure(e, req, signal);
    }
  }

  onModuleDestroy(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private headersFor(req: HttpRequest): Record<string, string> {
    const headers: Record<string, string> = { Accept: 'application/json, text/plain, */*', ...(req.headers ?? {}) };
    if (req.body !== undefined) headers['Content-Type'] ??= 'application/json';
    return headers;
  }

  private signalFor(req: HttpRequest): { signal: AbortSignal | undefined; cleanup: () => void } {
    if (!req.timeoutMs) return { signal: req.signal, cleanup: () => undefined };
    const ctrl = new AbortController();
    const timer = setTimeout(
      () => ctrl.abort(new DOMException(`timed out after ${req.timeoutMs} ms`, 'TimeoutError')),
      req.timeoutMs,
    );
    const onAbort = (): void => ctrl.abort(req.signal?.reason);
    if (req.signal?.aborted) onAbort();
    else req.signal?.addEventListener('abort', onAbort, { once: true });
    return {
      signal: ctrl.signal,
      cleanup: () => {
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
      },
    };
  }

  private failure(e: unknown, req: HttpRequest, signal: AbortSignal | undefined): HttpError {
    const url = this.redact(req.url);
    const what = `${req.method ?? 'GET'} ${url}`;
    if (e instanceof HttpError) return e;
    const reason: unknown = signal?.reason;
    if (signal?.aborted) {
      const isTimeout = reason instanceof DOMException && reason.name === 'TimeoutError';
      const text = isTimeout ? reason.message : 'aborted';
      return new HttpError(isTimeout ? 'timeout' : 'aborted', undefined, url, `${what} ${text}`);
    }
    const ax = e as AxiosError;
    const code = ax?.code ?? (ax?.cause as { code?: string } | undefined)?.code;
    const known: Record<string, [HttpFailureKind, string]> = {
      ECONNREFUSED: ['connection', 'connection refused'],
      ECONNRESET: ['connection', 'connection reset'],
      EPIPE: ['connection', 'connection reset'],
      ENOTFOUND: ['connection', 'host not found'],
      EAI_AGAIN: ['connection', 'host not found'],
      EHOSTUNREACH: ['connection', 'host unreachable'],
      ENETUNREACH: ['connection', 'network unreachable'],
      ETIMEDOUT: ['timeout', 'timed out'],
      ECONNABORTED: ['timeout', 'timed out'],
      ERR_CANCELED: ['aborted', 'aborted'],
      ERR_BAD_RESPONSE: ['other', 'invalid HTTP answer'],
      ERR_FR_MAX_BODY_LENGTH_EXCEEDED: ['other', 'answer too large'],
      HPE_INVALID_CONSTANT: ['other', 'invalid HTTP answer'],
    };
    const [kind, text] = (code && known[code]) || ['other', this.redact(ax?.message ?? String(e))];
    return new HttpError(kind, code, url, `${what} failed: ${text}${code && known[code] ? ` (${code})` : ''}`);
  }
}
