import { Subject } from 'rxjs';
import type { AppError } from '../common/errors/app-error';
import { loadMagiConfig } from '../config/load-config';
import type { LoadTicket } from '../servers/load-scheduler';
import { ModelTooLargeError } from '../servers/server.error';
import {
  ClientGoneError,
  InsufficientMemoryError,
  LoadTimeoutError,
  ModelNotFoundGatewayError,
  ModelNotRunningError,
  QueueTimeoutError,
} from './gateway.errors';
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

/** A load ticket whose phase, refusal and reason the test sets. */
class FakeTicket implements LoadTicket {
  readonly modelId = 'qwen3_4b_q4km';
  phaseNow: ReturnType<LoadTicket['phase']> = 'queued';
  refusal: AppError | null = null;
  reason: string | null = 'Waiting for room (needs 4.0 GiB, 1.0 GiB free of 8.0 GiB)';
  released = false;

  phase(): ReturnType<LoadTicket['phase']> {
    return this.phaseNow;
  }
  error(): AppError | null {
    return this.refusal;
  }
  lastError(): string | null {
    return this.reason;
  }
  release(): void {
    this.released = true;
  }
}

describe('ReadyWaiter.waitForReady with an on-demand load ticket', () => {
  // Queue 0.3 s, load 0.4 s.
  const sut = new ReadyWaiter(loadMagiConfig({ GATEWAY_QUEUE_TIMEOUT: '0.3', GATEWAY_LOAD_TIMEOUT: '0.4' }));
  const loadRoute = (pending = 1): FleetRoute => ({
    kind: 'fleet',
    target: { kind: 'model', modelId: 'qwen3_4b_q4km' },
    key: 'qwen3_4b_q4km',
    load: 'qwen3_4b_q4km',
    ready: [],
    pending,
    strategy: 'round_robin',
  });
  const readyRoute: FleetRoute = {
    ...loadRoute(0),
    load: null,
    ready: [{ modelId: 'qwen3_4b_q4km', host: '127.0.0.1', port: 8081 }],
  };
  let changes: Subject<void>;
  let route: GatewayRoute;
  let ticket: FakeTicket;
  const resolve = (): GatewayRoute => route;
  const wait = () => sut.waitForReady('qwen3_4b_q4km', resolve, changes, new AbortController().signal, ticket);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  beforeEach(() => {
    changes = new Subject<void>();
    route = loadRoute();
    ticket = new FakeTicket();
  });
  afterEach(() => expect(changes.observed).toBe(false));

  it('is 503 insufficient_memory with Retry-After and the queue reason once queued for GATEWAY_QUEUE_TIMEOUT', async () => {
    const started = performance.now();
    const error = await wait().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InsufficientMemoryError);
    const e = error as InsufficientMemoryError;
    expect(e.openAiCode).toBe('insufficient_memory');
    expect(e.status).toBe(503);
    expect(e.headers).toEqual({ 'Retry-After': '1' });
    expect(e.message).toContain(ticket.reason);
    expect(e.details).toMatchObject({ model: 'qwen3_4b_q4km', waitedSeconds: 0.3, reason: ticket.reason });
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('counts GATEWAY_LOAD_TIMEOUT from the start of the load, not from the request, then is 503 model_not_ready', async () => {
    const started = performance.now();
    const waiting = wait().catch((e: unknown) => e);
    // Queued for 0.2 s (under the queue timeout), then loading.
    await sleep(200);
    ticket.phaseNow = 'loading';
    const loadStarted = performance.now();
    changes.next();
    const error = await waiting;
    // Past the queue timeout as a whole, but loading: no insufficient_memory.
    expect(error).toBeInstanceOf(LoadTimeoutError);
    const e = error as LoadTimeoutError;
    expect(e.openAiCode).toBe('model_not_ready');
    expect(e.headers).toEqual({ 'Retry-After': '1' });
    expect(performance.now() - loadStarted).toBeGreaterThanOrEqual(390);
    expect(performance.now() - started).toBeGreaterThanOrEqual(590);
  });

  it('answers the route once the load is ready', async () => {
    const waiting = wait();
    ticket.phaseNow = 'loading';
    changes.next();
    await sleep(50);
    ticket.phaseNow = 'ready';
    route = readyRoute;
    changes.next();
    await expect(waiting).resolves.toBe(readyRoute);
  });

  it('ends the wait with a refusal at once (the budget shrank below the model)', async () => {
    const waiting = wait();
    const refusal = new ModelTooLargeError('qwen3_4b_q4km', 9 * 1024 ** 3, 8 * 1024 ** 3);
    ticket.refusal = refusal;
    changes.next();
    await expect(waiting).rejects.toBe(refusal);
  });

  it('is 503 model_not_running with the reason when the load failed', async () => {
    const waiting = wait();
    ticket.phaseNow = 'idle';
    ticket.reason = 'gave up after 5 failures within 600 s';
    route = loadRoute(0);
    changes.next();
    const error = await waiting.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelNotRunningError);
    expect((error as Error).message).toContain('its load did not succeed: gave up after 5 failures');
  });

  it('ends with ClientGoneError when the client leaves while its load is queued', async () => {
    const leaving = new AbortController();
    const waiting = sut.waitForReady('qwen3_4b_q4km', resolve, changes, leaving.signal, ticket);
    leaving.abort();
    await expect(waiting).rejects.toBeInstanceOf(ClientGoneError);
  });
});
