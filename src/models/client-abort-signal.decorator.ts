import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request, Response } from 'express';

/**
 * An AbortSignal that fires when the client goes away before the answer is complete,
 * so a handler can close the request it made upstream on the client's behalf.
 */
export const ClientAbortSignal = createParamDecorator((_: unknown, ctx: ExecutionContext): AbortSignal => {
  const req = ctx.switchToHttp().getRequest<Request>();
  const res = ctx.switchToHttp().getResponse<Response>();
  const ctrl = new AbortController();
  if (req.socket?.destroyed) ctrl.abort();
  else
    res.once('close', () => {
      if (!res.writableFinished) ctrl.abort();
    });
  return ctrl.signal;
});
