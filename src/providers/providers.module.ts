import { Module } from '@nestjs/common';
import { ServersModule } from '../servers/servers.module';
import { LlamaCppHealthService } from './llamacpp-health.service';
import { LLM_PROVIDERS, LlmProvider } from './llm-provider';
import { LlmStatusController } from './llm-status.controller';
import { LmStudioHealthService } from './lmstudio-health.service';
import { OllamaHealthService } from './ollama-health.service';
import { OpenAiHealthService } from './openai-health.service';
import { ProviderMetrics } from './provider-metrics';
import { ProviderStatusService } from './provider-status.service';

/** One health-check service per LLM provider, gathered under LLM_PROVIDERS; ProviderStatusService on top. */
@Module({
  imports: [ServersModule],
  controllers: [LlmStatusController],
  providers: [
    OpenAiHealthService,
    LmStudioHealthService,
    OllamaHealthService,
    LlamaCppHealthService,
    {
      provide: LLM_PROVIDERS,
      inject: [OpenAiHealthService, LmStudioHealthService, OllamaHealthService, LlamaCppHealthService],
      useFactory: (...all: LlmProvider[]): LlmProvider[] => all,
    },
    ProviderStatusService,
    ProviderMetrics,
  ],
  exports: [ProviderStatusService],
})
export class ProvidersModule {}
