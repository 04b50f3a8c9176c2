import { Inject, Injectable } from '@nestjs/common';
import { ProviderUnavailableError } from '../common/errors/app-error';
import { HttpClient, HttpResponse } from '../common/io/http-client';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { ListedModel, readLlamaHealth, readLlamaModels } from './fingerprints';
import {
  LlmProvider,
  ProviderHealth,
  ProviderModel,
  connected,
  failureReason,
  httpErrorReason,
  joinUrl,
  notConnected,
  since,
} from './llm-provider';

type External =
  | { state: 'ready'; models: ListedModel[]; latencyMs: number }
  | { state: 'loading' | 'down'; error: string; latencyMs: number };

/**
 * llama.cpp: an external llama-server at LLAMACPP_BASE_URL, read through `GET /health`
 * (200 ready, 503 `Loading model` while it loads) and `GET /v1/models` (entries
 * `owned_by: "llamacpp"`, the id is its `--alias`).
 */
@Injectable()
export class LlamaCppHealthService implements LlmProvider {
  readonly id = 'llamacpp' as const;
  readonly baseUrl: string;
  private readonly url: string;

  constructor(
    private readonly http: HttpClient,
    @Inject(magiConfig.KEY) config: MagiConfig,
  ) {
    // Given with or without /v1, like the other OpenAI-ish URLs.
    this.url = config.providers.llamacpp.baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
    this.baseUrl = http.redact(this.url);
  }

  /** Ready, loading or down, with the model id from `/v1/models`. */
  async checkHealth(signal: AbortSignal): Promise<ProviderHealth> {
    const ext = await this.readExternal(signal);
    if (ext.state === 'ready') {
      return connected(this.id, this.baseUrl, ext.models[0]?.id ?? null, ext.latencyMs, {
        state: 'ready',
        models: ext.models.map((m) => m.id),
      });
    }
    return notConnected(this.id, this.baseUrl, ext.error, ext.latencyMs, { state: ext.state });
  }

  /** The models of a ready llama-server. */
  async listModels(signal: AbortSignal): Promise<ProviderModel[]> {
    const ext = await this.readExternal(signal);
    if (ext.state !== 'ready') throw new ProviderUnavailableError(this.id, ext.error);
    return ext.models.map((m) => ({ id: m.id, name: m.id, provider: this.id, size: m.size, modifiedAt: null }));
  }

  private async readExternal(signal: AbortSignal): Promise<External> {
    const t0 = performance.now();
    const get = (path: string): Promise<HttpResponse> => this.http.request({ url: joinUrl(this.url, path), signal });
    try {
      // Both at once: one round trip of waiting; /v1/models is 503 too while loading.
      const [health, models] = await Promise.all([get('/health'), get('/v1/models')]);
      const h = readLlamaHealth(health.status, health);
      if (!h.ok) return { state: 'down', error: `unexpected answer from GET ${this.baseUrl}/health: ${h.reason}`, latencyMs: since(t0) };
      if (h.value.state === 'loading') {
        return { state: 'loading', error: 'llama.cpp is loading the model (503 Loading model)', latencyMs: since(t0) };
      }
      if (h.value.state === 'unavailable') {
        return { state: 'down', error: `llama.cpp is unavailable: ${h.value.message}`, latencyMs: since(t0) };
      }
      const what = `GET ${this.baseUrl}/v1/models`;
      if (models.status !== 200) return { state: 'down', error: httpErrorReason(models, what), latencyMs: since(t0) };
      const list = readLlamaModels(models);
      if (!list.ok) return { state: 'down', error: `unexpected answer from ${what}: ${list.reason}`, latencyMs: since(t0) };
      return { state: 'ready', models: list.value, latencyMs: since(t0) };
    } catch (e) {
      return { state: 'down', error: failureReason(e), latencyMs: since(t0) };
    }
  }
}
