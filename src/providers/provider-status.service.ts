import { Inject, Injectable, Logger } from '@nestjs/common';
import { ProviderUnavailableError } from '../common/errors/app-error';
import { Clock } from '../common/io/clock';
import { LLM_PROVIDER_NAMES, LlmProviderChoice, LlmProviderName, MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { LLM_PROVIDERS, LlmProvider, ProviderHealth, ProviderModel, failureReason, notConnected } from './llm-provider';

export const NO_PROVIDERS_AVAILABLE = 'No providers available';

/** The provider the API works with right now. */
export interface ActiveProvider {
  /** LLM_PROVIDER as configured. */
  choice: LlmProviderChoice;
  /** The provider in use: the configured one, or the one `auto` picked; null when `auto` found none. */
  name: LlmProviderName | null;
  /** Its health; null when `auto` found none. */
  health: ProviderHealth | null;
  /** Every provider that was checked to decide (for `auto`, the whole auto order). */
  checked: ProviderHealth[];
}

interface CacheEntry {
  value?: ProviderHealth;
  at: number;
  inflight?: Promise<ProviderHealth>;
}

/**
 * Fans the health checks out to the providers: each bounded by PROVIDER_TIMEOUT_MS (its
 * request is aborted), results reused for PROVIDER_CACHE_MS, concurrent callers sharing
 * one in-flight check per provider. Owns the one `auto` order: OpenAI (only with a key),
 * LM Studio, Ollama, llama.cpp.
 */
@Injectable()
export class ProviderStatusService {
  private readonly logger = new Logger(ProviderStatusService.name);
  private readonly byName: Map<LlmProviderName, LlmProvider>;
  private readonly cache = new Map<LlmProviderName, CacheEntry>();
  private readonly choice: LlmProviderChoice;
  private readonly timeoutMs: number;
  private readonly cacheMs: number;
  private readonly openAiKeySet: boolean;

  constructor(
    @Inject(LLM_PROVIDERS) providers: LlmProvider[],
    @Inject(magiConfig.KEY) config: MagiConfig,
    private readonly clock: Clock,
  ) {
    this.byName = new Map(providers.map((p) => [p.id, p]));
    for (const name of LLM_PROVIDER_NAMES)
      if (!this.byName.has(name)) throw new Error(`No LlmProvider registered for ${name}`);
    this.choice = config.providers.llmProvider;
    this.timeoutMs = config.providers.timeoutMs;
    this.cacheMs = config.providers.cacheMs;
    this.openAiKeySet = !!config.providers.openai.apiKey;
  }

  /** LLM_PROVIDER as configured (`auto` or a provider name). */
  get configured(): LlmProviderChoice {
    return this.choice;
  }

  /** Every provider name, in the canonical order of answers. */
  get names(): LlmProviderName[] {
    return [...LLM_PROVIDER_NAMES];
  }

  /** The order `auto` tries: OpenAI only when a key is set, then LM Studio, Ollama, llama.cpp. */
  autoOrder(): LlmProviderName[] {
    return LLM_PROVIDER_NAMES.filter((n) => n !== 'openai' || this.openAiKeySet);
  }

  /** One provider's health: cached, shared while in flight, never slower than one timeout. */
  status(name: LlmProviderName): Promise<ProviderHealth> {
    const entry = this.cache.get(name);
    const now = this.clock.now();
    if (entry?.inflight) return entry.inflight;
    if (entry?.value && now - entry.at < this.cacheMs) return Promise.resolve(entry.value);
    const inflight = this.runCheck(name).then((value) => {
      this.noteChange(entry?.value, value);
      this.cache.set(name, { value, at: this.clock.now() });
      return value;
    });
    this.cache.set(name, { value: entry?.value, at: entry?.at ?? 0, inflight });
    return inflight;
  }

  /** Every provider's health, checked concurrently, in the canonical order. */
  statusAll(): Promise<ProviderHealth[]> {
    return this.statuses(this.names);
  }

  /** The configured provider, or for `auto` the first connected one in the auto order. */
  async active(): Promise<ActiveProvider> {
    if (this.choice !== 'auto') {
      const health = await this.status(this.choice);
      return { choice: this.choice, name: this.choice, health, checked: [health] };
    }
    return this.pickAuto(await this.statuses(this.autoOrder()));
  }

  /** All four providers and the active one, from one round of checks. */
  async overview(): Promise<{ all: ProviderHealth[]; active: ActiveProvider }> {
    const all = await this.statusAll();
    if (this.choice !== 'auto') {
      const health = all.find((h) => h.name === this.choice)!;
      return { all, active: { choice: this.choice, name: this.choice, health, checked: [health] } };
    }
    // `all` is in the canonical order, which is the auto order.
    const order = this.autoOrder();
    return { all, active: this.pickAuto(all.filter((h) => order.includes(h.name))) };
  }

  /**
   * The models of the active provider, the listing bounded by one timeout. Throws
   * ProviderUnavailableError when there is none (`auto`) or it cannot list them.
   */
  async listActiveModels(): Promise<{ provider: LlmProviderName; models: ProviderModel[] }> {
    // A configured provider is asked directly (its list says as much as a check would).
    const name = this.choice !== 'auto' ? this.choice : (await this.active()).name;
    if (!name) throw new ProviderUnavailableError('auto', NO_PROVIDERS_AVAILABLE);
    const provider = this.provider(name);
    const models = await this.bounded<ProviderModel[]>(
      (signal) => provider.listModels(signal),
      () => new ProviderUnavailableError(provider.id, `listing models timed out after ${this.timeoutMs} ms`),
    );
    return { provider: provider.id, models };
  }

  /** The provider service itself (its base URL, its list). */
  provider(name: LlmProviderName): LlmProvider {
    return this.byName.get(name)!;
  }

  private async statuses(names: LlmProviderName[]): Promise<ProviderHealth[]> {
    const settled = await Promise.allSettled(names.map((n) => this.status(n)));
    return settled.map((r, i) => (r.status === 'fulfilled' ? r.value : this.failed(names[i], r.reason, null)));
  }

  private pickAuto(checked: ProviderHealth[]): ActiveProvider {
    const first = checked.find((h) => h.connected) ?? null;
    return { choice: 'auto', name: first?.name ?? null, health: first, checked };
  }

  private runCheck(name: LlmProviderName): Promise<ProviderHealth> {
    const provider = this.provider(name);
    return this.bounded(
      (signal) => provider.checkHealth(signal),
      () => notConnected(name, provider.baseUrl, `health check timed out after ${this.timeoutMs} ms`, this.timeoutMs),
    ).catch((e: unknown) => this.failed(name, e, null));
  }

  /**
   * Runs `fn` with a signal that aborts after PROVIDER_TIMEOUT_MS, and settles at that
   * moment even if `fn` ignores its signal: `onTimeout()` becomes the result (or is thrown).
   */
  private bounded<T>(fn: (signal: AbortSignal) => Promise<T>, onTimeout: () => T | Error): Promise<T> {
    const ctrl = new AbortController();
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        ctrl.abort(new DOMException(`timed out after ${this.timeoutMs} ms`, 'TimeoutError'));
        const r = onTimeout();
        if (r instanceof Error) reject(r);
        else resolve(r);
      }, this.timeoutMs);
      fn(ctrl.signal).then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  private failed(name: LlmProviderName, e: unknown, latencyMs: number | null): ProviderHealth {
    return notConnected(name, this.provider(name).baseUrl, failureReason(e), latencyMs);
  }

  /** Logs a provider going up or down (not every check: they repeat every few seconds). */
  private noteChange(before: ProviderHealth | undefined, after: ProviderHealth): void {
    if (before && before.connected === after.connected && before.modelId === after.modelId) return;
    const fields = { provider: after.name, baseUrl: after.baseUrl, modelId: after.modelId, latencyMs: after.latencyMs };
    if (after.connected) this.logger.log(fields, 'Provider is connected');
    else if (before?.connected || after.name !== 'openai' || this.openAiKeySet) {
      this.logger.log({ ...fields, error: after.error }, 'Provider is not connected');
    }
  }
}
