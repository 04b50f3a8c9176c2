import { ApiProperty } from '@nestjs/swagger';

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
  entries: Array<{ id: string; created: number; ownedBy: string }>,
): OpenAiModelListDto {
  const seen = new Set<string>();
  const data: OpenAiModelDto[] = [];
  for (const e of entries) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    data.push({ id: e.id, object: 'model', created: e.created, owned_by: e.ownedBy });
  }
  return { object: 'list', data };
}
