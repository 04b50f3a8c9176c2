import { Inject, Injectable } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import type { LoadTicket } from '../servers/load-scheduler';
import {
  ClientGoneError,
  InsufficientMemoryError,
  LoadTimeoutError,
  ModelNotRunningError,
  QueueTimeoutError,
} from './gateway.errors';
import type { FleetRoute, GatewayRoute } from './route-table';

/** A wait also re-checks this often, in case a change was missed. */
const RECHECK_MS = 1000;

const retryAfter = (seconds: number): number => Math.max(1, Math.min(30, Math.ceil(seconds)));

/**
 * Holds a request whose target has no ready server (API.md §8, §9): re-resolves its route on
 * every fleet change and returns it once a server is ready.
 * - Waiting for servers that start by themselves: 503 `model_not_ready` with Retry-After after
 *   GATEWAY_QUEUE_TIMEOUT; 503 `model_not_running` once nothing of the target is starting.
 * - Waiting for an on-demand load (a ticket): while the load is queued for room, up to
 *   GATEWAY_QUEUE_TIMEOUT, then 503 `insufficient_memory`; once it starts, up to
 *   GATEWAY_LOAD_TIMEOUT from then, then 503 `model_not_ready`; a refusal or a failed load
 *   ends the wait with its reason.
 * ClientGoneError when `gone` aborts (the client left).
 */
@Injectable()
export class ReadyWaiter {
  private readonly queueTimeoutMs: number;
  private readonly loadTimeoutMs: number;

  constructor(@Inject(magiConfig.KEY) config: MagiConfig) {
    this.queueTimeoutMs = config.gateway.queueTimeout * 1000;
    this.loadTimeoutMs = config.gateway.loadTimeout * 1000;
  }

  /**
   * @param name the target, for error messages
   * @param resolve the request's route now (it may throw the route's 404/503)
   * @param changes$ emits whenever the fleet changed
   * @param ticket the on-demand load this request waits for, if any
   */
  waitForReady(
    name: string,
    resolve: () => GatewayRoute,
    changes$: Observable<unknown>,
    gone: AbortSignal,
    ticket: LoadTicket | null = null,
  ): Promise<FleetRoute> {
    if (gone.aborted) return Promise.reject(new ClientGoneError());
    const since = performance.now();
    return new Promise((fulfil, reject) => {
      let finished = false;
      let timer: NodeJS.Timeout | null = null;
      let armedFor: 'queue' | 'load' | null = null;
      const arm = (kind: 'queue' | 'load', fromMs: number): void => {
        if (armedFor === kind) return;
        armedFor = kind;
        if (timer) clearTimeout(timer);
        const limitMs = kind === 'queue' ? this.queueTimeoutMs : this.loadTimeoutMs;
        const seconds = limitMs / 1000;
        timer = setTimeout(
          () => {
            if (!ticket) done(new QueueTimeoutError(name, seconds, retryAfter(seconds)));
            else if (kind === 'queue')
              done(new InsufficientMemoryError(name, seconds, retryAfter(seconds), ticket.lastError()));
            else done(new LoadTimeoutError(name, seconds, retryAfter(seconds)));
          },
          Math.max(0, fromMs + limitMs - performance.now()),
        );
      };
      const check = (): void => {
        try {
          const refusal = ticket?.error();
          if (refusal) return done(refusal);
          const r = resolve();
          if (r.kind !== 'fleet') return done(new ModelNotRunningError(name, 'the active profile changed'));
          if (r.ready.length > 0) return done(null, r);
          if (!ticket) {
            if (r.pending === 0) done(new ModelNotRunningError(name, 'no server of it is starting any more'));
            return;
          }
          const phase = ticket.phase();
          if (phase === 'queued') arm('queue', since);
          else if (phase === 'loading') arm('load', armedFor === 'load' ? since : performance.now());
          else if (r.pending === 0) {
            const why = ticket.lastError();
            done(new ModelNotRunningError(name, why ? `its load did not succeed: ${why}` : 'its load was stopped'));
          }
        } catch (e) {
          done(e);
        }
      };
      const onGone = (): void => done(new ClientGoneError());
      if (!ticket) arm('queue', since);
      const poll = setInterval(check, RECHECK_MS);
      const subscription = changes$.subscribe(check);
      gone.addEventListener('abort', onGone);
      // A declaration, so the callbacks above may call it; everything it clears exists by then.
      function done(error: unknown, ready?: FleetRoute): void {
        if (finished) return;
        finished = true;
        if (timer) clearTimeout(timer);
        clearInterval(poll);
        subscription.unsubscribe();
        gone.removeEventListener('abort', onGone);
        if (ready) fulfil(ready);
        else reject(error);
      }
      check();
    });
  }
}
