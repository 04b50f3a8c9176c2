import { Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiErrors } from '../common/errors/api-errors.decorator';
import {
  DEFAULT_LOG_LINES,
  ServerLogsQueryDto,
  ServerLoadResponseDto,
  ServerLogsResponseDto,
  ServersResponseDto,
  toServerDto,
} from './dto/server.dto';
import { FleetService } from './fleet.service';

@ApiTags('servers')
@ApiBearerAuth()
@Controller('api/models/servers')
export class ServersController {
  constructor(private readonly fleet: FleetService) {}

  @Get()
  @ApiOperation({
    summary: 'The llama-server fleet',
    description:
      'Each server the active profile wants (on-demand ones too, loaded or not), plus any still stopping, with its state ' +
      '(unloaded, queued, starting, ready, restarting, failed, stopping, stopped), start mode, memory estimate and measured ' +
      'memory, last use, requests in flight, pid, port, uptime, restarts and last error; and the memory budget with what ' +
      'the running and starting servers reserve of it.',
  })
  @ApiOkResponse({ type: ServersResponseDto })
  @ApiErrors()
  servers(): ServersResponseDto {
    const servers = this.fleet.list().map(toServerDto);
    return { ...this.fleet.counts(), servers, memory: this.fleet.memory() };
  }

  @Post(':modelId/load')
  @ApiOperation({
    summary: 'Load a model of the active profile now',
    description:
      'Starts its server as a request would: within the memory budget and maxRunning, stopping idle on-demand servers ' +
      '(least recently used first) to make room, or queued until room frees. 202 once the start is launched or queued, ' +
      '200 when it is already ready. An API load is never cancelled for lack of waiting clients. 404 ServerNotFound for ' +
      'a model the active profile does not run; 503 ModelTooLarge (with needBytes and budgetBytes) when its estimate ' +
      'alone exceeds the budget.',
  })
  @ApiParam({ name: 'modelId', description: 'Registry model id', example: 'qwen3_4b_q4km' })
  @ApiOkResponse({ type: ServerLoadResponseDto, description: 'Already ready' })
  @ApiAcceptedResponse({ type: ServerLoadResponseDto, description: 'Start launched, or queued for room' })
  @ApiErrors(404, 503)
  load(@Param('modelId') modelId: string, @Res({ passthrough: true }) res: Response): ServerLoadResponseDto {
    const answer = this.fleet.load(modelId);
    res.status(answer.alreadyReady ? 200 : 202);
    return { modelId: answer.modelId, state: answer.state };
  }

  @Post(':modelId/unload')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Stop a server now',
    description:
      'Stops its process (SIGTERM, then SIGKILL after the grace period) and answers once it is gone. An on-demand server ' +
      'returns to unloaded and loads again on its next request; an always server stays stopped until the next activation ' +
      'or load. 404 ServerNotFound for a model the active profile does not run.',
  })
  @ApiParam({ name: 'modelId', description: 'Registry model id', example: 'qwen3_4b_q4km' })
  @ApiOkResponse({ type: ServerLoadResponseDto })
  @ApiErrors(404)
  async unload(@Param('modelId') modelId: string): Promise<ServerLoadResponseDto> {
    const answer = await this.fleet.unload(modelId);
    return { modelId: answer.modelId, state: answer.state };
  }

  @Get(':modelId/logs')
  @ApiOperation({
    summary: "Tail of a server's output",
    description: 'The last `lines` lines of its stdout and stderr from a bounded buffer that survives restarts.',
  })
  @ApiParam({ name: 'modelId', description: 'Registry model id', example: 'qwen3_4b_q4km' })
  @ApiOkResponse({ type: ServerLogsResponseDto })
  @ApiErrors(400, 404)
  logs(@Param('modelId') modelId: string, @Query() query: ServerLogsQueryDto): ServerLogsResponseDto {
    return this.fleet.logs(modelId, query.lines ?? DEFAULT_LOG_LINES);
  }
}
