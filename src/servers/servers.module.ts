import { Module } from '@nestjs/common';
import { ProfilesModule } from '../profiles/profiles.module';
import { RegistryModule } from '../registry/registry.module';
import { FleetService } from './fleet.service';
import { ServersController } from './servers.controller';

/** The llama-server fleet: supervisors, ports, readiness, logs (API.md §6). */
@Module({
  imports: [RegistryModule, ProfilesModule],
  controllers: [ServersController],
  providers: [FleetService],
  exports: [FleetService],
})
export class ServersModule {}
