import { AppError } from '../common/errors/app-error';
import { formatBytes } from '../common/units/memory-size';

/** 404 for a model the fleet has never run (no supervisor, hence no logs), or that the active profile does not enable. */
export class ServerNotFoundError extends AppError {
  constructor(modelId: string, why = `No server has been run for model '${modelId}'`) {
    super('ServerNotFound', 404, why, { modelId }, 'server_not_found');
  }
}

/** 503 `model_too_large`: the model's estimate alone exceeds the memory budget (API.md §9). */
export class ModelTooLargeError extends AppError {
  constructor(modelId: string, needBytes: number, budgetBytes: number) {
    const figures = { modelId, needBytes, budgetBytes };
    super(
      'ModelTooLarge',
      503,
      `The model '${modelId}' needs ${formatBytes(needBytes)}, more than the whole memory budget of ${formatBytes(budgetBytes)}`,
      figures,
      'model_too_large',
      undefined,
      figures,
    );
  }
}
