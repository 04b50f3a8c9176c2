import { TIERS } from '../vocabulary/tiers';

/**
 * The one error type domain code throws. The filter turns it into
 * `{error, message, details}` (or OpenAI's shape under /v1). Services stay HTTP-free
 * apart from the status number they pick.
 */
export class AppError extends Error {
  constructor(
    /** Stable PascalCase type, e.g. `ModelNotFound`. */
    readonly type: string,
    readonly status: number,
    message: string,
    readonly details: Record<string, unknown> = {},
    /** OpenAI-style code for /v1 answers, e.g. `model_not_found`. */
    readonly openAiCode?: string,
    /** Extra response headers (e.g. Retry-After). */
    readonly headers?: Record<string, string>,
    /** Extra fields of the OpenAI-shaped error object under /v1 (e.g. `needBytes`). */
    readonly openAiFields?: Record<string, unknown>,
  ) {
    super(message);
    this.name = type;
  }
}

export class ValidationFailedError extends AppError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('ValidationFailed', 400, message, details, 'invalid_request_error');
  }
}

export class ModelNotFoundError extends AppError {
  constructor(modelId: string) {
    super('ModelNotFound', 404, `Model '${modelId}' not found`, { modelId }, 'model_not_found');
  }
}

export class InvalidTierError extends AppError {
  constructor(tier: unknown) {
    super('InvalidTier', 400, `Invalid tier: ${String(tier)}. Must be one of ${TIERS.join(', ')}`, {
      tier,
      allowed: [...TIERS],
    });
  }
}

export class ProfileNotFoundError extends AppError {
  constructor(name: string) {
    super('ProfileNotFound', 404, `Profile '${name}' not found`, { profileName: name });
  }
}

export class ProviderUnavailableError extends AppError {
  constructor(provider: string, reason: string) {
    super('ProviderUnavailable', 503, `Provider '${provider}' is unavailable: ${reason}`, { provider, reason });
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'Missing or invalid bearer token') {
    super('Unauthorized', 401, message, {}, 'invalid_api_key', { 'WWW-Authenticate': 'Bearer' });
  }
}

/** A body over its route's limit (body-parser's errors map to it too). */
export class PayloadTooLargeError extends AppError {
  constructor() {
    super('PayloadTooLarge', 413, 'Request body is too large', {}, 'payload_too_large');
  }
}
