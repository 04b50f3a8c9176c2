import { Inject, Injectable } from '@nestjs/common';
import { ProviderUnavailableError } from '../common/errors/app-error';
import { HttpClient } from '../common/io/http-client';
import { MagiConfig, OpenAiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { ProviderHealth, ProviderModel, httpErrorReason, unexpectedAnswer } from './llm-provider';
import { ListedModel, readOpenAiModels } from './provider-answers';
import { ProviderHealthCheck } from './provider-health-check';

const NO_KEY = 'OPENAI_API_KEY is not set';

/**
 * OpenAI: connected when an API key is configured; the key is checked with a real
 * `GET {OPENAI_BASE_URL}/models` only when OPENAI_VERIFY is true (health checks are
 * frequent and OpenAI is a paid, remote API). The model is OPENAI_MODEL.
 */
@Injectable()
export class OpenAiHealthService extends ProviderHealthCheck {
  readonly id = 'openai' as const;
  private readonly config: OpenAiConfig;

  constructor(http: HttpClient, @Inject(magiConfig.KEY) config: MagiConfig) {
    super(http, config.providers.openai.baseUrl);
    this.config = config.providers.openai;
  }

  /** True when an API key is configured (OpenAI takes part in `auto` only then). */
  get hasKey(): boolean {
    return !!this.config.apiKey;
  }

  /** Connected with a key; with OPENAI_VERIFY the key and the model are checked against `/models`. */
  async checkHealth(signal: AbortSignal): Promise<ProviderHealth> {
    if (!this.hasKey) return this.notConnected(NO_KEY, null, { verified: false });
    if (!this.config.verify) return this.connected(this.config.model, null, { verified: false });
    const r = await this.timed(() => this.read(signal));
    if (!r.ok) return this.notConnected(r.error, r.latencyMs, { verified: true });
    const available = r.value.some((m) => m.id === this.config.model);
    const health = this.connected(this.config.model, r.latencyMs, {
      verified: true,
      modelAvailable: available,
      modelCount: r.value.length,
    });
    return { ...health, modelDetected: available };
  }

  /** The models the key can use, from `GET /models`. */
  listModels(signal: AbortSignal): Promise<ProviderModel[]> {
    if (!this.hasKey) return Promise.reject(new ProviderUnavailableError(this.id, NO_KEY));
    return this.listed(
      () => this.read(signal),
      (models) =>
        models.map((m) => ({
          id: m.id,
          name: m.id,
          provider: this.id,
          size: null,
          modifiedAt: m.created === null ? null : new Date(m.created * 1000).toISOString(),
        })),
    );
  }

  private async read(signal: AbortSignal): Promise<ListedModel[]> {
    const res = await this.get('/models', signal, { Authorization: `Bearer ${this.config.apiKey}` });
    const what = `GET ${this.baseUrl}/models`;
    if (res.status === 401) throw new Error(`OpenAI rejected the API key (${httpErrorReason(res, what)})`);
    if (res.status !== 200) throw new Error(httpErrorReason(res, what));
    const list = readOpenAiModels(res);
    if (!list.ok) throw new Error(unexpectedAnswer(what, list.reason));
    return list.value;
  }
}
