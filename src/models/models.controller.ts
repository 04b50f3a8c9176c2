import { Controller, Get, Headers, HttpCode, Param, Post, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiErrors } from '../common/errors/api-errors.decorator';
import { ClientAbortSignal } from '../common/http/client-abort-signal.decorator';
import { acceptsEventStream, writeEventStream } from '../common/http/event-stream';
import { ProviderStatusService } from '../providers';
import {
  ModelListDto,
  ModelsHealthDto,
  ProvidersOverviewDto,
  PullErrorEventDto,
  PullProgressDto,
  PullResultDto,
  toModelListDto,
  toModelsHealthDto,
  toProvidersOverviewDto,
} from './dto/models.dto';
import { ModelPullService } from './model-pull.service';

/** `*modelName` matches across slashes; path-to-regexp v8 hands it over as its segments. */
const joinSegments = (p: string | string[]): string => (Array.isArray(p) ? p.join('/') : p);

@ApiTags('providers')
@ApiBearerAuth()
@Controller('api/models')
export class ModelsController {
  constructor(
    private readonly providers: ProviderStatusService,
    private readonly pulls: ModelPullService,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Models of the active provider',
    description: '503 ProviderUnavailable when the active provider cannot list them.',
  })
  @ApiOkResponse({ type: ModelListDto, description: "The active provider's models" })
  @ApiErrors(503)
  async list(): Promise<ModelListDto> {
    return toModelListDto(await this.providers.listActiveModels());
  }

  @Get('providers')
  @ApiOperation({
    summary: 'Every LLM provider and the active one',
    description:
      'All four, always, checked concurrently: no answer waits longer than one PROVIDER_TIMEOUT_MS for all of them.',
  })
  @ApiOkResponse({ type: ProvidersOverviewDto, description: 'All four providers and the active one' })
  @ApiErrors()
  async overview(): Promise<ProvidersOverviewDto> {
    const { all, active } = await this.providers.overview();
    return toProvidersOverviewDto(all, active);
  }

  @Get('health')
  @ApiOperation({
    summary: 'Health of the active provider',
    description:
      'Always 200; `healthy: false` with the reason when it is down (the probe that answers 503 is /health/ready).',
  })
  @ApiOkResponse({ type: ModelsHealthDto, description: 'Health of the active provider (also when it is down)' })
  @ApiErrors()
  async health(): Promise<ModelsHealthDto> {
    return toModelsHealthDto(await this.providers.active());
  }

  @Post('pull/*modelName')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Pull a model into Ollama',
    description:
      'Ollama only. Without `Accept: text/event-stream` the request waits for the end. With it, the answer is SSE: ' +
      'unnamed events with `{status, digest, total, completed, percent}` per step, then exactly one `event: done` ' +
      '(`{status: "success", model}`) or `event: error` (`{error, message}`). Closing the request closes the one to Ollama.',
  })
  @ApiParam({
    name: 'modelName',
    type: String,
    description: 'Ollama model name; may contain `/` and `:`',
    example: 'library/llama3.2:1b',
  })
  @ApiExtraModels(PullProgressDto, PullErrorEventDto)
  @ApiOkResponse({
    description: 'Pulled (JSON), or the SSE stream of its progress',
    content: {
      'application/json': { schema: { $ref: getSchemaPath(PullResultDto) } },
      'text/event-stream': {
        schema: {
          type: 'string',
          description:
            'Server-sent events: unnamed events whose data is a PullProgressDto, then exactly one `event: done` ' +
            '(data `{status: "success", model}`) or `event: error` (data a PullErrorEventDto).',
        },
        example:
          'data: {"status":"pulling manifest","digest":null,"total":null,"completed":null,"percent":null}\n\n' +
          'event: done\ndata: {"status":"success","model":"library/llama3.2:1b"}\n\n',
      },
    },
  })
  @ApiExtraModels(PullResultDto)
  @ApiErrors(400, 502, 503)
  async pull(
    @Param('modelName') modelName: string | string[],
    @Headers('accept') accept: string | undefined,
    @ClientAbortSignal() signal: AbortSignal,
    // @Res() only for the SSE answer; the plain answer is written the same way for one code path.
    @Res() res: Response,
  ): Promise<void> {
    const model = await this.pulls.prepare(joinSegments(modelName));
    if (acceptsEventStream(accept)) return writeEventStream(res, this.pulls.events(model, signal));
    res.status(200).json(await this.pulls.pull(model, signal));
  }
}
