import { ProviderUnavailableError } from '../common/errors/app-error';
import { HttpClient, HttpResponse } from '../common/io/http-client';
import type { LlmProviderName } from '../config/magi-config';
import {
  LlmProvider,
  ProviderHealth,
  ProviderModel,
  connected,
  failureReason,
  joinUrl,
  notConnected,
  since,
} from './llm-provider';

/** What a timed read found: its value, or the reason it failed; with the time it took either way. */
export type TimedRead<T> = { ok: true; value: T; latencyMs: number } | { ok: false; error: string; latencyMs: number };

/**
 * What the four provider services repeat: the base URL (trailing slashes cut; secrets
 * redacted for answers and logs), GETs below it, a read timed and its failure turned
 * into a reason, the health results, and a listing failure as ProviderUnavailableError.
 * It holds only the HttpClient every provider uses: each service injects the rest itself.
 */
export abstract class ProviderHealthCheck implements LlmProvider {
  abstract readonly id: LlmProviderName;
  /** The configured base URL with secrets removed (for answers and logs). */
  readonly baseUrl: string;
  /** The configured base URL without trailing slashes, secrets included (for requests only). */
  protected readonly url: string;

  protected constructor(
    protected readonly http: HttpClient,
    url: string,
  ) {
    this.url = url.replace(/\/+$/, '');
    this.baseUrl = http.redact(this.url);
  }

  abstract checkHealth(signal: AbortSignal): Promise<ProviderHealth>;
  abstract listModels(signal: AbortSignal): Promise<ProviderModel[]>;

  /** `GET {url}{path}`, aborted with `signal`. */
  protected get(path: string, signal: AbortSignal, headers?: Record<string, string>): Promise<HttpResponse> {
    return this.http.request({ url: joinUrl(this.url, path), headers, signal });
  }

  /** Runs `read` and times it; a throw becomes its reason (never a rejection). */
  protected async timed<T>(read: () => Promise<T>): Promise<TimedRead<T>> {
    const t0 = performance.now();
    try {
      const value = await read();
      return { ok: true, value, latencyMs: since(t0) };
    } catch (e) {
      return { ok: false, error: failureReason(e), latencyMs: since(t0) };
    }
  }

  /** A `connected: true` result for this provider. */
  protected connected(
    modelId: string | null,
    latencyMs: number | null,
    metadata: Record<string, unknown> = {},
  ): ProviderHealth {
    return connected(this.id, this.baseUrl, modelId, latencyMs, metadata);
  }

  /** A `connected: false` result for this provider. */
  protected notConnected(
    error: string,
    latencyMs: number | null,
    metadata: Record<string, unknown> = {},
  ): ProviderHealth {
    return notConnected(this.id, this.baseUrl, error, latencyMs, metadata);
  }

  /** The models `read` finds, mapped; a failure becomes ProviderUnavailableError with its reason. */
  protected async listed<T>(read: () => Promise<T>, toModels: (value: T) => ProviderModel[]): Promise<ProviderModel[]> {
    let value: T;
    try {
      value = await read();
    } catch (e) {
      throw new ProviderUnavailableError(this.id, failureReason(e));
    }
    return toModels(value);
  }
}
