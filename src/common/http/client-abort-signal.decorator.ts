import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request, Response } from 'express';

/** An AbortSignal that fires when the client of `res` goes away before the answer is complete. */
export function clientAbortSignal(req: Request, res: Response): AbortSignal {
  const ctrl = new AbortController();
  if (req.socket?.destroyed) ctrl.abort();
  else
    res.once('close', () => {
      if (!res.writableFinished) ctrl.abort();
    });
  return ctrl.signal;
}

/**
 * The handler parameter form of clientAbortSignal(), so a handler can close what it does on
 * the client's behalf (an upstream request, an event stream) without taking `@Req()`.
 */
export const ClientAbortSignal = createParamDecorator((_: unknown, ctx: ExecutionContext): AbortSignal => {
  const http = ctx.switchToHttp();
  return clientAbortSignal(http.getRequest<Request>(), http.getResponse<Response>());
});
