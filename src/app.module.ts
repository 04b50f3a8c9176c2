import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { BearerAuthService } from './common/auth/bearer-auth.service';
import { AllExceptionsFilter } from './common/errors/all-exceptions.filter';
import { createValidationPipe } from './common/errors/validation';
import { IoModule } from './common/io/io.module';
import { LoggingModule } from './common/logging/logger.module';
import { MagiConfig } from './config/magi-config';
import { configModuleFor } from './config/magi-config.provider';
import { DownloadsModule } from './downloads/downloads.module';
import { GatewayModule } from './gateway/gateway.module';
import { HealthModule } from './health/health.module';
import { MetricsModule } from './metrics/metrics.module';
import { ModelsModule } from './models/models.module';
import { ProfilesModule } from './profiles/profiles.module';
import { ProvidersModule } from './providers/providers.module';
import { RegistryModule } from './registry/registry.module';
import { ServersModule } from './servers/servers.module';

/** Root module: the validated config, I/O ports, logging, then the feature modules. */
@Module({})
export class AppModule {
  static forRoot(config: MagiConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        configModuleFor(config),
        EventEmitterModule.forRoot(),
        LoggingModule,
        IoModule,
        // Before RegistryModule: Express matches routes in registration order, and the
        // registry's `PUT :modelId/tier|thinking|enabled` would otherwise catch
        // `PUT profiles/tier` (a profile whose key is `tier`).
        ProfilesModule,
        MetricsModule,
        HealthModule,
        RegistryModule,
        ServersModule,
        ProvidersModule,
        ModelsModule,
        GatewayModule,
        DownloadsModule,
      ],
      providers: [
        BearerAuthService,
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        { provide: APP_PIPE, useFactory: createValidationPipe },
      ],
    };
  }
}
