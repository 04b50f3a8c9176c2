import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { FleetService } from '../servers/fleet.service';

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

  isHealthy<const Key extends string>(key: Key) {
    const check = this.indicator.check(key);
    const r = this.fleet.readiness();
    const data = {
      readyServers: r.readyServers,
      totalServers: r.totalServers,
      notReady: r.notReady,
      missingModels: r.missingModels,
    };
    if (r.shuttingDown) return check.down({ ...data, shuttingDown: true });
    return r.notReady.length === 0 ? check.up(data) : check.down(data);
  }
}
