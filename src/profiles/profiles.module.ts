import { MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { ProfileBodyShapeMiddleware } from './profile-body.middleware';
import { ProfilesController } from './profiles.controller';
import { ProfilesService } from './profiles.service';
import { ProfilesStore } from './profiles.store';

@Module({
  controllers: [ProfilesController],
  providers: [ProfilesService, ProfilesStore],
  exports: [ProfilesService],
})
export class ProfilesModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(ProfileBodyShapeMiddleware).forRoutes(ProfilesController);
  }
}
