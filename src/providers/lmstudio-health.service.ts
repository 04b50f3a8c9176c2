import { Inject, Injectable } from '@nestjs/common';
import { HttpClient } from '../common/io/http-client';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { ProviderHealth, ProviderModel, httpErrorReason, joinUrl, unexpectedAnswer } from './llm-provider';
import { ListedModel, readLmStudioModels, readLmStudioNative } from './provider-answers';
import { ProviderHealthCheck } from './provider-health-check';

/**
 * LM Studio: `GET {LMSTUDIO_BASE_URL}/models`, an OpenAI list whose entries are
 * `owned_by: "organization_owner"`. With nothing downloaded that list is empty and proves
 * nothing, so the native `/api/v0/models` (entries with `state`) is asked instead.
 */
@Injectable()
export class LmStudioHealthService extends ProviderHealthCheck {
  readonly id = 'lmstudio' as const;

  constructor(http: HttpClient, @Inject(magiConfig.KEY) config: MagiConfig) {
    super(http, config.providers.lmstudio.baseUrl);
  }

  /** Checks that LM Studio answers at the base URL; the model is the first one listed. */
  async checkHealth(signal: AbortSignal): Promise<ProviderHealth> {
    const r = await this.timed(() => this.read(signal));
    if (!r.ok) return this.notConnected(r.error, r.latencyMs);
    return this.connected(r.value[0]?.id ?? null, r.latencyMs, { models: r.value.map((m) => m.id) });
  }

  /** The models of `/v1/models`. */
  listModels(signal: AbortSignal): Promise<ProviderModel[]> {
    return this.listed(
      () => this.read(signal),
      (models) => models.map((m) => ({ id: m.id, name: m.id, provider: this.id, size: null, modifiedAt: null })),
    );
  }

  private async read(signal: AbortSignal): Promise<ListedModel[]> {
    const res = await this.get('/models', signal);
    const what = `GET ${this.baseUrl}/models`;
    if (res.status !== 200) throw new Error(httpErrorReason(res, what));
    const list = readLmStudioModels(res);
    if (!list.ok) throw new Error(unexpectedAnswer(what, list.reason));
    if (list.value) return list.value;

    const nativeUrl = joinUrl(this.url.replace(/\/v1$/, ''), '/api/v0/models');
    const native = await this.http.request({ url: nativeUrl, signal });
    const nativeList = native.status === 200 ? readLmStudioNative(native) : null;
    if (!nativeList?.ok) {
      throw new Error(
        unexpectedAnswer(what, `an empty model list, and ${this.http.redact(nativeUrl)} is not LM Studio's`),
      );
    }
    return [];
  }
}
