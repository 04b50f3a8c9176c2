import type { Response } from 'express';

/** One server-sent event: `event: name` (when named) and its data as one `data:` line of JSON. */
export interface ServerSentEvent {
  /** Omitted for unnamed events. */
  event?: string;
  data: unknown;
}

/** True when the client asked for `text/event-stream`. */
export function acceptsEventStream(accept: string | undefined): boolean {
  return /\btext\/event-stream\b/i.test(accept ?? '');
}

/** One SSE frame: `event: name` (when named) and one `data:` line of JSON. */
export function sseFrame(e: ServerSentEvent): string {
  return `${e.event ? `event: ${e.event}\n` : ''}data: ${JSON.stringify(e.data)}\n\n`;
}

/**
 * Answers 200 `text/event-stream` and writes each event as it comes, unbuffered (no proxy
 * buffering either), then ends. Stops reading `events` when the client goes away.
 */
export async function writeEventStream(res: Response, events: AsyncIterable<ServerSentEvent>): Promise<void> {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('Connection', 'keep-alive');
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
  try {
    for await (const e of events) {
      if (res.destroyed) break;
      res.write(sseFrame(e));
    }
  } finally {
    if (!res.writableEnded) res.end();
  }
}
