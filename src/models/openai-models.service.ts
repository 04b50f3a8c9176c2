import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock } from '../common/io/clock';
import { HttpClient } from '../common/io/http-client';
import { TIERS } from '../common/vocabulary/tiers';
import { LiteLlmConfig, MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { ProfilesService } from '../profiles/profiles.service';
import { failureReason, httpErrorReason, readLiteLlmModels, unexpectedAnswer } from '../providers';
import { FleetService } from '../servers/fleet.service';
import type { ServerState } from '../common/vocabulary/server-states';
import { ModelStatus, ModelsSource, OpenAiModelListDto, toOpenAiModelList } from './dto/openai-models.dto';

/** After LiteLLM failed, how long the fallback answers before LiteLLM is asked again (at most the TTL). */
const RETRY_AFTER_FAILURE_MS = 5000;

/**
 * `GET /v1/models`. With LiteLLM: its list, cached MODELS_CACHE_TTL s, concurrent callers
 * sharing one upstream call; when it fails, the last good list, else the fleet's ready models
 * plus FALLBACK_MODELS. Without LiteLLM: the fleet's models, the active profile's aliases and
 * the tiers that have a ready server.
 */
@Injectable()
export class OpenAiModelsService {
  private readonly logger = new Logger(OpenAiModelsService.name);
  private readonly litellm: LiteLlmConfig;
  private readonly timeoutMs: number;
  private readonly ttlMs: number;
  private readonly startedSec: number;
  private lastGood: { body: OpenAiModelListDto; at: number } | null = null;
  private failedAt: number | null = null;
  private inflight: Promise<OpenAiModelListDto> | null = null;

  constructor(
    private readonly http: HttpClient,
    private readonly clock: Clock,
    private readonly profiles: ProfilesService,
    private readonly fleet: FleetService,
    @Inject(magiConfig.KEY) config: MagiConfig,
  ) {
    this.litellm = config.litellm;
    this.timeoutMs = config.providers.timeoutMs;
    this.ttlMs = config.litellm.modelsCacheTtl * 1000;
    this.startedSec = Math.floor(clock.now() / 1000);
  }

  /** The model list and where it came from (for `X-Models-Source`). */
  async list(): Promise<{ source: ModelsSource; body: OpenAiModelListDto }> {
    if (!this.litellm.baseUrl) return { source: 'fleet', body: this.fleetList() };
    const now = this.clock.now();
    if (this.lastGood && now - this.lastGood.at < this.ttlMs) return { source: 'cache', body: this.lastGood.body };
    if (this.failedAt !== null && now - this.failedAt < Math.min(this.ttlMs, RETRY_AFTER_FAILURE_MS))
      return this.afterFailure();
    try {
      return { source: 'litellm', body: await this.fetchShared() };
    } catch {
      return this.afterFailure();
    }
  }

  private afterFailure(): { source: ModelsSource; body: OpenAiModelListDto } {
    if (this.lastGood) return { source: 'cache', body: this.lastGood.body };
    const entries = [...this.fleet.readyServers().map((s) => s.modelId), ...this.litellm.fallbackModels].map((id) => ({
      id,
      created: this.startedSec,
      ownedBy: 'magi',
    }));
    return { source: 'fallback', body: toOpenAiModelList(entries) };
  }

  private fetchShared(): Promise<OpenAiModelListDto> {
    this.inflight ??= this.fetchLiteLlm().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private async fetchLiteLlm(): Promise<OpenAiModelListDto> {
    const url = `${this.litellm.baseUrl}/v1/models`;
    const what = `GET ${this.http.redact(url)}`;
    try {
      const res = await this.http.request({
        url,
        headers: this.litellm.apiKey ? { Authorization: `Bearer ${this.litellm.apiKey}` } : {},
        timeoutMs: this.timeoutMs,
      });
      if (res.status !== 200) throw new Error(httpErrorReason(res, what));
      const list = readLiteLlmModels(res);
      if (!list.ok) throw new Error(unexpectedAnswer(what, list.reason));
      const body = toOpenAiModelList(
        list.value.map((m) => ({ id: m.id, created: m.created ?? this.startedSec, ownedBy: m.ownedBy ?? 'litellm' })),
      );
      if (this.failedAt !== null)
        this.logger.log({ url: this.http.redact(url), models: body.data.length }, 'LiteLLM answers /v1/models again');
      this.lastGood = { body, at: this.clock.now() };
      this.failedAt = null;
      return body;
    } catch (e) {
      if (this.failedAt === null) {
        this.logger.warn(
          { url: this.http.redact(url), error: failureReason(e), kept: this.lastGood ? 'last good list' : 'fallback' },
          'LiteLLM cannot list models',
        );
      }
      this.failedAt = this.clock.now();
      throw e;
    }
  }

  /**
   * Without LiteLLM: fleet models with their `status`, profile aliases, and the tiers a request
   * can be served by now — a ready server, or an on-demand model it would load.
   */
  private fleetList(): OpenAiModelListDto {
    const servers = this.fleet
      .list()
      .filter((s) => s.startMode === 'on_demand' || (s.state !== 'stopping' && s.state !== 'stopped'));
    const aliases = Object.keys(this.profiles.getActive().profile?.aliases ?? {});
    const servable = (s: (typeof servers)[number]): boolean =>
      s.isReady || (s.startMode === 'on_demand' && s.state !== 'failed');
    const tiers = TIERS.filter((t) => servers.some((s) => s.tier === t && servable(s)));
    const own = { created: this.startedSec, ownedBy: 'magi' };
    return toOpenAiModelList([
      ...servers.map((s) => ({ id: s.modelId, ...own, status: modelStatus(s.state) })),
      ...[...aliases, ...tiers].map((id) => ({ id, ...own })),
    ]);
  }
}

/** A fleet model's `status` in `/v1/models` (API.md §9). */
function modelStatus(state: ServerState): ModelStatus {
  if (state === 'ready') return 'loaded';
  if (state === 'queued' || state === 'starting' || state === 'restarting') return 'loading';
  return 'unloaded';
}
