/**
 * OpenAI request and answer bodies of the gateway, for the OpenAPI document. The gateway
 * does not validate these: a body goes upstream as sent (only `model` is replaced), so
 * every other OpenAI or llama.cpp parameter passes through. Keys are OpenAI's own
 * (snake_case), as OpenAI SDKs send and expect them.
 */
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class ChatMessageDto {
  /**
   * Author of the message: `system`, `user` or `assistant`.
   * @example user
   */
  @ApiProperty({
    enum: ['system', 'user', 'assistant', 'tool', 'developer'],
    description: 'Author of the message.',
    example: 'user',
  })
  role: string;
  /**
   * Text, or an array of content parts.
   * @example "Say hello in five words."
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
   * @example "Once upon a time"
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
   * @example "The quick brown fox"
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
  /**
   * Tokens in the prompt.
   * @example 12
   */
  prompt_tokens: number;
  /**
   * Tokens generated.
   * @example 5
   */
  completion_tokens?: number;
  /**
   * Prompt and generated tokens together.
   * @example 17
   */
  total_tokens: number;
}

export class ChatChoiceMessageDto {
  /**
   * Author of the message: `system`, `user` or `assistant`.
   * @example assistant
   */
  role: string;
  /**
   * The text of the message.
   * @example "Hello there, how are you?"
   */
  content: string | null;
}

export class ChatChoiceDto {
  /**
   * Position of this item in the list.
   * @example 0
   */
  index: number;
  /** The generated message. */
  message: ChatChoiceMessageDto;
  /**
   * Why generation stopped: `stop`, `length`, or null while streaming.
   * @example stop
   */
  finish_reason: string | null;
}

export class ChatCompletionDto {
  /**
   * Identifier the server gave this answer.
   * @example chatcmpl-3K5vQ2mX9
   */
  id: string;
  /**
   * OpenAI object type of this answer.
   * @example chat.completion
   */
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
  /**
   * Position of this item in the list.
   * @example 0
   */
  index: number;
  /**
   * The generated text.
   * @example ", there was a fox."
   */
  text: string;
  /**
   * Why generation stopped: `stop`, `length`, or null while streaming.
   * @example stop
   */
  finish_reason: string | null;
}

export class CompletionDto {
  /**
   * Identifier the server gave this answer.
   * @example cmpl-3K5vQ2mX9
   */
  id: string;
  /**
   * OpenAI object type of this answer.
   * @example text_completion
   */
  object: string;
  /**
   * When the answer was created (Unix seconds).
   * @example 1767225600
   */
  created: number;
  /**
   * The model that answered (the registry model id).
   * @example qwen3_4b_q4km
   */
  model: string;
  /** Generated choices. */
  choices: CompletionChoiceDto[];
  /** Token counts. */
  usage: UsageDto;
}

export class EmbeddingDto {
  /**
   * OpenAI object type of this answer.
   * @example embedding
   */
  object: string;
  /**
   * Position of this item in the list.
   * @example 0
   */
  index: number;
  /**
   * The embedding vector.
   * @example [0.0123, -0.0456, 0.0789]
   */
  @ApiProperty({ type: [Number], description: 'The embedding vector.', example: [0.0123, -0.0456, 0.0789] })
  embedding: number[];
}

export class EmbeddingListDto {
  /**
   * OpenAI object type of this answer.
   * @example list
   */
  object: string;
  /** One vector per input. */
  data: EmbeddingDto[];
  /**
   * The model that answered (the registry model id).
   * @example nomic_embed_text_v1_5_f16
   */
  model: string;
  /** Token counts. */
  @ApiPropertyOptional({ type: UsageDto })
  usage?: UsageDto;
}
