import { Module } from '@nestjs/common';
import { ProfilesModule } from '../profiles/profiles.module';
import { RegistryModule } from '../registry/registry.module';
import { FleetMetrics } from './fleet-metrics';
import { FleetService } from './fleet.service';
import { ServersController } from './servers.controller';

/** The llama-server fleet: supervisors, ports, readiness, logs (API.md §6). */
@Module({
  imports: [RegistryModule, ProfilesModule],
  controllers: [ServersController],
  providers: [FleetService, FleetMetrics],
  exports: [FleetService],
})
export class ServersModule {}
