import { Module } from '@nestjs/common';
import { ProfilesModule } from '../profiles/profiles.module';
import { ServersModule } from '../servers/servers.module';
import { Forwarder } from './forwarder';
import { GatewayMetrics } from './gateway-metrics';
import { GatewayController } from './gateway.controller';
import { GatewayService } from './gateway.service';
import { ReadyWaiter } from './ready-waiter';
import { RouteTable } from './route-table';
import { Sender } from './sender';

/**
 * POST /v1/chat/completions, /v1/completions, /v1/embeddings, routed to the fleet (API.md §8):
 * GatewayService takes a request through RouteTable (where), ReadyWaiter (wait for a
 * starting server), Sender (pick, send, retry once, LiteLLM) and Forwarder (the bytes).
 */
@Module({
  imports: [ServersModule, ProfilesModule],
  controllers: [GatewayController],
  providers: [GatewayService, RouteTable, ReadyWaiter, Sender, Forwarder, GatewayMetrics],
})
export class GatewayModule {}
