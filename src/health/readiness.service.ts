import { Injectable, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckService, HealthCheckStatus, HealthIndicatorResult } from '@nestjs/terminus';
import { NotReadyResponseDto, ReadinessDetailsDto, ReadyResponseDto } from './dto/health.dto';
import { FleetHealthIndicator } from './fleet.health';
import { NotReadyException } from './not-ready.exception';
import { RegistryHealthIndicator } from './registry.health';

/**
 * Readiness (API.md §7): runs the terminus indicators (registry loaded, every wanted
 * server ready), lets terminus give the verdict (it also knows the application is
 * shutting down) and shapes the answer the contract names from the indicators' typed
 * results.
 */
@Injectable()
export class ReadinessService {
  constructor(
    private readonly health: HealthCheckService,
    private readonly registry: RegistryHealthIndicator,
    private readonly fleet: FleetHealthIndicator,
  ) {}

  /** The 200 body when ready; throws NotReadyException (503) with the reasons otherwise. */
  async check(): Promise<ReadyResponseDto> {
    const registryResult = this.registry.isHealthy('registry');
    const fleetResult = this.fleet.isHealthy('fleet');
    const status = await this.verdict([registryResult, fleetResult]);
    const registry = registryResult.registry;
    const { readyServers, totalServers, notReady, missingModels, shuttingDown } = fleetResult.fleet;
    if (status === 'ok') {
      const body: ReadyResponseDto = { status: 'ready', readyServers, totalServers };
      if (missingModels.length) body.details = { missingModels };
      return body;
    }
    const why: ReadinessDetailsDto = { servers: notReady };
    if (registry.status !== 'up') why.registry = registry.reason;
    if (missingModels.length) why.missingModels = missingModels;
    if (status === 'shutting_down' || shuttingDown) why.shuttingDown = true;
    const body: NotReadyResponseDto = { status: 'not_ready', readyServers, totalServers, details: why };
    throw new NotReadyException(body);
  }

  /** terminus's overall status for these results: `ok`, `error` (one is down) or `shutting_down`. */
  private async verdict(results: HealthIndicatorResult[]): Promise<HealthCheckStatus> {
    try {
      return (await this.health.check(results.map((r) => () => r))).status;
    } catch (e) {
      // terminus answers "down" and "shutting down" by throwing 503 with the result as its response.
      if (!(e instanceof ServiceUnavailableException)) throw e;
      const response = e.getResponse();
      const shuttingDown = typeof response === 'object' && 'status' in response && response.status === 'shutting_down';
      return shuttingDown ? 'shutting_down' : 'error';
    }
  }
}
