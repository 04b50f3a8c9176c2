import { Controller, Post, Type } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import { applyDecorators } from '@nestjs/common';
import { ApiOpenAiErrors } from '../common/errors/api-errors.decorator';
import {
  ChatCompletionDto,
  ChatCompletionRequestDto,
  CompletionDto,
  CompletionRequestDto,
  EmbeddingListDto,
  EmbeddingRequestDto,
} from './dto/openai.dto';

const MAGI_HEADERS = {
  'X-Magi-Model': {
    description: 'The registry model id that served the request (`litellm` answers: the model asked of LiteLLM)',
    schema: { type: 'string', example: 'qwen3_4b_q4km' },
  },
  'X-Magi-Upstream': {
    description: 'Port of the llama-server that answered, or `litellm`',
    schema: { type: 'string', example: '8081' },
  },
};

const CHAT_STREAM_EXAMPLE =
  'data: {"choices":[{"finish_reason":null,"index":0,"delta":{"role":"assistant","content":null}}],"created":1767225600,"id":"chatcmpl-3K5vQ2mX9","model":"qwen3_4b_q4km","object":"chat.completion.chunk"}\n\n' +
  'data: {"choices":[{"finish_reason":null,"index":0,"delta":{"content":"Hello"}}],"created":1767225600,"id":"chatcmpl-3K5vQ2mX9","model":"qwen3_4b_q4km","object":"chat.completion.chunk"}\n\n' +
  'data: {"choices":[{"finish_reason":"stop","index":0,"delta":{}}],"created":1767225600,"id":"chatcmpl-3K5vQ2mX9","model":"qwen3_4b_q4km","object":"chat.completion.chunk"}\n\n' +
  'data: [DONE]\n\n';

const COMPLETION_STREAM_EXAMPLE =
  'data: {"choices":[{"text":" there","index":0,"logprobs":null,"finish_reason":null}],"created":1767225600,"id":"cmpl-3K5vQ2mX9","model":"qwen3_4b_q4km","object":"text_completion"}\n\n' +
  'data: [DONE]\n\n';

/** 200 documented in both content types: JSON, or SSE when `stream: true`. */
function ApiProxiedAnswer(model: Type<unknown>, example: unknown, streamExample?: string): MethodDecorator {
  const content: Record<string, unknown> = {
    'application/json': { schema: { $ref: getSchemaPath(model) }, example },
  };
  if (streamExample) content['text/event-stream'] = { schema: { type: 'string' }, example: streamExample };
  return applyDecorators(
    ApiExtraModels(model),
    ApiProduces(...Object.keys(content)),
    ApiOkResponse({
      description:
        'The upstream answer as the server sent it (status, headers, body). Upstream 4xx/5xx pass through with their status and body.',
      headers: MAGI_HEADERS,
      content: content as never,
    }),
    ApiOpenAiErrors(400, 404, 413, 415, 502, 503),
  );
}

const ROUTING =
  '`model` is resolved as: an alias of the active profile (naming a model id or a tier) → a registry model id → a tier ' +
  '(`fast`, `balanced`, `powerful`; any ready server of it, by the profile’s `loadBalancing.strategy`) → LiteLLM when ' +
  '`LITELLM_BASE_URL` is set, else 404 `model_not_found`. The body goes upstream unchanged except `model`, which becomes ' +
  'the server’s alias. A known model that does not run is 503 `model_not_running`; a target whose servers are all starting ' +
  'waits up to `GATEWAY_QUEUE_TIMEOUT` seconds, then 503 with `Retry-After`. A server that cannot be connected to is ' +
  'retried once on another ready server of the target, else 502 `upstream_unavailable`.';

/** Express never routes these paths: the gateway listener answers them first, in every spelling. */
function answeredAheadOfExpress(): Error {
  return new Error('The gateway routes are answered by the gateway listener (gateway-listener.ts)');
}

/**
 * The OpenAI-compatible gateway routes as the OpenAPI document shows them. They are
 * answered ahead of Express by the gateway listener (gateway-listener.ts: the one way in,
 * chosen by measurement — see its comment), which streams the upstream's answer byte for
 * byte; this controller only declares them, with their bodies, answers and errors.
 */
@ApiTags('openai')
@ApiBearerAuth()
@Controller('v1')
export class GatewayController {
  @Post('chat/completions')
  @ApiOperation({ summary: 'Chat completion, routed to the fleet', description: ROUTING })
  @ApiBody({
    type: ChatCompletionRequestDto,
    examples: {
      byTier: {
        summary: 'By tier',
        value: { model: 'fast', messages: [{ role: 'user', content: 'Say hello in five words.' }], max_tokens: 64 },
      },
      byAlias: {
        summary: 'By profile alias, streamed',
        value: {
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'Hello!' }],
          stream: true,
          stream_options: { include_usage: true },
        },
      },
      byId: {
        summary: 'By model id',
        value: { model: 'qwen3_4b_q4km', messages: [{ role: 'user', content: 'Hello!' }] },
      },
    },
  })
  @ApiProxiedAnswer(
    ChatCompletionDto,
    {
      id: 'chatcmpl-3K5vQ2mX9',
      object: 'chat.completion',
      created: 1767225600,
      model: 'qwen3_4b_q4km',
      choices: [
        { index: 0, message: { role: 'assistant', content: 'Hello there, how are you?' }, finish_reason: 'stop' },
      ],
      usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 },
    },
    CHAT_STREAM_EXAMPLE,
  )
  chat(): never {
    throw answeredAheadOfExpress();
  }

  @Post('completions')
  @ApiOperation({ summary: 'Text completion, routed to the fleet', description: ROUTING })
  @ApiBody({
    type: CompletionRequestDto,
    examples: {
      byId: { summary: 'By model id', value: { model: 'qwen3_4b_q4km', prompt: 'Once upon a time', max_tokens: 32 } },
    },
  })
  @ApiProxiedAnswer(
    CompletionDto,
    {
      id: 'cmpl-3K5vQ2mX9',
      object: 'text_completion',
      created: 1767225600,
      model: 'qwen3_4b_q4km',
      choices: [{ index: 0, text: ', there was a fox.', finish_reason: 'stop' }],
      usage: { prompt_tokens: 4, completion_tokens: 6, total_tokens: 10 },
    },
    COMPLETION_STREAM_EXAMPLE,
  )
  completions(): never {
    throw answeredAheadOfExpress();
  }

  @Post('embeddings')
  @ApiOperation({
    summary: 'Embeddings, routed to the fleet',
    description: `${ROUTING} Only servers of a profile whose \`server.embeddings\` is true (started with \`--embeddings\`) serve embeddings.`,
  })
  @ApiBody({
    type: EmbeddingRequestDto,
    examples: {
      one: { summary: 'One text', value: { model: 'nomic_embed_text_v1_5_f16', input: 'The quick brown fox' } },
    },
  })
  @ApiProxiedAnswer(EmbeddingListDto, {
    object: 'list',
    data: [{ object: 'embedding', index: 0, embedding: [0.0123, -0.0456, 0.0789] }],
    model: 'nomic_embed_text_v1_5_f16',
    usage: { prompt_tokens: 5, total_tokens: 5 },
  })
  embeddings(): never {
    throw answeredAheadOfExpress();
  }
}
