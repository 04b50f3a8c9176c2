import { ApiProperty } from '@nestjs/swagger';
import { LLM_PROVIDER_CHOICES, LLM_PROVIDER_NAMES } from '../../config/magi-config';
import type { ActiveProvider } from '../provider-status.service';
import { NO_PROVIDERS_AVAILABLE } from '../provider-status.service';

export class LlmStatusDto {
  /** The provider in use (the configured one, or the one `auto` picked); `auto` when `auto` found none. */
  @ApiProperty({ enum: LLM_PROVIDER_CHOICES, example: 'ollama' })
  provider: string;
  /**
   * True when that provider answered with its own fingerprint.
   * @example true
   */
  connected: boolean;
  /**
   * The model the provider offers (OpenAI: OPENAI_MODEL), or null.
   * @example llama3.2:latest
   */
  modelName: string | null;
  /**
   * Why it is not connected; null when it is.
   * @example "connect ECONNREFUSED 127.0.0.1:11434"
   */
  error: string | null;
  /** Every provider MAGI knows, in the `auto` order. */
  @ApiProperty({ type: [String], enum: LLM_PROVIDER_NAMES, example: [...LLM_PROVIDER_NAMES] })
  availableProviders: string[];
  /** Provider facts (version, models, base URL, latency); for `auto` with none up, each provider's error under `tried`. */
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: { llmProvider: 'auto', baseUrl: 'http://localhost:11434', latencyMs: 4, version: '0.12.6' },
  })
  metadata: Record<string, unknown>;
}

/** Maps the active provider to the `/api/llm-status` answer. */
export function toLlmStatusDto(active: ActiveProvider): LlmStatusDto {
  const h = active.health;
  const base = { llmProvider: active.choice };
  if (!h) {
    return {
      provider: 'auto',
      connected: false,
      modelName: null,
      error: NO_PROVIDERS_AVAILABLE,
      availableProviders: [...LLM_PROVIDER_NAMES],
      metadata: { ...base, tried: Object.fromEntries(active.checked.map((c) => [c.name, c.error])) },
    };
  }
  return {
    provider: h.name,
    connected: h.connected,
    modelName: h.modelId,
    error: h.error,
    availableProviders: [...LLM_PROVIDER_NAMES],
    metadata: { ...base, baseUrl: h.baseUrl, latencyMs: h.latencyMs, ...h.metadata },
  };
}
