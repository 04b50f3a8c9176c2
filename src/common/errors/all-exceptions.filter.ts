import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AppError } from './app-error';
import { toAppError, writeError } from './error-writer';

/** The global filter: every exception leaves through writeError, stacks only reach the log. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger(AllExceptionsFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<Request>();
    const res = ctx.getResponse<Response>();
    const error = toAppError(exception, req);
    if (error.status >= 500 && !(exception instanceof AppError)) {
      this.logger.error({ err: exception, path: req?.path, method: req?.method }, 'Unexpected error');
    }
    writeError(req, res, error);
  }
}
