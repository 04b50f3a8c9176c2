import { ApiProperty } from '@nestjs/swagger';

export class ErrorResponseDto {
  /**
   * Stable PascalCase error type.
   * @example ModelNotFound
   */
  error: string;
  /**
   * Human-readable explanation.
   * @example "Model 'x' not found"
   */
  message: string;
  /** Context of the error (offending fields, ids). */
  @ApiProperty({ type: 'object', additionalProperties: true, example: { modelId: 'x' } })
  details: Record<string, unknown>;
}

export class OpenAiErrorDetailDto {
  /**
   * Human-readable explanation.
   * @example "The model 'x' does not exist"
   */
  message: string;
  /**
   * OpenAI error type.
   * @example invalid_request_error
   */
  type: string;
  /** The offending parameter, when one is known. */
  @ApiProperty({
    type: String,
    nullable: true,
    example: null,
    description: 'The offending parameter, when one is known.',
  })
  param: string | null;
  /**
   * Stable machine-readable code.
   * @example model_not_found
   */
  code: string;
}

export class OpenAiErrorResponseDto {
  /** The error, in OpenAI's shape. */
  error: OpenAiErrorDetailDto;
}
