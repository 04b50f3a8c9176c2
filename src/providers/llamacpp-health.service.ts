import { Inject, Injectable } from '@nestjs/common';
import { ProviderUnavailableError } from '../common/errors/app-error';
import { HttpClient, HttpResponse } from '../common/io/http-client';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { FleetService } from '../servers/fleet.service';
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
 * `owned_by: "llamacpp"`, the id is its `--alias`), plus the ready servers of MAGI's own
 * fleet: llama.cpp counts as connected when either serves a model.
 */
@Injectable()
export class LlamaCppHealthService implements LlmProvider {
  readonly id = 'llamacpp' as const;
  readonly baseUrl: string;
  private readonly url: string;

  constructor(
    private readonly http: HttpClient,
    private readonly fleet: FleetService,
    @Inject(magiConfig.KEY) config: MagiConfig,
  ) {
    // Given with or without /v1, like the other OpenAI-ish URLs.
    this.url = config.providers.llamacpp.baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
    this.baseUrl = http.redact(this.url);
  }

  /** Ready, loading or down, with the model id from `/v1/models`; the fleet's ready servers count too. */
  async checkHealth(signal: AbortSignal): Promise<ProviderHealth> {
    const ext = await this.readExternal(signal);
    const fleet = this.fleetServers();
    const metadata: Record<string, unknown> = {
      state: ext.state,
      models: ext.state === 'ready' ? ext.models.map((m) => m.id) : [],
      fleetServers: fleet.ready,
    };
    if (ext.state === 'ready')
      return connected(
        this.id,
        this.baseUrl,
        ext.models[0]?.id ?? fleet.ready[0]?.modelId ?? null,
        ext.latencyMs,
        metadata,
      );
    if (fleet.ready.length > 0)
      return connected(this.id, this.baseUrl, fleet.ready[0].modelId, ext.latencyMs, metadata);
    const starting = fleet.starting ? `; MAGI's fleet has no ready server yet (${fleet.starting} starting)` : '';
    return notConnected(this.id, this.baseUrl, `${ext.error}${starting}`, ext.latencyMs, metadata);
  }

  /** The models of a ready external llama-server and of the fleet's ready servers. */
  async listModels(signal: AbortSignal): Promise<ProviderModel[]> {
    const ext = await this.readExternal(signal);
    const fleet = this.fleetServers();
    if (ext.state !== 'ready' && fleet.ready.length === 0) throw new ProviderUnavailableError(this.id, ext.error);
    const models: ProviderModel[] =
      ext.state === 'ready'
        ? ext.models.map((m) => ({ id: m.id, name: m.id, provider: this.id, size: m.size, modifiedAt: null }))
        : [];
    for (const s of fleet.ready) {
      if (!models.some((m) => m.id === s.modelId))
        models.push({ id: s.modelId, name: s.modelId, provider: this.id, size: null, modifiedAt: null });
    }
    return models;
  }

  /** The fleet's ready servers (with their URLs) and how many are still starting. */
  private fleetServers(): { ready: Array<{ modelId: string; url: string }>; starting: number } {
    const ready = this.fleet
      .readyServers()
      .map((s) => ({ modelId: s.modelId, url: `http://${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}` }));
    const starting = this.fleet.list().filter((s) => s.state === 'starting' || s.state === 'restarting').length;
    return { ready, starting };
  }

  private async readExternal(signal: AbortSignal): Promise<External> {
    const t0 = performance.now();
    const get = (path: string): Promise<HttpResponse> => this.http.request({ url: joinUrl(this.url, path), signal });
    try {
      // Both at once: one round trip of waiting; /v1/models is 503 too while loading.
      const [health, models] = await Promise.all([get('/health'), get('/v1/models')]);
      const h = readLlamaHealth(health.status, health);
      if (!h.ok)
        return {
          state: 'down',
          error: `unexpected answer from GET ${this.baseUrl}/health: ${h.reason}`,
          latencyMs: since(t0),
        };
      if (h.value.state === 'loading') {
        return { state: 'loading', error: 'llama.cpp is loading the model (503 Loading model)', latencyMs: since(t0) };
      }
      if (h.value.state === 'unavailable') {
        return { state: 'down', error: `llama.cpp is unavailable: ${h.value.message}`, latencyMs: since(t0) };
      }
      const what = `GET ${this.baseUrl}/v1/models`;
      if (models.status !== 200) return { state: 'down', error: httpErrorReason(models, what), latencyMs: since(t0) };
      const list = readLlamaModels(models);
      if (!list.ok)
        return { state: 'down', error: `unexpected answer from ${what}: ${list.reason}`, latencyMs: since(t0) };
      return { state: 'ready', models: list.value, latencyMs: since(t0) };
    } catch (e) {
      return { state: 'down', error: failureReason(e), latencyMs: since(t0) };
    }
  }
}
