import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { ErrorResponseDto, OpenAiErrorResponseDto } from './error-response.dto';

const DESCRIPTIONS: Record<number, string> = {
  400: 'Bad input (ValidationFailed, InvalidTier, InvalidProfileName, …)',
  401: 'Missing or invalid bearer token (when API_TOKENS is set)',
  404: 'Unknown model, profile, server or route',
  409: 'Conflict (exists, or the active profile)',
  413: 'Body too large',
  415: 'Unsupported body encoding (a compressed body)',
  422: 'A stored file is not valid',
  502: 'An upstream answered with an error',
  503: 'A dependency is not ready or cannot be reached',
};

/** Documents the error answers of a route in the one error shape. */
export function ApiErrors(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...[...new Set([...statuses, 401])].map((status) =>
      ApiResponse({ status, description: DESCRIPTIONS[status] ?? 'Error', type: ErrorResponseDto }),
    ),
  );
}

/** The same for /v1 routes, in OpenAI's error shape. */
export function ApiOpenAiErrors(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...[...new Set([...statuses, 401])].map((status) =>
      ApiResponse({ status, description: DESCRIPTIONS[status] ?? 'Error', type: OpenAiErrorResponseDto }),
    ),
  );
}
