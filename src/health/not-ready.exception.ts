import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import type { NotReadyResponseDto } from './dto/health.dto';

/** `/health/ready` answering 503: carries the probe body of API.md §7, not an error body. */
export class NotReadyException extends Error {
  constructor(readonly body: NotReadyResponseDto) {
    super('not ready');
  }
}

/**
 * Writes a NotReadyException as 503 with the probe body. Scoped to the readiness route:
 * API.md wants `{status: "not_ready", …}` there, where the global filter would write the
 * error shape.
 */
@Catch(NotReadyException)
export class NotReadyFilter implements ExceptionFilter {
  catch(exception: NotReadyException, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) return;
    res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
    res.status(503).json(exception.body);
  }
}
