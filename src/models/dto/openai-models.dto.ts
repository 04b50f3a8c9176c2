import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** Whether a fleet model's server is up, as `/v1/models` says. */
export const MODEL_STATUSES = ['loaded', 'loading', 'unloaded'] as const;
export type ModelStatus = (typeof MODEL_STATUSES)[number];

/** One model in OpenAI's list shape (OpenAI's own snake_case keys). */
export class OpenAiModelDto {
  /**
   * Model id to put in `model` of a request: a LiteLLM model, a fleet model id, a profile alias or a tier.
   * @example qwen3_4b_q4km
   */
  id: string;
  /** Always `model`. */
  @ApiProperty({ enum: ['model'], example: 'model' })
  object: 'model';
  /**
   * Unix seconds (LiteLLM's constant, or when MAGI started for its own entries).
   * @example 1677610602
   */
  created: number;
  /**
   * Owner as the source says (`openai` from LiteLLM; `magi` for the fleet, aliases, tiers and fallbacks).
   * @example magi
   */
  owned_by: string;
  /** Fleet models only: `loaded` (its server is ready), `loading` (queued or starting) or `unloaded` (a request would load it, or it is down). */
  @ApiPropertyOptional({ enum: MODEL_STATUSES, example: 'loaded' })
  status?: ModelStatus;
}

/** OpenAI's model list. */
export class OpenAiModelListDto {
  /** Always `list`. */
  @ApiProperty({ enum: ['list'], example: 'list' })
  object: 'list';
  /** The models. */
  data: OpenAiModelDto[];
}

/** Where a `/v1/models` answer came from, sent as `X-Models-Source`. */
export const MODELS_SOURCES = ['litellm', 'cache', 'fallback', 'fleet'] as const;
export type ModelsSource = (typeof MODELS_SOURCES)[number];

/** Builds the list from ids, skipping repeats, keeping the first occurrence. */
export function toOpenAiModelList(
  entries: Array<{ id: string; created: number; ownedBy: string; status?: ModelStatus }>,
): OpenAiModelListDto {
  const seen = new Set<string>();
  const data: OpenAiModelDto[] = [];
  for (const e of entries) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    const entry: OpenAiModelDto = { id: e.id, object: 'model', created: e.created, owned_by: e.ownedBy };
    if (e.status) entry.status = e.status;
    data.push(entry);
  }
  return { object: 'list', data };
}
