import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { ValidationFailedError } from '../common/errors/app-error';
import { PROFILE_SHAPE_LIMITS, plainShapeProblem } from './plain-shape';

/**
 * Refuses profile bodies that are nested too deeply or hold too many values before the
 * global ValidationPipe sees them: class-transformer walks bodies recursively, and a few
 * thousand nested arrays would overflow the stack there (a 500 instead of a 400).
 */
@Injectable()
export class ProfileBodyShapeMiddleware implements NestMiddleware {
  use(req: Request, _res: Response, next: NextFunction): void {
    const body: unknown = req.body;
    if (body !== null && typeof body === 'object') {
      const problem = plainShapeProblem(body, PROFILE_SHAPE_LIMITS);
      if (problem) throw new ValidationFailedError(`Invalid request body: it ${problem}`, { reason: `the body ${problem}` });
    }
    next();
  }
}
