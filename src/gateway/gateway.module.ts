import { Module } from '@nestjs/common';
import { ProfilesModule } from '../profiles/profiles.module';
import { RegistryModule } from '../registry/registry.module';
import { ServersModule } from '../servers/servers.module';
import { Forwarder } from './forwarder';
import { GatewayController } from './gateway.controller';
import { GatewayService } from './gateway.service';

/** POST /v1/chat/completions, /v1/completions, /v1/embeddings, routed to the fleet (API.md §8). */
@Module({
  imports: [ServersModule, ProfilesModule, RegistryModule],
  controllers: [GatewayController],
  providers: [GatewayService, Forwarder],
})
export class GatewayModule {}
