import type { Request, Response } from 'express';

/** True when the client asked for `text/event-stream`. */
export function wantsEventStream(accept: string | undefined): boolean {
  return /\btext\/event-stream\b/i.test(accept ?? '');
}

/** An AbortSignal that fires when the client of `res` goes away before the answer is complete. */
export function clientGone(req: Request, res: Response): AbortSignal {
  const ctrl = new AbortController();
  if (req.socket?.destroyed) ctrl.abort();
  else
    res.once('close', () => {
      if (!res.writableFinished) ctrl.abort();
    });
  return ctrl.signal;
}

/**
 * Answers 200 `text/event-stream` and writes each event as `event: name` + one `data:` line
 * of JSON, unbuffered, then ends. Stops when the client goes away.
 */
export async function writeEventStream(
  res: Response,
  events: AsyncIterable<{ event: string; data: unknown }>,
): Promise<void> {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('Connection', 'keep-alive');
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
  try {
    for await (const e of events) {
      if (res.destroyed) break;
      res.write(`event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
    }
  } finally {
    if (!res.writableEnded) res.end();
  }
}
