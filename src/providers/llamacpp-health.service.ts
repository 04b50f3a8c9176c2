import { Inject, Injectable } from '@nestjs/common';
import { ProviderUnavailableError } from '../common/errors/app-error';
import { HttpClient } from '../common/io/http-client';
import { httpOrigin } from '../common/net/host';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { FleetService } from '../servers/fleet.service';
import { ProviderHealth, ProviderModel, httpErrorReason, unexpectedAnswer } from './llm-provider';
import { ListedModel, readLlamaHealth, readLlamaModels } from './provider-answers';
import { ProviderHealthCheck } from './provider-health-check';

/** What the external llama-server said: ready with its models, or loading (a throw is down). */
type ExternalAnswer = { state: 'ready'; models: ListedModel[] } | { state: 'loading'; error: string };

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
export class LlamaCppHealthService extends ProviderHealthCheck {
  readonly id = 'llamacpp' as const;

  constructor(
    http: HttpClient,
    private readonly fleet: FleetService,
    @Inject(magiConfig.KEY) config: MagiConfig,
  ) {
    // Given with or without /v1, like the other OpenAI-ish URLs.
    super(http, config.providers.llamacpp.baseUrl.replace(/\/+$/, '').replace(/\/v1$/, ''));
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
      return this.connected(ext.models[0]?.id ?? fleet.ready[0]?.modelId ?? null, ext.latencyMs, metadata);
    if (fleet.ready.length > 0) return this.connected(fleet.ready[0].modelId, ext.latencyMs, metadata);
    const starting = fleet.starting ? `; MAGI's fleet has no ready server yet (${fleet.starting} starting)` : '';
    return this.notConnected(`${ext.error}${starting}`, ext.latencyMs, metadata);
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
    const ready = this.fleet.readyServers().map((s) => ({ modelId: s.modelId, url: httpOrigin(s.host, s.port) }));
    const starting = this.fleet.list().filter((s) => s.state === 'starting' || s.state === 'restarting').length;
    return { ready, starting };
  }

  private async readExternal(signal: AbortSignal): Promise<External> {
    const r = await this.timed(() => this.read(signal));
    if (!r.ok) return { state: 'down', error: r.error, latencyMs: r.latencyMs };
    return { ...r.value, latencyMs: r.latencyMs };
  }

  /** Throws with the reason when the external server is down or is not a llama-server. */
  private async read(signal: AbortSignal): Promise<ExternalAnswer> {
    // Both at once: one round trip of waiting; /v1/models is 503 too while loading.
    const [health, models] = await Promise.all([this.get('/health', signal), this.get('/v1/models', signal)]);
    const h = readLlamaHealth(health.status, health);
    if (!h.ok) throw new Error(unexpectedAnswer(`GET ${this.baseUrl}/health`, h.reason));
    if (h.value.state === 'loading')
      return { state: 'loading', error: 'llama.cpp is loading the model (503 Loading model)' };
    if (h.value.state === 'unavailable') throw new Error(`llama.cpp is unavailable: ${h.value.message}`);
    const what = `GET ${this.baseUrl}/v1/models`;
    if (models.status !== 200) throw new Error(httpErrorReason(models, what));
    const list = readLlamaModels(models);
    if (!list.ok) throw new Error(unexpectedAnswer(what, list.reason));
    return { state: 'ready', models: list.value };
  }
}
