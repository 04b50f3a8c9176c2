import { Injectable } from '@nestjs/common';

/** Time port: lets back-off and readiness loops be driven by a fake clock where a test needs it. */
export abstract class Clock {
  abstract now(): number;
  abstract sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

@Injectable()
export class SystemClock extends Clock {
  now(): number {
    return Date.now();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
