import { HttpError, HttpResponse } from '../common/io/http-client';
import type { LlmProviderName } from '../config/magi-config';

/** Token under which ProvidersModule gathers every LlmProvider, in the canonical order. */
export const LLM_PROVIDERS = Symbol('LLM_PROVIDERS');

/** What one provider's health check found (API.md §3). */
export interface ProviderHealth {
  name: LlmProviderName;
  /** True only when the answer carried this provider's fingerprint. */
  connected: boolean;
  /** True when a model was found (or, for OpenAI, configured). */
  modelDetected: boolean;
  modelId: string | null;
  /** The configured base URL, secrets removed. */
  baseUrl: string;
  /** Why it is not connected; null when it is. */
  error: string | null;
  /** Time the check took, ms; null when no request was made. */
  latencyMs: number | null;
  /** Provider-specific facts (version, model list, state); camelCase keys. */
  metadata: Record<string, unknown>;
}

/** One model as a provider lists it. */
export interface ProviderModel {
  id: string;
  name: string;
  provider: LlmProviderName;
  /** Bytes, when the provider says. */
  size: number | null;
  /** ISO 8601, when the provider says. */
  modifiedAt: string | null;
}

/** One LLM backend: its own base URL, quirks and fingerprint. */
export interface LlmProvider {
  readonly id: LlmProviderName;
  /** The configured base URL with secrets removed (for answers and logs). */
  readonly baseUrl: string;
  /** Never rejects for an upstream problem: a failure is `connected: false` with the reason. */
  checkHealth(signal: AbortSignal): Promise<ProviderHealth>;
  /** Rejects with ProviderUnavailableError when the models cannot be listed. */
  listModels(signal: AbortSignal): Promise<ProviderModel[]>;
}

/** A `connected: false` result. */
export function notConnected(
  name: LlmProviderName,
  baseUrl: string,
  error: string,
  latencyMs: number | null,
  metadata: Record<string, unknown> = {},
): ProviderHealth {
  return { name, connected: false, modelDetected: false, modelId: null, baseUrl, error, latencyMs, metadata };
}

/** A `connected: true` result. */
export function connected(
  name: LlmProviderName,
  baseUrl: string,
  modelId: string | null,
  latencyMs: number | null,
  metadata: Record<string, unknown> = {},
): ProviderHealth {
  return { name, connected: true, modelDetected: modelId !== null, modelId, baseUrl, error: null, latencyMs, metadata };
}

/** The reason a request failed, ready for an `error` field (HttpError messages are already redacted). */
export function failureReason(e: unknown): string {
  if (e instanceof HttpError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** `HTTP 500 from GET url: <upstream message>` for an answer with an error status. */
export function httpErrorReason(res: HttpResponse, what: string): string {
  return `HTTP ${res.status} from ${what}${upstreamMessage(res) ? `: ${upstreamMessage(res)}` : ''}`;
}

/** `unexpected answer from GET url: <why>` for an answer that is not the provider's. */
export function unexpectedAnswer(what: string, reason: string): string {
  return `unexpected answer from ${what}: ${reason}`;
}

/** The error text an upstream put into its answer (`error`, `error.message`, `detail`), else the start of the body. */
export function upstreamMessage(res: Pick<HttpResponse, 'json' | 'text'>): string {
  const j = res.json as Record<string, unknown> | undefined;
  if (j && typeof j === 'object') {
    const e = j.error;
    if (typeof e === 'string') return e;
    if (e && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string')
      return (e as { message: string }).message;
    if (typeof j.detail === 'string') return j.detail;
    if (typeof j.message === 'string') return j.message;
  }
  const text = res.text.trim();
  if (!text || text.startsWith('<')) return '';
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** Milliseconds since `t0` (performance.now()), rounded. */
export function since(t0: number): number {
  return Math.round(performance.now() - t0);
}

/** `base` without trailing slashes, joined with `path`. */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path.startsWith('/') ? path : `/${path}`}`;
}
