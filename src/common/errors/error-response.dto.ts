import { ApiProperty } from '@nestjs/swagger';

export class ErrorResponseDto {
  /**
   * Stable PascalCase error type.
   * @example ModelNotFound
   */
  error: string;
  /**
   * Human-readable explanation.
   * @example Model 'x' not found
   */
  message: string;
  /** Context of the error (offending fields, ids). */
  @ApiProperty({ type: 'object', additionalProperties: true, example: { modelId: 'x' } })
  details: Record<string, unknown>;
}

export class OpenAiErrorDetailDto {
  /** @example The model 'x' does not exist */
  message: string;
  /** @example invalid_request_error */
  type: string;
  /** @example null */
  @ApiProperty({ type: String, nullable: true, example: null })
  param: string | null;
  /** @example model_not_found */
  code: string;
}

export class OpenAiErrorResponseDto {
  error: OpenAiErrorDetailDto;
}
