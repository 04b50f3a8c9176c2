import { ValidationError, ValidationPipe } from '@nestjs/common';
import { ValidationFailedError } from './app-error';

/** Flattens nested class-validator errors into `{ "a.b[0].c": ["reason", …] }`. */
export function flattenValidationErrors(errors: ValidationError[], prefix = ''): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const e of errors) {
    const key = prefix
      ? /^\d+$/.test(e.property)
        ? `${prefix}[${e.property}]`
        : `${prefix}.${e.property}`
      : e.property;
    if (e.constraints) out[key] = Object.values(e.constraints);
    if (e.children?.length) Object.assign(out, flattenValidationErrors(e.children, key));
  }
  return out;
}

/** The global pipe: whitelist + reject unknown keys, errors as ValidationFailed with each field. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    forbidUnknownValues: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => {
      const fields = flattenValidationErrors(errors);
      const names = Object.keys(fields);
      return new ValidationFailedError(names.length ? `Invalid request: ${names.join(', ')}` : 'Invalid request body', {
        fields,
      });
    },
  });
}
