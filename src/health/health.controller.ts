import { Controller, Get, UseFilters } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { LiveResponseDto, NotReadyResponseDto, ReadyResponseDto } from './dto/health.dto';
import { NotReadyFilter } from './not-ready.exception';
import { ReadinessService } from './readiness.service';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly readiness: ReadinessService,
  ) {}

  /** Liveness: 200 while the process can serve HTTP; checks nothing else on purpose. */
  @Get('live')
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({ summary: 'Liveness probe', description: 'Answers 200 while the process can serve HTTP.' })
  @ApiOkResponse({ type: LiveResponseDto, description: 'The process is alive.' })
  async live(): Promise<LiveResponseDto> {
    const result = await this.health.check([]);
    return { status: result.status };
  }

  /** Readiness: the registry is loaded and every server the active profile wants is ready. */
  @Get('ready')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @UseFilters(NotReadyFilter)
  @ApiOperation({
    summary: 'Readiness probe',
    description:
      '200 when the registry is loaded and every server the active profile wants is ready; 503 with the reasons otherwise, and while MAGI shuts down.',
  })
  @ApiOkResponse({ type: ReadyResponseDto, description: 'Ready to serve.' })
  @ApiServiceUnavailableResponse({
    type: NotReadyResponseDto,
    description: 'Not ready: `details` names each server that is not ready and why.',
  })
  ready(): Promise<ReadyResponseDto> {
    return this.readiness.check();
  }
}
