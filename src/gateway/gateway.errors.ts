import { AppError, ValidationFailedError } from '../common/errors/app-error';
import { RequestBodyProblem } from './request-body';

/** 404 `model_not_found`: no alias, model id or tier of that name (and no LiteLLM to ask). */
export class ModelNotFoundGatewayError extends AppError {
  constructor(model: string, via?: string) {
    const how = via ? ` (alias of the active profile for '${via}')` : '';
    super(
      'ModelNotFound',
      404,
      `The model '${model}'${how} does not exist: it is not an alias of the active profile, a model id of the registry or a tier (fast, balanced, powerful)`,
      { model },
      'model_not_found',
    );
  }
}

/** 503 `model_not_running`: a known model or tier with no server that could answer. */
export class ModelNotRunningError extends AppError {
  constructor(model: string, reason: string) {
    super(
      'ModelNotRunning',
      503,
      `The model '${model}' is not running: ${reason}`,
      { model, reason },
      'model_not_running',
    );
  }
}

/** 502 `upstream_unavailable`: no server of the target could be connected to, retry included. */
export class UpstreamUnavailableError extends AppError {
  constructor(model: string, reason: string) {
    super(
      'UpstreamUnavailable',
      502,
      `No server of '${model}' could be reached: ${reason}`,
      { model, reason },
      'upstream_unavailable',
    );
  }
}

/** 503 `model_not_ready` with Retry-After: the target's servers were still starting at GATEWAY_QUEUE_TIMEOUT. */
export class QueueTimeoutError extends AppError {
  constructor(model: string, waitedSeconds: number, retryAfterSeconds: number) {
    super(
      'ModelStarting',
      503,
      `No server of '${model}' became ready within ${waitedSeconds} s; it is still starting`,
      { model, waitedSeconds },
      'model_not_ready',
      { 'Retry-After': String(retryAfterSeconds) },
    );
  }
}

/** 503 `insufficient_memory` with Retry-After: the request's load waited GATEWAY_QUEUE_TIMEOUT for room (API.md §9). */
export class InsufficientMemoryError extends AppError {
  constructor(model: string, waitedSeconds: number, retryAfterSeconds: number, reason: string | null) {
    super(
      'InsufficientMemory',
      503,
      `The model '${model}' waited ${waitedSeconds} s for room in the memory budget${reason ? `: ${reason}` : ''}`,
      { model, waitedSeconds, reason },
      'insufficient_memory',
      { 'Retry-After': String(retryAfterSeconds) },
    );
  }
}

/** 503 `model_not_ready` with Retry-After: the request's on-demand model was not loaded within GATEWAY_LOAD_TIMEOUT. */
export class LoadTimeoutError extends AppError {
  constructor(model: string, waitedSeconds: number, retryAfterSeconds: number) {
    super(
      'ModelStarting',
      503,
      `The model '${model}' was not loaded within GATEWAY_LOAD_TIMEOUT (${waitedSeconds} s); it is still loading`,
      { model, waitedSeconds },
      'model_not_ready',
      { 'Retry-After': String(retryAfterSeconds) },
    );
  }
}

/** The client went away before its answer: there is nobody to answer. */
export class ClientGoneError extends Error {
  constructor() {
    super('client disconnected');
  }
}

const BODY_ERRORS: Record<RequestBodyProblem, () => AppError> = {
  empty: () =>
    new ValidationFailedError('The request body must be a JSON object with a `model`', { body: ['is empty'] }),
  invalid_json: () => new AppError('ValidationFailed', 400, 'The request body is not valid JSON', {}, 'invalid_json'),
  not_an_object: () =>
    new ValidationFailedError('The request body must be a JSON object', { body: ['must be an object'] }),
  no_model: () =>
    new ValidationFailedError('You must provide a model parameter', { model: ['must be a non-empty string'] }),
};

/** The 400 for a body the gateway cannot route. */
export function bodyError(problem: RequestBodyProblem): AppError {
  return BODY_ERRORS[problem]();
}
