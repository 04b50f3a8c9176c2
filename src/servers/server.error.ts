import { AppError } from '../common/errors/app-error';

/** 404 for a model the fleet has never run (no supervisor, hence no logs). */
export class ServerNotFoundError extends AppError {
  constructor(modelId: string) {
    super('ServerNotFound', 404, `No server has been run for model '${modelId}'`, { modelId }, 'server_not_found');
  }
}
