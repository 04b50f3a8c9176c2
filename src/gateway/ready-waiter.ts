import { Inject, Injectable } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { ClientGoneError, ModelNotRunningError, QueueTimeoutError } from './gateway.errors';
import type { FleetRoute, GatewayRoute } from './route-table';

/** A wait also re-checks this often, in case a change was missed. */
const RECHECK_MS = 1000;

/**
 * Holds a request whose target has servers starting but none ready (API.md §8): re-resolves
 * its route on every fleet change and returns it once a server is ready. Ends with 503
 * `model_not_running` when nothing of the target is starting any more, 503 with Retry-After
 * after GATEWAY_QUEUE_TIMEOUT, or ClientGoneError when `gone` aborts (the client left).
 */
@Injectable()
export class ReadyWaiter {
  private readonly timeoutMs: number;
  private readonly retryAfterSeconds: number;

  constructor(@Inject(magiConfig.KEY) config: MagiConfig) {
    this.timeoutMs = config.gateway.queueTimeout * 1000;
    this.retryAfterSeconds = Math.max(1, Math.min(30, Math.ceil(config.gateway.queueTimeout)));
  }

  /**
   * @param name the target, for error messages
   * @param resolve the request's route now (it may throw the route's 404/503)
   * @param changes$ emits whenever the fleet changed
   */
  waitForReady(
    name: string,
    resolve: () => GatewayRoute,
    changes$: Observable<unknown>,
    gone: AbortSignal,
  ): Promise<FleetRoute> {
    if (gone.aborted) return Promise.reject(new ClientGoneError());
    return new Promise((fulfil, reject) => {
      let finished = false;
      const check = (): void => {
        try {
          const r = resolve();
          if (r.kind !== 'fleet') done(new ModelNotRunningError(name, 'the active profile changed'));
          else if (r.ready.length > 0) done(null, r);
          else if (r.pending === 0) done(new ModelNotRunningError(name, 'no server of it is starting any more'));
        } catch (e) {
          done(e);
        }
      };
      const onGone = (): void => done(new ClientGoneError());
      const timer = setTimeout(
        () => done(new QueueTimeoutError(name, this.timeoutMs / 1000, this.retryAfterSeconds)),
        this.timeoutMs,
      );
      const poll = setInterval(check, RECHECK_MS);
      const subscription = changes$.subscribe(check);
      gone.addEventListener('abort', onGone);
      // A declaration, so the callbacks above may call it; everything it clears exists by then.
      function done(error: unknown, ready?: FleetRoute): void {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
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
