import { Module } from '@nestjs/common';
import { ProfilesModule } from '../profiles/profiles.module';
import { ProvidersModule } from '../providers';
import { ServersModule } from '../servers/servers.module';
import { ModelPullService } from './model-pull.service';
import { ModelsController } from './models.controller';
import { OpenAiModelsController } from './openai-models.controller';
import { OpenAiModelsService } from './openai-models.service';

/** `/api/models` (the active provider's models, provider overview and health, Ollama pulls) and `/v1/models`. */
@Module({
  imports: [ProvidersModule, ProfilesModule, ServersModule],
  controllers: [ModelsController, OpenAiModelsController],
  providers: [ModelPullService, OpenAiModelsService],
})
export class ModelsModule {}
