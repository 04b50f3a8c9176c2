import { ApiProperty } from '@nestjs/swagger';
import { LLM_PROVIDER_CHOICES, LLM_PROVIDER_NAMES } from '../../config/magi-config';
import { NO_PROVIDERS_AVAILABLE } from '../../providers';
import type { ActiveProvider, ProviderHealth, ProviderModel } from '../../providers';

export class ProviderModelDto {
  /**
   * Model id as the provider names it.
   * @example llama3.2:latest
   */
  id: string;
  /**
   * Display name.
   * @example llama3.2:latest
   */
  name: string;
  /** The provider that lists it. */
  @ApiProperty({ enum: LLM_PROVIDER_NAMES, example: 'ollama' })
  provider: string;
  /**
   * Size in bytes, when the provider says; else null.
   * @example 2019393189
   */
  size: number | null;
  /**
   * Last modification (ISO 8601), when the provider says; else null.
   * @example 2025-05-04T17:37:44.706015396-07:00
   */
  modifiedAt: string | null;
}

export class ModelListDto {
  /** The active provider. */
  @ApiProperty({ enum: LLM_PROVIDER_NAMES, example: 'ollama' })
  provider: string;
  /** Its models. */
  models: ProviderModelDto[];
}

export class ProviderSummaryDto {
  /** Provider name. */
  @ApiProperty({ enum: LLM_PROVIDER_NAMES, example: 'ollama' })
  name: string;
  /**
   * True only when it answered with its own fingerprint.
   * @example true
   */
  connected: boolean;
  /**
   * Its model (first listed; OpenAI: OPENAI_MODEL), or null.
   * @example llama3.2:latest
   */
  model: string | null;
  /**
   * Why it is not connected (refused, timed out, unexpected answer, loading); null when it is.
   * @example "timed out after 2000 ms"
   */
  error: string | null;
  /**
   * Configured base URL, secrets removed.
   * @example http://localhost:11434
   */
  baseUrl: string;
  /**
   * Time the check took in ms; null when no request was made (OpenAI without OPENAI_VERIFY).
   * @example 4
   */
  latencyMs: number | null;
}

export class ProvidersOverviewDto {
  /** The provider in use: the configured one, or the one `auto` picked (`auto` when none is up). */
  @ApiProperty({ enum: LLM_PROVIDER_CHOICES, example: 'ollama' })
  activeProvider: string;
  /** All four providers, in the `auto` order, each checked concurrently within one timeout. */
  providers: ProviderSummaryDto[];
}

export class ModelsHealthDto {
  /** The active provider (`auto` when none is up). */
  @ApiProperty({ enum: LLM_PROVIDER_CHOICES, example: 'ollama' })
  provider: string;
  /**
   * True when the active provider is connected.
   * @example true
   */
  healthy: boolean;
  /**
   * Its model, or null.
   * @example llama3.2:latest
   */
  model: string | null;
  /**
   * Why it is not healthy; null when it is.
   * @example "connect ECONNREFUSED 127.0.0.1:11434"
   */
  error: string | null;
  /** Provider facts (base URL, latency, version, models). */
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: { baseUrl: 'http://localhost:11434', latencyMs: 4, version: '0.12.6' },
  })
  metadata: Record<string, unknown>;
}

export class PullResultDto {
  /** Always `success` (failures are error answers). */
  @ApiProperty({ enum: ['success'], example: 'success', description: 'Always `success` (failures are error answers).' })
  status: 'success';
  /**
   * The model pulled.
   * @example library/llama3.2:1b
   */
  model: string;
  /**
   * What happened.
   * @example "Model library/llama3.2:1b pulled"
   */
  message: string;
}

/** Data of an unnamed SSE event of a streamed pull. */
export class PullProgressDto {
  /**
   * Ollama's step.
   * @example "pulling 74701a8c35f6"
   */
  status: string;
  /**
   * Layer digest, once known.
   * @example sha256:74701a8c35f6c8d9a4b91f3f3497643001d63e0c7a84e085bed452548fa88d45
   */
  digest: string | null;
  /**
   * Layer size in bytes, once known.
   * @example 1321082688
   */
  total: number | null;
  /**
   * Bytes of the layer done, once known.
   * @example 241970
   */
  completed: number | null;
  /**
   * 0–100 once `total` is known, else null.
   * @example 0
   */
  percent: number | null;
}

/** Data of the closing `event: error` of a streamed pull. */
export class PullErrorEventDto {
  /**
   * Error type.
   * @example UpstreamError
   */
  error: string;
  /**
   * Ollama's own error text, with context.
   * @example "Ollama failed to pull llama3.2:1b: max retries exceeded: unexpected EOF"
   */
  message: string;
}

/** Maps `GET /api/models`. */
export function toModelListDto(r: { provider: string; models: ProviderModel[] }): ModelListDto {
  return {
    provider: r.provider,
    models: r.models.map((m) => ({
      id: m.id,
      name: m.name,
      provider: m.provider,
      size: m.size,
      modifiedAt: m.modifiedAt,
    })),
  };
}

const summary = (h: ProviderHealth): ProviderSummaryDto => ({
  name: h.name,
  connected: h.connected,
  model: h.modelId,
  error: h.error,
  baseUrl: h.baseUrl,
  latencyMs: h.latencyMs,
});

/** Maps `GET /api/models/providers`. */
export function toProvidersOverviewDto(all: ProviderHealth[], active: ActiveProvider): ProvidersOverviewDto {
  return { activeProvider: active.name ?? 'auto', providers: all.map(summary) };
}

/** Maps `GET /api/models/health`. */
export function toModelsHealthDto(active: ActiveProvider): ModelsHealthDto {
  const h = active.health;
  if (!h) {
    return {
      provider: 'auto',
      healthy: false,
      model: null,
      error: NO_PROVIDERS_AVAILABLE,
      metadata: { llmProvider: active.choice, tried: Object.fromEntries(active.checked.map((c) => [c.name, c.error])) },
    };
  }
  return {
    provider: h.name,
    healthy: h.connected,
    model: h.modelId,
    error: h.error,
    metadata: { llmProvider: active.choice, baseUrl: h.baseUrl, latencyMs: h.latencyMs, ...h.metadata },
  };
}
