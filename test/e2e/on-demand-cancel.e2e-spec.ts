/**
 * Loads nobody waits for (API.md §9) over real HTTP: a client that disconnects while its
 * on-demand model is queued or still starting (a slow stand-in load) cancels the load — the
 * queue entry is dropped, the starting process stopped, the server back to `unloaded` —
 * unless another client or a `POST …/load` still waits for it. A request that waits
 * GATEWAY_QUEUE_TIMEOUT for room is answered 503 insufficient_memory with Retry-After.
 */
import { isPidAlive, waitFor } from '../support/fixtures';
import { FleetApp, ServersBody, idOf, serverOf, startFleetApp } from './fleet.helpers';
import { MiB, chat, estimates, metric, openChat, sleep, waitForState } from './on-demand.helpers';

jest.setTimeout(60_000);

const QUEUE_TIMEOUT_SECONDS = 2;

describe('Cancelling loads nobody waits for', () => {
  let app: FleetApp;
  const [SLOW, BUSY, SMALL] = ['slow', 'busy', 'small'].map(idOf);
  const servers = async (): Promise<ServersBody> => (await app.get<ServersBody>('/api/models/servers')).body;
  const cancelled = (id: string) => metric(app, 'magi_fleet_unloads_total', { model_id: id, reason: 'cancelled' });
  const startsOf = (id: string) => app.events().filter((e) => e.event === 'start' && e.alias === id);

  beforeAll(async () => {
    app = await startFleetApp({
      models: ['slow', 'busy', 'small'],
      // Room for one of them at a time.
      weightsMiB: { slow: 300, busy: 300, small: 200 },
      server: { ctxSize: 512, parallel: 2 },
      profile: { onDemand: { models: ['*'], idleTimeoutSeconds: 600 }, memoryBudget: '400MiB' },
      standin: {
        '*': { LOAD_MS: 100, CHUNK_DELAY_MS: 5 },
        [SLOW]: { LOAD_MS: 2500 },
        // 250 ms a token: max_tokens says how long an answer keeps busy in flight.
        [BUSY]: { CHUNK_DELAY_MS: 250, CHUNKS: 40 },
      },
      env: { GATEWAY_QUEUE_TIMEOUT: String(QUEUE_TIMEOUT_SECONDS), GATEWAY_LOAD_TIMEOUT: '20' },
    });
    const est = await estimates(app);
    expect(est[SLOW] + est[SMALL]).toBeGreaterThan(400 * MiB);
    expect(est[BUSY] + est[SMALL]).toBeGreaterThan(400 * MiB);
  });
  afterAll(async () => app?.close());

  it('stops a starting load when its only client disconnects', async () => {
    const request = openChat(app, SLOW);
    const { server } = await waitForState(app, SLOW, 'starting');
    await waitFor(() => startsOf(SLOW).length === 1, 5000, 20, 'slow launched');
    const pid = startsOf(SLOW)[0].pid;
    request.abort();
    await waitForState(app, SLOW, 'unloaded', 5000);
    expect(server.state).toBe('starting');
    expect(isPidAlive(pid)).toBe(false);
    expect(app.events().some((e) => e.pid === pid && e.event === 'sigterm')).toBe(true);
    // Stopped before its 2.5 s load ended, not left to finish.
    expect(app.events().some((e) => e.pid === pid && e.event === 'ready')).toBe(false);
    expect(await cancelled(SLOW)).toBe(1);
    expect((await servers()).memory.reservedBytes).toBe(0);

    // The next load is counted for what asked for it, not for the cancelled one.
    expect((await app.send('POST', `/api/models/servers/${SLOW}/load`)).status).toBe(202);
    expect(await metric(app, 'magi_fleet_loads_total', { model_id: SLOW, trigger: 'api' })).toBe(1);
    expect(await metric(app, 'magi_fleet_loads_total', { model_id: SLOW, trigger: 'request' })).toBe(1);
    expect((await app.send('POST', `/api/models/servers/${SLOW}/unload`)).status).toBe(200);
  });

  it('drops a queued load from the queue when its only client disconnects', async () => {
    // busy holds the room with an answer in flight for 5 s.
    const stream = openChat(app, BUSY, { max_tokens: 20, stream: true });
    await waitFor(async () => serverOf(await servers(), BUSY).inFlight === 1, 5000, 20, 'busy in flight');
    const before = await cancelled(SMALL);
    const request = openChat(app, SMALL);
    await waitForState(app, SMALL, 'queued');
    request.abort();
    const { server } = await waitForState(app, SMALL, 'unloaded', 3000);
    expect(server.pid).toBeNull();
    expect(await cancelled(SMALL)).toBe(before + 1);
    // It never started, and does not start once busy goes idle.
    stream.abort();
    await waitFor(async () => serverOf(await servers(), BUSY).inFlight === 0, 5000, 20, 'busy idle');
    await sleep(500);
    expect(startsOf(SMALL)).toEqual([]);
    expect(serverOf(await servers(), SMALL).state).toBe('unloaded');
  });

  it('keeps the load while another client still waits for it', async () => {
    await app.send('POST', `/api/models/servers/${BUSY}/unload`);
    const leaving = openChat(app, SLOW);
    const staying = openChat(app, SLOW);
    await waitForState(app, SLOW, 'starting');
    await sleep(200);
    leaving.abort();
    await sleep(300);
    expect(serverOf(await servers(), SLOW).state).toBe('starting');
    const res = await staying.answer;
    expect(res.status).toBe(200);
    expect(res.headers['x-magi-model']).toBe(SLOW);
    expect(await cancelled(SLOW)).toBe(1);
  });

  it('never cancels a load asked for through the API, even when a client that joined it disconnects', async () => {
    expect((await app.send('POST', `/api/models/servers/${SLOW}/unload`)).status).toBe(200);
    const load = await app.send('POST', `/api/models/servers/${SLOW}/load`);
    expect(load.status).toBe(202);
    expect(load.body).toEqual({ modelId: SLOW, state: 'starting' });
    const request = openChat(app, SLOW);
    await sleep(300);
    request.abort();
    const { server } = await waitForState(app, SLOW, 'ready', 10_000);
    expect(isPidAlive(server.pid)).toBe(true);
    expect(await cancelled(SLOW)).toBe(1);
    expect(await metric(app, 'magi_fleet_loads_total', { model_id: SLOW, trigger: 'api' })).toBe(2);
  });

  it('answers 503 insufficient_memory with Retry-After after GATEWAY_QUEUE_TIMEOUT, and cancels that load', async () => {
    await app.send('POST', `/api/models/servers/${SLOW}/unload`);
    const stream = openChat(app, BUSY, { max_tokens: 24, stream: true });
    await waitFor(async () => serverOf(await servers(), BUSY).inFlight === 1, 10_000, 20, 'busy in flight');
    const before = await cancelled(SMALL);
    const sent = Date.now();
    const res = await chat(app, SMALL);
    const waited = Date.now() - sent;
    expect(res.status).toBe(503);
    expect(waited).toBeGreaterThanOrEqual(QUEUE_TIMEOUT_SECONDS * 1000 - 50);
    // The queue timeout, not the 6 s answer it waited behind.
    expect(waited).toBeLessThan(QUEUE_TIMEOUT_SECONDS * 1000 + 3000);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(res.json().error).toMatchObject({ code: 'insufficient_memory', type: 'server_error' });
    expect(res.json().error.message).toContain(SMALL);
    await waitForState(app, SMALL, 'unloaded', 3000);
    expect(await cancelled(SMALL)).toBe(before + 1);
    stream.abort();
  });
});

describe('A request that waited GATEWAY_LOAD_TIMEOUT for its load', () => {
  let app: FleetApp;
  const LAZY = idOf('lazy');

  beforeAll(async () => {
    app = await startFleetApp({
      models: ['lazy'],
      weightsMiB: { lazy: 300 },
      server: { ctxSize: 512, parallel: 1 },
      profile: { onDemand: { models: ['*'], idleTimeoutSeconds: 600 }, memoryBudget: '400MiB' },
      // Loads in 2.5 s, longer than the 1 s a request waits for it.
      standin: { '*': { LOAD_MS: 2500 } },
      env: { GATEWAY_LOAD_TIMEOUT: '1' },
    });
  });
  afterAll(async () => app?.close());

  it('is told to come back (503 model_not_ready, Retry-After) and the load goes on for its retry', async () => {
    const res = await chat(app, LAZY);
    expect(res.status).toBe(503);
    expect(res.json().error.code).toBe('model_not_ready');
    expect(res.headers['retry-after']).toMatch(/^\d+$/);
    // Not cancelled: the same process becomes ready, and the retry is served by it.
    const { server } = await waitForState(app, LAZY, 'ready', 10_000);
    const launched = app.events().filter((e) => e.event === 'start' && e.alias === LAZY);
    expect(launched.map((e) => e.pid)).toEqual([server.pid]);
    expect(await metric(app, 'magi_fleet_unloads_total', { model_id: LAZY, reason: 'cancelled' })).toBe(0);
    const retry = await chat(app, LAZY);
    expect(retry.status).toBe(200);
    expect(retry.headers['x-magi-model']).toBe(LAZY);
  });
});

describe('Shutting down with a load in the queue', () => {
  let app: FleetApp;
  const [BUSY, QUEUED] = ['busy', 'queued'].map(idOf);

  beforeAll(async () => {
    app = await startFleetApp({
      models: ['busy', 'queued'],
      weightsMiB: { busy: 300, queued: 300 },
      server: { ctxSize: 512, parallel: 1 },
      profile: { onDemand: { models: ['*'], idleTimeoutSeconds: 600 }, memoryBudget: '400MiB' },
      standin: { '*': { LOAD_MS: 100, CHUNK_DELAY_MS: 200, CHUNKS: 50 } },
      env: { GATEWAY_QUEUE_TIMEOUT: '30' },
    });
  });
  afterAll(async () => app?.close());

  it('answers the waiting request at once and launches nothing once the fleet stops', async () => {
    const stream = openChat(app, BUSY, { max_tokens: 40, stream: true });
    await waitFor(
      async () => serverOf((await app.get<ServersBody>('/api/models/servers')).body, BUSY).inFlight === 1,
      5000,
      20,
      'busy in flight',
    );
    const waiting = openChat(app, QUEUED);
    await waitForState(app, QUEUED, 'queued');
    const closing = Date.now();
    // Stopping busy frees the room the queued load waits for: it must not start now.
    await app.closeApp();
    const res = await waiting.answer;
    expect(res.status).toBe(503);
    expect(res.json().error.code).toBe('model_not_running');
    // Answered by the shutdown, not left to its 30 s queue timeout.
    expect(res.at - closing).toBeLessThan(10_000);
    expect(app.events().filter((e) => e.alias === QUEUED)).toEqual([]);
    await stream.answer.catch(() => undefined);
    // close() also checks that no stand-in process is left behind.
  });
});
