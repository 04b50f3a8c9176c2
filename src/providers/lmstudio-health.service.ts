import { Inject, Injectable } from '@nestjs/common';
import { ProviderUnavailableError } from '../common/errors/app-error';
import { HttpClient } from '../common/io/http-client';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { ListedModel, readLmStudioModels, readLmStudioNative } from './fingerprints';
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

/**
 * LM Studio: `GET {LMSTUDIO_BASE_URL}/models`, an OpenAI list whose entries are
 * `owned_by: "organization_owner"`. With nothing downloaded that list is empty and proves
 * nothing, so the native `/api/v0/models` (entries with `state`) is asked instead.
 */
@Injectable()
export class LmStudioHealthService implements LlmProvider {
  readonly id = 'lmstudio' as const;
  readonly baseUrl: string;
  private readonly url: string;

  constructor(
    private readonly http: HttpClient,
    @Inject(magiConfig.KEY) config: MagiConfig,
  ) {
    this.url = config.providers.lmstudio.baseUrl.replace(/\/+$/, '');
    this.baseUrl = http.redact(this.url);
  }

  /** Checks that LM Studio answers at the base URL; the model is the first one listed. */
  async checkHealth(signal: AbortSignal): Promise<ProviderHealth> {
    const t0 = performance.now();
    try {
      const models = await this.read(signal);
      return connected(this.id, this.baseUrl, models[0]?.id ?? null, since(t0), { models: models.map((m) => m.id) });
    } catch (e) {
      return notConnected(this.id, this.baseUrl, failureReason(e), since(t0));
    }
  }

  /** The models of `/v1/models`. */
  async listModels(signal: AbortSignal): Promise<ProviderModel[]> {
    try {
      const models = await this.read(signal);
      return models.map((m) => ({ id: m.id, name: m.id, provider: this.id, size: null, modifiedAt: null }));
    } catch (e) {
      throw new ProviderUnavailableError(this.id, failureReason(e));
    }
  }

  private async read(signal: AbortSignal): Promise<ListedModel[]> {
    const res = await this.http.request({ url: joinUrl(this.url, '/models'), signal });
    const what = `GET ${this.baseUrl}/models`;
    if (res.status !== 200) throw new Error(httpErrorReason(res, what));
    const list = readLmStudioModels(res);
    if (!list.ok) throw new Error(`unexpected answer from ${what}: ${list.reason}`);
    if (list.value) return list.value;

    const nativeUrl = joinUrl(this.url.replace(/\/v1$/, ''), '/api/v0/models');
    const native = await this.http.request({ url: nativeUrl, signal });
    const nativeList = native.status === 200 ? readLmStudioNative(native) : null;
    if (!nativeList?.ok) {
      throw new Error(
        `unexpected answer from ${what}: an empty model list, and ${this.http.redact(nativeUrl)} is not LM Studio's`,
      );
    }
    return [];
  }
}
