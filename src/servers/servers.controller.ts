import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../common/errors/api-errors.decorator';
import {
  DEFAULT_LOG_LINES,
  ServerLogsQueryDto,
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
      'Each server the active profile wants, plus any still stopping, with its state (starting, ready, restarting, failed, stopping, stopped), pid, port, uptime, restarts and last error.',
  })
  @ApiOkResponse({ type: ServersResponseDto })
  @ApiErrors()
  servers(): ServersResponseDto {
    const servers = this.fleet.list().map(toServerDto);
    const { readyServers, totalServers } = this.fleet.readiness();
    return { totalServers, readyServers, servers };
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
