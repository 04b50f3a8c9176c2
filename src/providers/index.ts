/**
 * ProvidersModule's public surface: the one file other modules import from `providers/`.
 * The module, its exported service with the types of its answers, and the readers of
 * upstream answers that other modules reuse (the models module reads LiteLLM's list and
 * Ollama's pull errors with them). Everything else in this folder is the module's own.
 */
export { ProvidersModule } from './providers.module';
export { NO_PROVIDERS_AVAILABLE, ProviderStatusService } from './provider-status.service';
export type { ActiveProvider } from './provider-status.service';
export type { ProviderHealth, ProviderModel } from './llm-provider';
export { failureReason, httpErrorReason, unexpectedAnswer, upstreamMessage } from './llm-provider';
export { readLiteLlmModels } from './provider-answers';
