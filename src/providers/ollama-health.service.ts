import { Inject, Injectable } from '@nestjs/common';
import { HttpClient } from '../common/io/http-client';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { ProviderHealth, ProviderModel, httpErrorReason, unexpectedAnswer } from './llm-provider';
import { OllamaTag, readOllamaTags, readOllamaVersion } from './provider-answers';
import { ProviderHealthCheck } from './provider-health-check';

/**
 * Ollama: `GET /api/tags` (the models) and `GET /api/version`, asked together. Both must
 * carry Ollama's shape: a llama-server also answers `/api/tags`, but with an OpenAI list
 * beside it and no `/api/version`.
 */
@Injectable()
export class OllamaHealthService extends ProviderHealthCheck {
  readonly id = 'ollama' as const;

  constructor(http: HttpClient, @Inject(magiConfig.KEY) config: MagiConfig) {
    super(http, config.providers.ollama.baseUrl);
  }

  /** Checks that an Ollama answers at the base URL and reads its models and version. */
  async checkHealth(signal: AbortSignal): Promise<ProviderHealth> {
    const r = await this.timed(() => this.read(signal));
    if (!r.ok) return this.notConnected(r.error, r.latencyMs);
    const { tags, version } = r.value;
    return this.connected(tags[0]?.name ?? null, r.latencyMs, {
      version,
      modelCount: tags.length,
      models: tags.map((t) => t.name),
    });
  }

  /** The models of `/api/tags`. */
  listModels(signal: AbortSignal): Promise<ProviderModel[]> {
    return this.listed(
      () => this.read(signal),
      ({ tags }) =>
        tags.map((t) => ({ id: t.name, name: t.name, provider: this.id, size: t.size, modifiedAt: t.modifiedAt })),
    );
  }

  private async read(signal: AbortSignal): Promise<{ tags: OllamaTag[]; version: string }> {
    const [tagsRes, versionRes] = await Promise.all([this.get('/api/tags', signal), this.get('/api/version', signal)]);
    const what = `GET ${this.baseUrl}`;
    if (tagsRes.status !== 200) throw new Error(httpErrorReason(tagsRes, `${what}/api/tags`));
    const tags = readOllamaTags(tagsRes);
    if (!tags.ok) throw new Error(unexpectedAnswer(`${what}/api/tags`, tags.reason));
    const version = readOllamaVersion(versionRes);
    if (!version.ok) throw new Error(unexpectedAnswer(`${what}/api/version`, version.reason));
    return { tags: tags.value, version: version.value };
  }
}
