/**
 * Making room for a load (API.md §9, docs/scheduling.md) over real HTTP: with room for fewer
 * on-demand servers than are asked for, idle ones stop least recently used first — never one
 * with a request in flight (a slow streamed answer holds one), never an `always` one — and a
 * load that finds nothing idle waits `queued` until a busy server goes idle. maxRunning
 * limits the fleet the same way when the memory budget is off.
 */
import { isPidAlive, waitFor } from '../support/fixtures';
import { FleetApp, ServersBody, idOf, serverOf, startFleetApp } from './fleet.helpers';
import { MiB, chat, estimates, hasMetric, metric, openChat, sseData, waitForState } from './on-demand.helpers';

jest.setTimeout(60_000);

const HOLDING = ['starting', 'ready', 'restarting', 'stopping'];

/** Samples GET /api/models/servers every few ms until stopped; every sample is kept. */
function sampleServers(app: FleetApp): { stop(): Promise<ServersBody[]> } {
  const samples: ServersBody[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      samples.push((await app.get<ServersBody>('/api/models/servers')).body);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}

describe('LRU eviction within a memory budget', () => {
  let app: FleetApp;
  let est: Record<string, number>;
  const [A, B, C, D, E] = ['alpha', 'bravo', 'charlie', 'delta', 'echo'].map(idOf);
  const servers = async (): Promise<ServersBody> => (await app.get<ServersBody>('/api/models/servers')).body;
  const evicted = (id: string) => metric(app, 'magi_fleet_unloads_total', { model_id: id, reason: 'evicted' });

  beforeAll(async () => {
    app = await startFleetApp({
      models: ['alpha', 'bravo', 'charlie', 'delta', 'echo'],
      // Room for echo (always) and two of the four on-demand models.
      weightsMiB: { alpha: 300, bravo: 300, charlie: 300, delta: 300, echo: 150 },
      server: { ctxSize: 512, parallel: 2 },
      profile: {
        onDemand: { models: [A, B, C, D], idleTimeoutSeconds: 600 },
        memoryBudget: '850MiB',
      },
      standin: {
        // A stop takes 500 ms (SIGTERM ignored, SIGKILL after the grace), as a real server takes
        // time to exit: a load must wait for the evicted process to be gone.
        '*': { LOAD_MS: 100, CHUNK_DELAY_MS: 5, IGNORE_SIGTERM: 1 },
        // 200 ms a token: max_tokens says how long an answer stays in flight.
        [C]: { CHUNK_DELAY_MS: 200, CHUNKS: 30 },
        [D]: { CHUNK_DELAY_MS: 200, CHUNKS: 30 },
      },
      env: { GATEWAY_QUEUE_TIMEOUT: '10', FLEET_STOP_GRACE_SECONDS: '0.5' },
    });
    est = await estimates(app);
    await waitForState(app, E, 'ready');
  });
  afterAll(async () => app?.close());

  it('has room for the always server and two on-demand ones, not three', () => {
    expect(est[E] + est[A] + est[B]).toBeLessThanOrEqual(850 * MiB);
    expect(est[E] + est[A] + est[B] + est[C]).toBeGreaterThan(850 * MiB);
  });

  it('evicts the least recently used idle on-demand server first, never the always one', async () => {
    expect((await chat(app, A)).status).toBe(200);
    expect((await chat(app, B)).status).toBe(200);
    // alpha is used again: bravo is now the least recently used on-demand server; echo,
    // ready since start-up and never asked for, is older than both.
    expect((await chat(app, A)).status).toBe(200);
    const before = await servers();
    const sampling = sampleServers(app);
    const res = await chat(app, C);
    const samples = await sampling.stop();
    expect(res.status).toBe(200);
    expect(res.headers['x-magi-model']).toBe(C);

    const after = await servers();
    expect(serverOf(after, B)).toMatchObject({ state: 'unloaded', pid: null });
    expect(isPidAlive(serverOf(before, B).pid)).toBe(false);
    for (const id of [A, E])
      expect(serverOf(after, id)).toMatchObject({ state: 'ready', pid: serverOf(before, id).pid });
    expect(await evicted(B)).toBe(1);
    expect(await evicted(A)).toBe(0);
    expect(await evicted(E)).toBe(0);
    // Within the budget at every step: charlie started only once bravo's process was gone.
    for (const s of samples) expect(s.memory.reservedBytes).toBeLessThanOrEqual(850 * MiB);
    const bravoStopping = samples.filter((s) => serverOf(s, B).state === 'stopping');
    expect(bravoStopping.length).toBeGreaterThan(0);
    for (const s of bravoStopping) expect(serverOf(s, C).state).toBe('queued');
    expect(serverOf(bravoStopping[0], C).lastError).toMatch(new RegExp(`^Waiting for (idle )?${B} to stop`));
  });

  it('never evicts a server with a request in flight, even the least recently used one', async () => {
    // charlie answers slowly (10 tokens, 2 s); alpha is used after it started, so charlie is
    // the least recently used one, but busy.
    const stream = openChat(app, C, { max_tokens: 10, stream: true });
    await waitFor(async () => serverOf(await servers(), C).inFlight === 1, 5000, 20, 'charlie in flight');
    expect((await chat(app, A)).status).toBe(200);
    const before = await servers();
    expect(Date.parse(serverOf(before, C).lastUsedAt)).toBeLessThan(Date.parse(serverOf(before, A).lastUsedAt));

    const res = await chat(app, D);
    expect(res.status).toBe(200);
    expect(res.headers['x-magi-model']).toBe(D);
    const after = await servers();
    expect(serverOf(after, A).state).toBe('unloaded');
    expect(serverOf(after, C)).toMatchObject({ state: 'ready', pid: serverOf(before, C).pid, inFlight: 1 });
    expect(serverOf(after, E)).toMatchObject({ state: 'ready', pid: serverOf(before, E).pid });
    expect(await evicted(A)).toBe(1);
    expect(await evicted(C)).toBe(0);

    const answer = await stream.answer;
    expect(answer.status).toBe(200);
    expect(sseData(answer.body).at(-1)).toBe('[DONE]');
    expect(sseData(answer.body).filter((d) => d.includes('"content":"')).length).toBe(10);
  });

  it('queues a load while every candidate is busy, and starts it once one goes idle', async () => {
    // charlie and delta both answer for 2 s; nothing idle to stop for bravo.
    const busy = [C, D].map((id) => openChat(app, id, { max_tokens: 10, stream: true }));
    await waitFor(
      async () => {
        const b = await servers();
        return serverOf(b, C).inFlight === 1 && serverOf(b, D).inFlight === 1;
      },
      5000,
      20,
      'charlie and delta in flight',
    );
    const sent = Date.now();
    const waiting = openChat(app, B);
    const { server } = await waitForState(app, B, 'queued');
    expect(server.lastError).toMatch(/Waiting for room .*no idle on-demand server to stop/);
    expect(server.pid).toBeNull();
    const models = (await app.get('/v1/models')).body.data;
    expect(models.find((m: { id: string }) => m.id === B).status).toBe('loading');

    const [first, second] = await Promise.all(busy.map((r) => r.answer));
    const res = await waiting.answer;
    expect(res.status).toBe(200);
    expect(res.headers['x-magi-model']).toBe(B);
    // bravo started only once a busy server had finished its answer.
    expect(res.at).toBeGreaterThanOrEqual(Math.min(first.at, second.at));
    expect(res.at - sent).toBeGreaterThanOrEqual(1000);
    expect([first.status, second.status]).toEqual([200, 200]);
    const after = await servers();
    expect(serverOf(after, E).state).toBe('ready');
    expect([C, D].filter((id) => serverOf(after, id).state === 'ready')).toHaveLength(1);
  });
});

describe('maxRunning with the memory budget off', () => {
  let app: FleetApp;
  const [P, Q, R] = ['papa', 'quebec', 'romeo'].map(idOf);
  const servers = async (): Promise<ServersBody> => (await app.get<ServersBody>('/api/models/servers')).body;
  const withProcess = (b: ServersBody): string[] =>
    b.servers.filter((s) => HOLDING.includes(s.state) || s.pid !== null).map((s) => s.modelId);

  beforeAll(async () => {
    app = await startFleetApp({
      models: ['papa', 'quebec', 'romeo'],
      weightsMiB: { papa: 200, quebec: 200, romeo: 200 },
      server: { ctxSize: 512, parallel: 2 },
      profile: { onDemand: { models: ['*'], idleTimeoutSeconds: 600 }, maxRunning: 2 },
      standin: { '*': { LOAD_MS: 100, CHUNK_DELAY_MS: 200, CHUNKS: 30 } },
      env: { FLEET_MEMORY_BUDGET: 'off', GATEWAY_QUEUE_TIMEOUT: '10' },
    });
  });
  afterAll(async () => app?.close());

  it('has no budget: budgetBytes and freeBytes are null and the budget gauge is absent', async () => {
    const body = await servers();
    expect(body.memory).toEqual({ budgetBytes: null, reservedBytes: 0, freeBytes: null });
    expect(await hasMetric(app, 'magi_fleet_memory_budget_bytes')).toBe(false);
  });

  it('runs at most maxRunning servers, evicting the least recently used idle one for a third', async () => {
    const sampling = sampleServers(app);
    expect((await chat(app, P)).status).toBe(200);
    expect((await chat(app, Q)).status).toBe(200);
    const res = await chat(app, R);
    const samples = await sampling.stop();
    expect(res.status).toBe(200);
    expect(res.headers['x-magi-model']).toBe(R);
    const after = await servers();
    expect(serverOf(after, P).state).toBe('unloaded');
    expect([Q, R].map((id) => serverOf(after, id).state)).toEqual(['ready', 'ready']);
    expect(await metric(app, 'magi_fleet_unloads_total', { model_id: P, reason: 'evicted' })).toBe(1);
    for (const s of samples) expect(withProcess(s).length).toBeLessThanOrEqual(2);
  });

  it('queues an API load while both servers are busy, and starts it (not cancelled) once one is idle', async () => {
    const busy = [Q, R].map((id) => openChat(app, id, { max_tokens: 8, stream: true }));
    await waitFor(
      async () => {
        const b = await servers();
        return serverOf(b, Q).inFlight === 1 && serverOf(b, R).inFlight === 1;
      },
      5000,
      20,
      'quebec and romeo in flight',
    );
    const sampling = sampleServers(app);
    const load = await app.send('POST', `/api/models/servers/${P}/load`);
    expect(load.status).toBe(202);
    expect(load.body).toEqual({ modelId: P, state: 'queued' });
    const queued = serverOf(await servers(), P);
    expect(queued.state).toBe('queued');
    expect(queued.lastError).toContain('2 of maxRunning 2');

    const answers = await Promise.all(busy.map((r) => r.answer));
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    await waitForState(app, P, 'ready');
    const samples = await sampling.stop();
    for (const s of samples) expect(withProcess(s).length).toBeLessThanOrEqual(2);
    expect(await metric(app, 'magi_fleet_loads_total', { model_id: P, trigger: 'api' })).toBe(1);
    expect(await metric(app, 'magi_fleet_unloads_total', { model_id: P, reason: 'cancelled' })).toBe(0);
  });
});
