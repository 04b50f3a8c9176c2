import { AppError } from '../common/errors/app-error';
import type { MemorySettings } from './memory';

/** 400: settings llama-server itself refuses for this model (it would exit while creating the context). */
export class InvalidMemorySettingsError extends AppError {
  constructor(modelId: string, reason: string, settings: MemorySettings) {
    super('InvalidMemorySettings', 400, `llama-server would refuse these settings for model '${modelId}': ${reason}`, {
      modelId,
      reason,
      settings,
    });
  }
}

/** 422: the model's GGUF header does not tell what the estimate needs, whatever the settings. */
export class MemoryEstimateUnavailableError extends AppError {
  constructor(modelId: string, architecture: string | null) {
    const reason =
      'its GGUF header lacks what the estimate needs: tensor infos of known types, a memory layout known for ' +
      `its architecture${architecture ? ` (${architecture})` : ''}, or the hyperparameters (block count, ` +
      'embedding length, context length, vocabulary)';
    super('MemoryEstimateUnavailable', 422, `No memory estimate for model '${modelId}': ${reason}`, {
      modelId,
      architecture,
      reason,
    });
  }
}
