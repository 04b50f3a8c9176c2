import { Module } from '@nestjs/common';
import { RegistryController } from './registry.controller';
import { RegistryService } from './registry.service';
import { RegistryStore } from './registry.store';

@Module({
  controllers: [RegistryController],
  providers: [RegistryService, RegistryStore],
  exports: [RegistryService],
})
export class RegistryModule {}
