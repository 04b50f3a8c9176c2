import { Module } from '@nestjs/common';
import { ProfilesModule } from '../profiles/profiles.module';
import { MemoryEstimates } from './memory-estimates';
import { RegistryMetrics } from './registry-metrics';
import { RegistryScanner } from './registry-scanner';
import { RegistryView } from './registry-view';
import { RegistryController } from './registry.controller';
import { RegistryService } from './registry.service';
import { RegistryStore } from './registry.store';

@Module({
  // Profiles: the memory estimates are made for the active profile's server settings.
  imports: [ProfilesModule],
  controllers: [RegistryController],
  providers: [RegistryService, RegistryStore, RegistryScanner, RegistryView, RegistryMetrics, MemoryEstimates],
  exports: [RegistryService],
})
export class RegistryModule {}
