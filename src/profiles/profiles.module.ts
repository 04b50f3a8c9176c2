import { Module } from '@nestjs/common';
import { ProfilesController } from './profiles.controller';
import { ProfilesService } from './profiles.service';
import { ProfilesStore } from './profiles.store';

@Module({
  controllers: [ProfilesController],
  providers: [ProfilesService, ProfilesStore],
  exports: [ProfilesService],
})
export class ProfilesModule {}
