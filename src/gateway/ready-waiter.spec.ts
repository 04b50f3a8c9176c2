import { Subject } from 'rxjs';
import { loadMagiConfig } from '../config/load-config';
import { ClientGoneError, ModelNotFoundGatewayError, ModelNotRunningError, QueueTimeoutError } from './gateway.errors';
import { ReadyWaiter } from './ready-waiter';
import type { FleetRoute, GatewayRoute } from './route-table';

const starting = (pending = 1): FleetRoute => ({
  kind: 'fleet',
  target: { kind: 'tier', tier: 'fast' },
  key: 'tier:fast',
  load: null,
  ready: [],
  pending,
  strategy: 'round_robin',
});
const ready: FleetRoute = { ...starting(0), ready: [{ modelId: 'qwen3_4b_q4km', host: '127.0.0.1', port: 8081 }] };

describe('ReadyWaiter.waitForReady', () => {
  const sut = new ReadyWaiter(loadMagiConfig({ GATEWAY_QUEUE_TIMEOUT: '0.3' }));
  let changes: Subject<void>;
  let route: GatewayRoute;
  const resolve = (): GatewayRoute => route;

  beforeEach(() => {
    changes = new Subject<void>();
    route = starting();
  });
  afterEach(() => {
    // Every wait has let go of the changes it listened to.
    expect(changes.observed).toBe(false);
  });

  it('answers the route as soon as a change makes a server of it ready', async () => {
    const wait = sut.waitForReady('fast', resolve, changes, new AbortController().signal);
    changes.next();
    route = ready;
    changes.next();
    await expect(wait).resolves.toBe(ready);
  });

  it('answers at once when the route is ready by the time it is asked', async () => {
    route = ready;
    await expect(sut.waitForReady('fast', resolve, changes, new AbortController().signal)).resolves.toBe(ready);
  });

  it('is 503 model_not_running when nothing of the target is starting any more', async () => {
    const wait = sut.waitForReady('fast', resolve, changes, new AbortController().signal);
    route = starting(0);
    changes.next();
    await expect(wait).rejects.toBeInstanceOf(ModelNotRunningError);
  });

  it('is 503 model_not_running when the active profile sends the name elsewhere', async () => {
    const wait = sut.waitForReady('fast', resolve, changes, new AbortController().signal);
    route = { kind: 'litellm', model: 'fast' };
    changes.next();
    await expect(wait).rejects.toThrow(/the active profile changed/);
  });

  it('passes on what routing throws (the name no longer exists)', async () => {
    const gone = new ModelNotFoundGatewayError('fast');
    let exists = true;
    const routing = (): GatewayRoute => {
      if (!exists) throw gone;
      return route;
    };
    const wait = sut.waitForReady('fast', routing, changes, new AbortController().signal);
    exists = false;
    changes.next();
    await expect(wait).rejects.toBe(gone);
  });

  it('is 503 with Retry-After after GATEWAY_QUEUE_TIMEOUT', async () => {
    const started = performance.now();
    const error = await sut.waitForReady('fast', resolve, changes, new AbortController().signal).catch((e) => e);
    expect(error).toBeInstanceOf(QueueTimeoutError);
    expect((error as QueueTimeoutError).headers).toEqual({ 'Retry-After': '1' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('ends with ClientGoneError when the client leaves, before or during the wait', async () => {
    const left = new AbortController();
    left.abort();
    await expect(sut.waitForReady('fast', resolve, changes, left.signal)).rejects.toBeInstanceOf(ClientGoneError);
    const leaving = new AbortController();
    const wait = sut.waitForReady('fast', resolve, changes, leaving.signal);
    leaving.abort();
    await expect(wait).rejects.toBeInstanceOf(ClientGoneError);
  });
});
