import { Module } from '@nestjs/common';
import { RegistryMetrics } from './registry-metrics';
import { RegistryScanner } from './registry-scanner';
import { RegistryView } from './registry-view';
import { RegistryController } from './registry.controller';
import { RegistryService } from './registry.service';
import { RegistryStore } from './registry.store';

@Module({
  controllers: [RegistryController],
  providers: [RegistryService, RegistryStore, RegistryScanner, RegistryView, RegistryMetrics],
  exports: [RegistryService],
})
export class RegistryModule {}
