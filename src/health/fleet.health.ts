import { Injectable } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { FleetService } from '../servers/fleet.service';

/** The fleet's readiness as FleetService answers it. */
type FleetReadiness = ReturnType<FleetService['readiness']>;

/** What the `fleet` entry of a readiness check carries besides its status. */
export type FleetHealthData = {
  readyServers: number;
  totalServers: number;
  /** Each wanted server that is not ready, and why. */
  notReady: FleetReadiness['notReady'];
  /** Models the profile names that the registry does not know. */
  missingModels: string[];
  /** Present only while the fleet shuts down. */
  shuttingDown?: true;
};

/**
 * Up when every server the active profile wants is ready (an empty fleet is up). Models
 * the profile names that the registry does not know are reported, not held against it.
 * Down while the fleet shuts down.
 */
@Injectable()
export class FleetHealthIndicator {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly fleet: FleetService,
  ) {}

  isHealthy<const Key extends string>(key: Key): HealthIndicatorResult<Key, 'up' | 'down', FleetHealthData> {
    const check = this.indicator.check(key);
    const r = this.fleet.readiness();
    const data: FleetHealthData = {
      readyServers: r.readyServers,
      totalServers: r.totalServers,
      notReady: r.notReady,
      missingModels: r.missingModels,
    };
    if (r.shuttingDown) return check.down<FleetHealthData>({ ...data, shuttingDown: true });
    return r.notReady.length === 0 ? check.up(data) : check.down(data);
  }
}
