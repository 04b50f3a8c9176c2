import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiResponse,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiErrors } from '../common/errors/api-errors.decorator';
import { ErrorResponseDto } from '../common/errors/error-response.dto';
import { ClientAbortSignal } from '../common/http/client-abort-signal.decorator';
import { acceptsEventStream, writeEventStream } from '../common/http/event-stream';
import { CreateDownloadDto, DownloadDoneEventDto, DownloadJobDto } from './dto/download.dto';
import { HubListingDto, HubQueryDto } from './dto/hub.dto';
import { DownloadsService } from './downloads.service';
import { HubListingService } from './hub-listing.service';

const DOWNLOAD_ID = { name: 'id', description: 'Download job id', example: '1f3c8a2e-5b7d-4c1e-9a0f-2b6d8e4c1a7f' };

@ApiTags('downloads')
@ApiBearerAuth()
@Controller('api/models')
export class DownloadsController {
  constructor(
    private readonly listing: HubListingService,
    private readonly downloads: DownloadsService,
  ) {}

  @Get('hub/:owner/:repo')
  @ApiOperation({
    summary: "A hub repository's GGUF files, with their memory cost",
    description:
      'Lists the GGUF files of `{owner}/{repo}` on HF_ENDPOINT (a split counted once, projectors flagged). Each ' +
      "model's memory estimate is read from its header on the hub with a few Range requests (no download) at the " +
      "active profile's settings; `fits` compares it with the memory budget. 404 RepositoryNotFound, " +
      '401 HubUnauthorized (gated or private without a valid HF_TOKEN), 502 HubUnavailable when the hub answers ' +
      'with an error, 503 HubUnavailable when it cannot be reached.',
  })
  @ApiParam({ name: 'owner', example: 'Qwen' })
  @ApiParam({ name: 'repo', example: 'Qwen3-4B-GGUF' })
  @ApiOkResponse({ type: HubListingDto })
  @ApiErrors(400, 404, 502, 503)
  listHub(
    @Param('owner') owner: string,
    @Param('repo') repo: string,
    @Query() query: HubQueryDto,
  ): Promise<HubListingDto> {
    return this.listing.list(owner, repo, query.revision);
  }

  @Post('downloads')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Download a model from the hub',
    description:
      'Queues the file (every shard of a split) named by `file`, or the one model file of `quantization`, into ' +
      "`MODEL_SCAN_PATH/{owner}/{repo}/`: resumable, checked against the hub's sha256, in the registry when done. " +
      "A model comes with the repository's multimodal projector when it has one for it, placed beside the model " +
      'so the registry attaches it. ' +
      '400 when the body names no file, several match, or a name would leave the models folder; 409 DownloadExists; ' +
      '507 InsufficientStorage.',
  })
  @ApiAcceptedResponse({ type: DownloadJobDto, description: 'Queued' })
  @ApiResponse({
    status: 507,
    description: 'The disk cannot hold the file (InsufficientStorage)',
    type: ErrorResponseDto,
  })
  @ApiErrors(400, 404, 409, 502)
  create(@Body() body: CreateDownloadDto): Promise<DownloadJobDto> {
    return this.downloads.create(body);
  }

  @Get('downloads')
  @ApiOperation({
    summary: 'Every download job',
    description: 'Queued, running and the last finished ones, oldest first.',
  })
  @ApiOkResponse({ type: DownloadJobDto, isArray: true })
  @ApiErrors()
  list(): DownloadJobDto[] {
    return this.downloads.list();
  }

  @Get('downloads/:id')
  @ApiOperation({
    summary: 'One download job, or its progress as SSE',
    description:
      'JSON by default. With `Accept: text/event-stream`: `event: progress` with the job (at most 4 a second) ' +
      'whenever it changes, then `event: done` (`{modelIds}`) or `event: error` (`{error, message, details}`).',
  })
  @ApiParam(DOWNLOAD_ID)
  @ApiExtraModels(DownloadJobDto, DownloadDoneEventDto)
  @ApiOkResponse({
    description: 'The job (JSON), or the SSE stream of its progress',
    content: {
      'application/json': { schema: { $ref: getSchemaPath(DownloadJobDto) } },
      'text/event-stream': {
        schema: {
          type: 'string',
          description:
            'Server-sent events: `event: progress` (data a DownloadJobDto), then `event: done` (data ' +
            '`{modelIds}`) or `event: error` (data `{error, message, details}`).',
        },
      },
    },
  })
  @ApiErrors(404)
  async get(
    @Param('id') id: string,
    @Headers('accept') accept: string | undefined,
    @ClientAbortSignal() signal: AbortSignal,
    // @Res() only for the SSE answer; the JSON answer is written the same way for one code path.
    @Res() res: Response,
  ): Promise<void> {
    const job = this.downloads.get(id);
    if (acceptsEventStream(accept)) return writeEventStream(res, this.downloads.events(id, signal));
    res.status(200).json(job);
  }

  @Delete('downloads/:id')
  @ApiOperation({
    summary: 'Cancel a download',
    description: 'Stops a queued or running job and removes its partial files; a finished job is answered as it is.',
  })
  @ApiParam(DOWNLOAD_ID)
  @ApiOkResponse({ type: DownloadJobDto })
  @ApiErrors(404)
  cancel(@Param('id') id: string): Promise<DownloadJobDto> {
    return this.downloads.cancel(id);
  }
}
