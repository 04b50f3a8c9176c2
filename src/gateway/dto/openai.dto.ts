/**
 * OpenAI request and answer bodies of the gateway, for the OpenAPI document. The gateway
 * does not validate these: a body goes upstream as sent (only `model` is replaced), so
 * every other OpenAI or llama.cpp parameter passes through. Keys are OpenAI's own
 * (snake_case), as OpenAI SDKs send and expect them.
 */
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class ChatMessageDto {
  /** @example user */
  @ApiProperty({ enum: ['system', 'user', 'assistant', 'tool', 'developer'] })
  role: string;
  /**
   * Text, or an array of content parts.
   * @example Say hello in five words.
   */
  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'object' } }] })
  content: string | unknown[];
}

export class StreamOptionsDto {
  /**
   * Add a final chunk carrying `usage` before `data: [DONE]`.
   * @example true
   */
  include_usage?: boolean;
}

export class ChatCompletionRequestDto {
  /**
   * An alias of the active profile, a registry model id or a tier (`fast`, `balanced`,
   * `powerful`); other names go to LiteLLM when configured, else 404.
   * @example fast
   */
  model: string;
  /** The conversation. */
  messages: ChatMessageDto[];
  /**
   * Answer as server-sent events, chunk by chunk as the server writes them.
   * @example false
   */
  stream?: boolean;
  /** Streaming options. */
  stream_options?: StreamOptionsDto;
  /**
   * Upper bound of generated tokens.
   * @example 64
   */
  max_tokens?: number;
  /**
   * Sampling temperature.
   * @example 0.7
   */
  temperature?: number;
}

export class CompletionRequestDto {
  /**
   * An alias of the active profile, a registry model id or a tier.
   * @example qwen3_4b_q4km
   */
  model: string;
  /**
   * The prompt (a string or an array of strings).
   * @example Once upon a time
   */
  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] })
  prompt: string | string[];
  /**
   * Answer as server-sent events.
   * @example false
   */
  stream?: boolean;
  /**
   * Upper bound of generated tokens.
   * @example 64
   */
  max_tokens?: number;
}

export class EmbeddingRequestDto {
  /**
   * An alias, model id or tier served by a profile whose `server.embeddings` is true.
   * @example nomic_embed_text_v1_5_f16
   */
  model: string;
  /**
   * Text (or texts) to embed.
   * @example The quick brown fox
   */
  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] })
  input: string | string[];
  /**
   * `float` (default) or `base64`.
   * @example float
   */
  encoding_format?: string;
}

export class UsageDto {
  /** @example 12 */
  prompt_tokens: number;
  /** @example 5 */
  completion_tokens?: number;
  /** @example 17 */
  total_tokens: number;
}

export class ChatChoiceMessageDto {
  /** @example assistant */
  role: string;
  /** @example Hello there, how are you? */
  content: string | null;
}

export class ChatChoiceDto {
  /** @example 0 */
  index: number;
  /** The generated message. */
  message: ChatChoiceMessageDto;
  /** @example stop */
  finish_reason: string | null;
}

export class ChatCompletionDto {
  /** @example chatcmpl-3K5vQ2mX9 */
  id: string;
  /** @example chat.completion */
  object: string;
  /**
   * Unix seconds.
   * @example 1767225600
   */
  created: number;
  /**
   * The server's alias: the registry model id that answered.
   * @example qwen3_4b_q4km
   */
  model: string;
  /** Generated choices. */
  choices: ChatChoiceDto[];
  /** Token counts. */
  usage: UsageDto;
}

export class CompletionChoiceDto {
  /** @example 0 */
  index: number;
  /** @example , there was a fox. */
  text: string;
  /** @example stop */
  finish_reason: string | null;
}

export class CompletionDto {
  /** @example cmpl-3K5vQ2mX9 */
  id: string;
  /** @example text_completion */
  object: string;
  /** @example 1767225600 */
  created: number;
  /** @example qwen3_4b_q4km */
  model: string;
  /** Generated choices. */
  choices: CompletionChoiceDto[];
  /** Token counts. */
  usage: UsageDto;
}

export class EmbeddingDto {
  /** @example embedding */
  object: string;
  /** @example 0 */
  index: number;
  /** @example [0.0123, -0.0456, 0.0789] */
  @ApiProperty({ type: [Number] })
  embedding: number[];
}

export class EmbeddingListDto {
  /** @example list */
  object: string;
  /** One vector per input. */
  data: EmbeddingDto[];
  /** @example nomic_embed_text_v1_5_f16 */
  model: string;
  /** Token counts. */
  @ApiPropertyOptional({ type: UsageDto })
  usage?: UsageDto;
}
