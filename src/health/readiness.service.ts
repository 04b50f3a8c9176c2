import { Injectable, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckResult, HealthCheckService } from '@nestjs/terminus';
import type { NotReadyServer } from '../servers/fleet.types';
import { NotReadyResponseDto, ReadinessDetailsDto, ReadyResponseDto } from './dto/health.dto';
import { FleetHealthIndicator } from './fleet.health';
import { NotReadyException } from './not-ready.exception';
import { RegistryHealthIndicator } from './registry.health';

interface FleetData {
  readyServers?: number;
  totalServers?: number;
  notReady?: NotReadyServer[];
  missingModels?: string[];
  shuttingDown?: boolean;
}

/**
 * Readiness (API.md §7): runs the terminus indicators (registry loaded, every wanted
 * server ready; terminus also reports the application shutting down) and shapes the
 * answer the contract names.
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
    let result: HealthCheckResult;
    try {
      result = await this.health.check([
        () => this.registry.isHealthy('registry'),
        () => this.fleet.isHealthy('fleet'),
      ]);
    } catch (e) {
      // terminus signals "down" and "shutting down" by throwing 503 with the result.
      if (!(e instanceof ServiceUnavailableException)) throw e;
      result = e.getResponse() as HealthCheckResult;
    }
    const details = result.details;
    const fleet = (details.fleet ?? {}) as FleetData;
    const registry = details.registry ?? { status: 'down' };
    const readyServers = fleet.readyServers ?? 0;
    const totalServers = fleet.totalServers ?? 0;
    const missingModels = fleet.missingModels ?? [];
    if (result.status === 'ok') {
      const body: ReadyResponseDto = { status: 'ready', readyServers, totalServers };
      if (missingModels.length) body.details = { missingModels };
      return body;
    }
    const why: ReadinessDetailsDto = { servers: fleet.notReady ?? [] };
    if (registry.status !== 'up') why.registry = String((registry as { reason?: string }).reason ?? 'not loaded');
    if (missingModels.length) why.missingModels = missingModels;
    if (result.status === 'shutting_down' || fleet.shuttingDown) why.shuttingDown = true;
    const body: NotReadyResponseDto = { status: 'not_ready', readyServers, totalServers, details: why };
    throw new NotReadyException(body);
  }
}
