import { AppError } from '../common/errors/app-error';

/** The active provider cannot do what was asked (pulls are Ollama's only). */
export class UnsupportedProviderError extends AppError {
  constructor(provider: string, action: string, supported: string[]) {
    super(
      'UnsupportedProvider',
      400,
      `${action} is supported by ${supported.join(', ')} only; the active provider is ${provider}`,
      { provider, supported },
      'unsupported_provider',
    );
  }
}

/** An upstream answered, but with an error (its own text is in the message). */
export class UpstreamError extends AppError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('UpstreamError', 502, message, details, 'upstream_error');
  }
}
