import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { RegistryModule } from '../registry/registry.module';
import { ServersModule } from '../servers/servers.module';
import { FleetHealthIndicator } from './fleet.health';
import { HealthController } from './health.controller';
import { ReadinessService } from './readiness.service';
import { RegistryHealthIndicator } from './registry.health';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), RegistryModule, ServersModule],
  controllers: [HealthController],
  providers: [RegistryHealthIndicator, FleetHealthIndicator, ReadinessService],
})
export class HealthModule {}
