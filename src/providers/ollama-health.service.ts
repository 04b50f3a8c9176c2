import { Inject, Injectable } from '@nestjs/common';
import { ProviderUnavailableError } from '../common/errors/app-error';
import { HttpClient, HttpResponse } from '../common/io/http-client';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { readOllamaTags, readOllamaVersion, OllamaTag } from './fingerprints';
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
 * Ollama: `GET /api/tags` (the models) and `GET /api/version`, asked together. Both must
 * carry Ollama's shape: a llama-server also answers `/api/tags`, but with an OpenAI list
 * beside it and no `/api/version`.
 */
@Injectable()
export class OllamaHealthService implements LlmProvider {
  readonly id = 'ollama' as const;
  readonly baseUrl: string;
  private readonly url: string;

  constructor(
    private readonly http: HttpClient,
    @Inject(magiConfig.KEY) config: MagiConfig,
  ) {
    this.url = config.providers.ollama.baseUrl.replace(/\/+$/, '');
    this.baseUrl = http.redact(this.url);
  }

  /** Checks that an Ollama answers at the base URL and reads its models and version. */
  async checkHealth(signal: AbortSignal): Promise<ProviderHealth> {
    const t0 = performance.now();
    try {
      const { tags, version } = await this.read(signal);
      return connected(this.id, this.baseUrl, tags[0]?.name ?? null, since(t0), {
        version,
        modelCount: tags.length,
        models: tags.map((t) => t.name),
      });
    } catch (e) {
      return notConnected(this.id, this.baseUrl, failureReason(e), since(t0));
    }
  }

  /** The models of `/api/tags`. */
  async listModels(signal: AbortSignal): Promise<ProviderModel[]> {
    try {
      const { tags } = await this.read(signal);
      return tags.map((t) => ({ id: t.name, name: t.name, provider: this.id, size: t.size, modifiedAt: t.modifiedAt }));
    } catch (e) {
      throw new ProviderUnavailableError(this.id, failureReason(e));
    }
  }

  private async read(signal: AbortSignal): Promise<{ tags: OllamaTag[]; version: string }> {
    const get = (path: string): Promise<HttpResponse> => this.http.request({ url: joinUrl(this.url, path), signal });
    const [tagsRes, versionRes] = await Promise.all([get('/api/tags'), get('/api/version')]);
    const what = `GET ${this.baseUrl}`;
    if (tagsRes.status !== 200) throw new Error(httpErrorReason(tagsRes, `${what}/api/tags`));
    const tags = readOllamaTags(tagsRes);
    if (!tags.ok) throw new Error(`unexpected answer from ${what}/api/tags: ${tags.reason}`);
    const version = readOllamaVersion(versionRes);
    if (!version.ok) throw new Error(`unexpected answer from ${what}/api/version: ${version.reason}`);
    return { tags: tags.value, version: version.value };
  }
}
