import { Inject, Injectable } from '@nestjs/common';
import { ProviderUnavailableError } from '../common/errors/app-error';
import { HttpClient } from '../common/io/http-client';
import { MagiConfig, OpenAiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { ListedModel, readOpenAiModels } from './fingerprints';
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

const NO_KEY = 'OPENAI_API_KEY is not set';

/**
 * OpenAI: connected when an API key is configured; the key is checked with a real
 * `GET {OPENAI_BASE_URL}/models` only when OPENAI_VERIFY is true (health checks are
 * frequent and OpenAI is a paid, remote API). The model is OPENAI_MODEL.
 */
@Injectable()
export class OpenAiHealthService implements LlmProvider {
  readonly id = 'openai' as const;
  readonly baseUrl: string;
  private readonly config: OpenAiConfig;
  private readonly url: string;

  constructor(
    private readonly http: HttpClient,
    @Inject(magiConfig.KEY) config: MagiConfig,
  ) {
    this.config = config.providers.openai;
    this.url = this.config.baseUrl.replace(/\/+$/, '');
    this.baseUrl = http.redact(this.url);
  }

  /** True when an API key is configured (OpenAI takes part in `auto` only then). */
  get hasKey(): boolean {
    return !!this.config.apiKey;
  }

  /** Connected with a key; with OPENAI_VERIFY the key and the model are checked against `/models`. */
  async checkHealth(signal: AbortSignal): Promise<ProviderHealth> {
    if (!this.hasKey) return notConnected(this.id, this.baseUrl, NO_KEY, null, { verified: false });
    if (!this.config.verify) return connected(this.id, this.baseUrl, this.config.model, null, { verified: false });
    const t0 = performance.now();
    try {
      const models = await this.read(signal);
      const available = models.some((m) => m.id === this.config.model);
      const health = connected(this.id, this.baseUrl, this.config.model, since(t0), {
        verified: true,
        modelAvailable: available,
        modelCount: models.length,
      });
      return { ...health, modelDetected: available };
    } catch (e) {
      return notConnected(this.id, this.baseUrl, failureReason(e), since(t0), { verified: true });
    }
  }

  /** The models the key can use, from `GET /models`. */
  async listModels(signal: AbortSignal): Promise<ProviderModel[]> {
    if (!this.hasKey) throw new ProviderUnavailableError(this.id, NO_KEY);
    try {
      const models = await this.read(signal);
      return models.map((m) => ({
        id: m.id,
        name: m.id,
        provider: this.id,
        size: null,
        modifiedAt: m.created === null ? null : new Date(m.created * 1000).toISOString(),
      }));
    } catch (e) {
      throw new ProviderUnavailableError(this.id, failureReason(e));
    }
  }

  private async read(signal: AbortSignal): Promise<ListedModel[]> {
    const res = await this.http.request({
      url: joinUrl(this.url, '/models'),
      headers: { Authorization: `Bearer ${this.config.apiKey}` },
      signal,
    });
    const what = `GET ${this.baseUrl}/models`;
    if (res.status === 401) throw new Error(`OpenAI rejected the API key (${httpErrorReason(res, what)})`);
    if (res.status !== 200) throw new Error(httpErrorReason(res, what));
    const list = readOpenAiModels(res);
    if (!list.ok) throw new Error(`unexpected answer from ${what}: ${list.reason}`);
    return list.value;
  }
}
