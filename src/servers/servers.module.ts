import { Module } from '@nestjs/common';
import { ProfilesModule } from '../profiles/profiles.module';
import { RegistryModule } from '../registry/registry.module';
import { FleetBudget } from './fleet-budget';
import { FleetMetrics } from './fleet-metrics';
import { FleetService } from './fleet.service';
import { FleetUsage } from './fleet-usage';
import { ServersController } from './servers.controller';

/** The llama-server fleet: supervisors, ports, readiness, logs (API.md §6). */
@Module({
  imports: [RegistryModule, ProfilesModule],
  controllers: [ServersController],
  providers: [FleetService, FleetBudget, FleetMetrics, { provide: FleetUsage, useExisting: FleetService }],
  exports: [FleetService, FleetUsage],
})
export class ServersModule {}
