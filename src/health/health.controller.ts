import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { LiveResponseDto } from './dto/health.dto';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthCheckService) {}

  /** Liveness: 200 while the process can serve HTTP; checks nothing else on purpose. */
  @Get('live')
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({ summary: 'Liveness probe', description: 'Answers 200 while the process can serve HTTP.' })
  @ApiOkResponse({ type: LiveResponseDto, description: 'The process is alive.' })
  async live(): Promise<LiveResponseDto> {
    const result = await this.health.check([]);
    return { status: result.status };
  }
}
