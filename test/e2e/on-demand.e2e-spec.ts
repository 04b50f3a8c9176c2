/**
 * Models on demand within a memory budget (API.md §9) over real HTTP: the booted app on a
 * fleet of llama-server stand-ins whose GGUF headers give known memory estimates. An
 * on-demand model rests `unloaded` until a request (by id, alias or tier) or
 * `POST …/load` names it, serves once ready and stops after its idle timeout; a model larger
 * than the whole budget is refused with the figures; `POST …/unload` stops any server; an
 * `always` server that does not fit at activation fails with the figures. The servers
 * answer, `/v1/models`, `/health/ready` and `/metrics` say so, and the official `openai`
 * client sees the same.
 */
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import OpenAI from 'openai';
import { formatBytes } from '../../src/common/units/memory-size';
import { isPidAlive, waitFor } from '../support/fixtures';
import { isErrorShape } from '../support/json';
import { FleetApp, ServersBody, idOf, serverOf, startFleetApp, waitForServers } from './fleet.helpers';
import { MiB, chat, estimates, metric, openChat, sleep, sseData, waitForState } from './on-demand.helpers';

jest.setTimeout(60_000);

const BUDGET = 1400 * MiB;
const IDLE_SECONDS = 2;
const NAMES = ['alpha', 'bravo', 'charlie', 'echo', 'foxtrot', 'golf', 'hotel', 'juliet', 'kilo'];
const [ALPHA, BRAVO, CHARLIE, ECHO, FOXTROT, GOLF, HOTEL, JULIET, KILO] = NAMES.map(idOf);

/** Every server with a process counts for the larger of its estimate and its measured memory. */
function expectedReserved(body: ServersBody): number {
  return body.servers
    .filter((s) => ['starting', 'ready', 'restarting', 'stopping'].includes(s.state))
    .reduce((n, s) => n + Math.max(s.memoryEstimateBytes, s.memoryUsedBytes ?? 0), 0);
}

describe('On-demand models within a memory budget', () => {
  let app: FleetApp;
  let est: Record<string, number>;
  const servers = async (): Promise<ServersBody> => (await app.get<ServersBody>('/api/models/servers')).body;

  beforeAll(async () => {
    app = await startFleetApp({
      models: NAMES,
      weightsMiB: {
        ...{ alpha: 200, bravo: 300, charlie: 150, echo: 100, foxtrot: 100, golf: 100, hotel: 2000 },
        ...{ juliet: 100, kilo: 50 },
      },
      enabledModels: [ALPHA, BRAVO, CHARLIE, ECHO, FOXTROT, GOLF, HOTEL, JULIET],
      server: { ctxSize: 512, parallel: 2 },
      profiles: { other: [CHARLIE] },
      profile: {
        onDemand: { models: [ALPHA, BRAVO, ECHO, FOXTROT, GOLF, HOTEL, JULIET], idleTimeoutSeconds: IDLE_SECONDS },
        memoryBudget: '1400MiB',
        aliases: { mini: BRAVO },
      },
      standin: {
        '*': { LOAD_MS: 150, CHUNK_DELAY_MS: 5 },
        // Slow enough to be seen starting.
        [ALPHA]: { LOAD_MS: 800 },
        // 300 ms a token: max_tokens says how long an answer stays in flight.
        [BRAVO]: { CHUNK_DELAY_MS: 300, CHUNKS: 12 },
        // Holds more than its estimate once loaded: it counts at what it holds.
        [ECHO]: { HOLD_BYTES: 200 * MiB },
        // Takes its time to stop (SIGKILL after the grace period): seen stopping.
        [JULIET]: { IGNORE_SIGTERM: 1 },
      },
      env: { GATEWAY_QUEUE_TIMEOUT: '5', GATEWAY_LOAD_TIMEOUT: '20' },
    });
    est = await estimates(app);
    await waitForState(app, CHARLIE, 'ready');
  });
  afterAll(async () => app?.close());

  it('reads estimates well above what a stand-in holds, and a budget that fits all but the large model', () => {
    const fitting = [ALPHA, BRAVO, CHARLIE, ECHO, FOXTROT, GOLF, JULIET];
    for (const id of fitting) expect(est[id]).toBeGreaterThan(90 * MiB);
    expect(est[ALPHA]).toBeLessThan(est[BRAVO]);
    const all = fitting.reduce((n, id) => n + est[id], 0);
    expect(all + 200 * MiB).toBeLessThan(BUDGET);
    expect(est[HOTEL]).toBeGreaterThan(BUDGET);
  });

  describe('at rest', () => {
    it('lists on-demand servers as unloaded, with start mode, estimate, no memory used, and the budget', async () => {
      // charlie's first measure follows its readiness by a moment.
      const body = await waitForServers(app, (b) => serverOf(b, CHARLIE).memoryUsedBytes !== null, 5000, 'measured');
      expect(body.servers.map((s) => s.modelId)).toEqual([ALPHA, BRAVO, CHARLIE, ECHO, FOXTROT, GOLF, HOTEL, JULIET]);
      expect(body.totalServers).toBe(8);
      expect(body.readyServers).toBe(1);
      for (const id of [ALPHA, BRAVO, ECHO, FOXTROT, GOLF, HOTEL, JULIET]) {
        expect(serverOf(body, id)).toMatchObject({
          state: 'unloaded',
          startMode: 'on_demand',
          memoryEstimateBytes: est[id],
          memoryUsedBytes: null,
          lastUsedAt: null,
          inFlight: 0,
          pid: null,
          isRunning: false,
        });
      }
      const charlie = serverOf(body, CHARLIE);
      expect(charlie).toMatchObject({ state: 'ready', startMode: 'always', memoryEstimateBytes: est[CHARLIE] });
      // The stand-in holds less than the estimate, so the estimate is what it counts for.
      expect(charlie.memoryUsedBytes).toBeGreaterThan(MiB);
      expect(charlie.memoryUsedBytes).toBeLessThan(est[CHARLIE]);
      expect(body.memory).toEqual({
        budgetBytes: BUDGET,
        reservedBytes: est[CHARLIE],
        freeBytes: BUDGET - est[CHARLIE],
      });
    });

    it('answers /v1/models with status loaded for a ready model and unloaded for the others', async () => {
      const { data } = (await app.get('/v1/models')).body;
      const status = Object.fromEntries(data.map((m: { id: string; status?: string }) => [m.id, m.status]));
      expect(status).toMatchObject({
        [CHARLIE]: 'loaded',
        [ALPHA]: 'unloaded',
        [BRAVO]: 'unloaded',
        [HOTEL]: 'unloaded',
      });
    });

    it('is ready (/health/ready 200) with only its always server running: unloaded is not a fault', async () => {
      const res = await app.get('/health/ready');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'ready', readyServers: 1, totalServers: 1 });
    });

    it('exports the budget, the reserved bytes and the activation load in /metrics', async () => {
      expect(await metric(app, 'magi_fleet_memory_budget_bytes')).toBe(BUDGET);
      expect(await metric(app, 'magi_fleet_memory_reserved_bytes')).toBe(est[CHARLIE]);
      expect(await metric(app, 'magi_fleet_loads_total', { model_id: CHARLIE, trigger: 'activation' })).toBe(1);
      expect(await metric(app, 'magi_fleet_loads_total', { model_id: ALPHA })).toBe(0);
    });
  });

  describe('a request naming an on-demand model', () => {
    it('loads it by id, waits, and is served once it is ready', async () => {
      const waitsBefore = await metric(app, 'magi_gateway_load_wait_seconds_count');
      const durationsBefore = await metric(app, 'magi_fleet_load_duration_seconds_count');
      const sent = Date.now();
      const pending = openChat(app, ALPHA);
      // While it loads: starting, counted at its estimate, and `loading` in /v1/models.
      const { body: loading } = await waitForState(app, ALPHA, 'starting');
      expect(loading.memory.reservedBytes).toBe(est[CHARLIE] + est[ALPHA]);
      const models = (await app.get('/v1/models')).body.data;
      expect(models.find((m: { id: string }) => m.id === ALPHA).status).toBe('loading');

      const res = await pending.answer;
      expect(res.status).toBe(200);
      expect(res.headers['x-magi-model']).toBe(ALPHA);
      expect(res.json().choices[0].message.content).toEqual(expect.any(String));
      // The stand-in takes 800 ms to load: the request waited for it.
      expect(res.at - sent).toBeGreaterThanOrEqual(700);

      const alpha = serverOf(await servers(), ALPHA);
      expect(alpha).toMatchObject({ state: 'ready', isReady: true, inFlight: 0 });
      expect(isPidAlive(alpha.pid)).toBe(true);
      expect(Date.parse(alpha.lastUsedAt)).toBeGreaterThanOrEqual(sent);
      // Measured once ready (a read of /proc a moment after), while it has a process.
      await waitForServers(app, (b) => serverOf(b, ALPHA).memoryUsedBytes > MiB, 5000, 'alpha measured');
      expect((await app.get('/v1/models')).body.data.find((m: { id: string }) => m.id === ALPHA).status).toBe('loaded');
      expect(await metric(app, 'magi_fleet_loads_total', { model_id: ALPHA, trigger: 'request' })).toBe(1);
      expect(await metric(app, 'magi_fleet_load_duration_seconds_count')).toBe(durationsBefore + 1);
      expect(await metric(app, 'magi_gateway_load_wait_seconds_count')).toBe(waitsBefore + 1);
      expect(await metric(app, 'magi_gateway_load_wait_seconds_sum')).toBeGreaterThanOrEqual(0.7);
    });

    it('stops it after idleTimeoutSeconds without a request, back to unloaded', async () => {
      const { pid, lastUsedAt } = serverOf(await servers(), ALPHA);
      const { server, body } = await waitForState(app, ALPHA, 'unloaded', 10_000);
      expect(Date.now() - Date.parse(lastUsedAt)).toBeGreaterThanOrEqual(IDLE_SECONDS * 1000);
      expect(server).toMatchObject({ pid: null, memoryUsedBytes: null, isRunning: false });
      expect(isPidAlive(pid)).toBe(false);
      expect(body.memory.reservedBytes).toBe(est[CHARLIE]);
      expect(await metric(app, 'magi_fleet_unloads_total', { model_id: ALPHA, reason: 'idle' })).toBe(1);
      const models = (await app.get('/v1/models')).body.data;
      expect(models.find((m: { id: string }) => m.id === ALPHA).status).toBe('unloaded');
    });

    it('loads the model an alias names, and does not stop it as idle while a request is in flight', async () => {
      // 9 tokens at 300 ms: the answer stays in flight longer than the idle timeout.
      const long = openChat(app, 'mini', { max_tokens: 9, stream: true });
      const { server } = await waitForState(app, BRAVO, 'ready');
      await waitFor(async () => serverOf(await servers(), BRAVO).inFlight === 1, 5000, 25, 'bravo in flight');
      await sleep(IDLE_SECONDS * 1000 + 500);
      expect(serverOf(await servers(), BRAVO)).toMatchObject({ state: 'ready', pid: server.pid, inFlight: 1 });

      const res = await long.answer;
      expect(res.status).toBe(200);
      expect(res.headers['x-magi-model']).toBe(BRAVO);
      expect(sseData(res.body).at(-1)).toBe('[DONE]');
      expect(serverOf(await servers(), BRAVO)).toMatchObject({ state: 'ready', inFlight: 0 });
      expect(await metric(app, 'magi_fleet_loads_total', { model_id: BRAVO, trigger: 'request' })).toBe(1);
      // Idle from the end of that answer.
      await waitForState(app, BRAVO, 'unloaded', 10_000);
      expect(Date.now() - res.at).toBeGreaterThanOrEqual(IDLE_SECONDS * 1000 - 100);
    });

    it('loads the smallest on-demand model of a tier that has no ready server', async () => {
      for (const id of [ALPHA, BRAVO]) {
        const res = await app.send('PUT', `/api/models/${id}/tier`, { tier: 'powerful' });
        expect(res.status).toBe(200);
      }
      await waitFor(
        async () => (await app.get(`/api/models/registry/${BRAVO}`)).body.effectiveTier === 'powerful',
        5000,
        25,
        'tier override applied',
      );
      const res = await chat(app, 'powerful');
      expect(res.status).toBe(200);
      expect(res.headers['x-magi-model']).toBe(ALPHA);
      // A second request for the tier goes to the ready server, no second load.
      const again = await chat(app, 'powerful');
      expect(again.headers['x-magi-model']).toBe(ALPHA);
      expect(serverOf(await servers(), BRAVO).state).toBe('unloaded');
      expect(await metric(app, 'magi_fleet_loads_total', { model_id: ALPHA, trigger: 'request' })).toBe(2);
      expect(await metric(app, 'magi_fleet_loads_total', { model_id: BRAVO })).toBe(1);
    });

    it('loads a tier model again while it is still stopping, once its old process has exited', async () => {
      expect((await app.send('PUT', `/api/models/${JULIET}/tier`, { tier: 'balanced' })).status).toBe(200);
      await waitFor(
        async () => (await app.get(`/api/models/registry/${JULIET}`)).body.effectiveTier === 'balanced',
        5000,
        25,
        'tier override applied',
      );
      expect((await chat(app, 'balanced')).headers['x-magi-model']).toBe(JULIET);
      const { server: before } = await waitForState(app, JULIET, 'ready');
      // Its stop lasts the grace period (it ignores SIGTERM); a tier request comes meanwhile.
      const unload = app.send('POST', `/api/models/servers/${JULIET}/unload`);
      await waitForState(app, JULIET, 'stopping');
      const res = await chat(app, 'balanced');
      expect(res.status).toBe(200);
      expect(res.headers['x-magi-model']).toBe(JULIET);
      expect((await unload).status).toBe(200);
      const { server } = await waitForState(app, JULIET, 'ready');
      expect(server.pid).not.toBe(before.pid);
      expect(isPidAlive(before.pid)).toBe(false);
    });

    it('counts a server at its measured memory when it holds more than its estimate', async () => {
      const res = await chat(app, ECHO);
      expect(res.status).toBe(200);
      const body = await waitForServers(
        app,
        (b) => (serverOf(b, ECHO).memoryUsedBytes ?? 0) >= 200 * MiB,
        10_000,
        'echo measured',
      );
      const echo = serverOf(body, ECHO);
      expect(echo.memoryUsedBytes).toBeGreaterThan(est[ECHO]);
      expect(body.memory.reservedBytes).toBe(expectedReserved(body));
      expect(body.memory.reservedBytes).toBeGreaterThanOrEqual(est[CHARLIE] + echo.memoryUsedBytes);
      expect(body.memory.freeBytes).toBe(BUDGET - body.memory.reservedBytes);
    });
  });

  describe('POST /api/models/servers/{modelId}/load', () => {
    it('answers 202 once the start is launched, then 200 once it is ready', async () => {
      const before = await metric(app, 'magi_fleet_loads_total', { model_id: FOXTROT, trigger: 'api' });
      const first = await app.send('POST', `/api/models/servers/${FOXTROT}/load`);
      expect(first.status).toBe(202);
      expect(first.body).toEqual({ modelId: FOXTROT, state: 'starting' });
      await waitForState(app, FOXTROT, 'ready');
      const second = await app.send('POST', `/api/models/servers/${FOXTROT}/load`);
      expect(second.status).toBe(200);
      expect(second.body).toEqual({ modelId: FOXTROT, state: 'ready' });
      expect(await metric(app, 'magi_fleet_loads_total', { model_id: FOXTROT, trigger: 'api' })).toBe(before + 1);
    });

    it('is 404 ServerNotFound for a model the active profile does not run', async () => {
      for (const id of [KILO, 'no_such_model']) {
        const res = await app.send('POST', `/api/models/servers/${id}/load`);
        expect(res.status).toBe(404);
        expect(isErrorShape(res.body)).toBe(true);
        expect(res.body).toMatchObject({ error: 'ServerNotFound', details: { modelId: id } });
      }
    });

    it('is 503 model_too_large with needBytes and budgetBytes when the estimate alone exceeds the budget', async () => {
      const res = await app.send('POST', `/api/models/servers/${HOTEL}/load`);
      expect(res.status).toBe(503);
      expect(isErrorShape(res.body)).toBe(true);
      expect(res.body).toMatchObject({
        error: 'ModelTooLarge',
        details: { modelId: HOTEL, needBytes: est[HOTEL], budgetBytes: BUDGET },
      });
      expect(serverOf(await servers(), HOTEL)).toMatchObject({ state: 'unloaded', pid: null });
      expect(await metric(app, 'magi_fleet_loads_total', { model_id: HOTEL })).toBe(0);
    });
  });

  describe('a request for a model larger than the budget', () => {
    it('is 503 model_too_large at once, with needBytes and budgetBytes in the OpenAI error object', async () => {
      const started = Date.now();
      const res = await chat(app, HOTEL);
      expect(res.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(res.json()).toEqual({
        error: {
          message: expect.stringContaining(HOTEL),
          type: 'server_error',
          param: null,
          code: 'model_too_large',
          modelId: HOTEL,
          needBytes: est[HOTEL],
          budgetBytes: BUDGET,
        },
      });
      expect(serverOf(await servers(), HOTEL).state).toBe('unloaded');
    });
  });

  describe('POST /api/models/servers/{modelId}/unload', () => {
    it('stops an on-demand server now and returns it to unloaded', async () => {
      expect([200, 202]).toContain((await app.send('POST', `/api/models/servers/${FOXTROT}/load`)).status);
      const { server } = await waitForState(app, FOXTROT, 'ready');
      const before = await metric(app, 'magi_fleet_unloads_total', { model_id: FOXTROT, reason: 'api' });
      const res = await app.send('POST', `/api/models/servers/${FOXTROT}/unload`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ modelId: FOXTROT, state: 'unloaded' });
      expect(isPidAlive(server.pid)).toBe(false);
      expect(serverOf(await servers(), FOXTROT)).toMatchObject({ state: 'unloaded', pid: null });
      expect(await metric(app, 'magi_fleet_unloads_total', { model_id: FOXTROT, reason: 'api' })).toBe(before + 1);
    });

    it('stops an always server, which stays down until a load brings it back', async () => {
      const charlie = serverOf(await servers(), CHARLIE);
      const res = await app.send('POST', `/api/models/servers/${CHARLIE}/unload`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ modelId: CHARLIE, state: 'stopped' });
      expect(isPidAlive(charlie.pid)).toBe(false);
      expect(await metric(app, 'magi_fleet_unloads_total', { model_id: CHARLIE, reason: 'api' })).toBe(1);
      // A reconcile (an enabled change) and a few scheduler ticks later it is still down.
      expect((await app.send('PUT', `/api/models/${KILO}/enabled`, { enabled: false })).status).toBe(200);
      await sleep(1000);
      expect(serverOf(await servers(), CHARLIE)).toMatchObject({ state: 'stopped', pid: null });

      const load = await app.send('POST', `/api/models/servers/${CHARLIE}/load`);
      expect(load.status).toBe(202);
      const { server } = await waitForState(app, CHARLIE, 'ready');
      expect(server.pid).not.toBe(charlie.pid);
      expect(await metric(app, 'magi_fleet_loads_total', { model_id: CHARLIE, trigger: 'api' })).toBe(1);
    });

    it('brings an unloaded always server back at the next activation', async () => {
      expect((await app.send('POST', `/api/models/servers/${CHARLIE}/unload`)).body.state).toBe('stopped');
      expect((await app.send('POST', '/api/models/profiles/development/activate')).status).toBe(200);
      await waitForState(app, CHARLIE, 'ready');
      expect(await metric(app, 'magi_fleet_loads_total', { model_id: CHARLIE, trigger: 'activation' })).toBe(2);
      expect(serverOf(await servers(), ALPHA).startMode).toBe('on_demand');
    });

    it('is 404 ServerNotFound for a model the active profile does not run', async () => {
      const res = await app.send('POST', `/api/models/servers/${KILO}/unload`);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ error: 'ServerNotFound', details: { modelId: KILO } });
    });
  });

  describe('with the official openai client', () => {
    let client: OpenAI;
    beforeAll(() => {
      client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 30_000 });
    });

    it('creates a chat completion for an unloaded on-demand model', async () => {
      expect(serverOf(await servers(), GOLF).state).toBe('unloaded');
      const completion = await client.chat.completions.create({
        model: GOLF,
        messages: [{ role: 'user', content: 'Hi' }],
        max_tokens: 3,
      });
      expect(completion.model).toBe(GOLF);
      expect(completion.choices[0].message.content).toBe(' The quick brown');
    });

    it('streams a chat completion for an unloaded on-demand model', async () => {
      await waitForState(app, FOXTROT, 'unloaded');
      const stream = await client.chat.completions.create({
        model: FOXTROT,
        messages: [{ role: 'user', content: 'Hi' }],
        max_tokens: 3,
        stream: true,
      });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      expect(text).toBe(' The quick brown');
      expect(serverOf(await servers(), FOXTROT).state).toBe('ready');
    });

    it('surfaces model_too_large as an APIError with status 503 and the figures', async () => {
      const err = await client.chat.completions
        .create({ model: HOTEL, messages: [{ role: 'user', content: 'Hi' }] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      const api = err as InstanceType<typeof OpenAI.APIError>;
      expect(api.status).toBe(503);
      expect(api.code).toBe('model_too_large');
      expect(api.error).toMatchObject({ needBytes: est[HOTEL], budgetBytes: BUDGET });
    });
  });

  describe('activating another profile', () => {
    it('stops the loaded on-demand servers the new profile does not run (reason profile)', async () => {
      expect([200, 202]).toContain((await app.send('POST', `/api/models/servers/${FOXTROT}/load`)).status);
      const { server } = await waitForState(app, FOXTROT, 'ready');
      const res = await app.send('POST', '/api/models/profiles/other/activate');
      expect(res.status).toBe(200);
      expect(res.body.stopped).toContain(FOXTROT);
      expect(res.body.kept).toEqual([CHARLIE]);
      expect(isPidAlive(server.pid)).toBe(false);
      const body = await waitForServers(app, (b) => b.servers.length === 1, 10_000, 'only charlie listed');
      expect(serverOf(body, CHARLIE)).toMatchObject({ state: 'ready', startMode: 'always' });
      expect(await metric(app, 'magi_fleet_unloads_total', { model_id: FOXTROT, reason: 'profile' })).toBe(1);
      // Its estimate now at the new profile's settings (no server block, no budget: auto).
      expect(body.memory.reservedBytes).toBe(serverOf(body, CHARLIE).memoryEstimateBytes);
      // No longer in the profile: 404 for a load.
      expect((await app.send('POST', `/api/models/servers/${FOXTROT}/load`)).status).toBe(404);
    });
  });
});

describe('always servers that do not fit the budget at activation', () => {
  let app: FleetApp;
  let est: Record<string, number>;
  const [INDIA, JULIET, LIMA, MIKE] = ['india', 'juliet', 'lima', 'mike'].map(idOf);

  beforeAll(async () => {
    app = await startFleetApp({
      models: ['india', 'juliet', 'lima', 'mike'],
      // In the profile's order: india fits, juliet does not fit beside it, lima is larger
      // than the whole budget, mike (smaller, later) still fits.
      weightsMiB: { india: 150, juliet: 300, lima: 500, mike: 60 },
      enabledModels: [INDIA, JULIET, LIMA, MIKE],
      server: { ctxSize: 512, parallel: 1 },
      profile: { memoryBudget: '400MiB' },
      standin: { '*': { LOAD_MS: 100 } },
    });
    est = await estimates(app);
    await waitForState(app, INDIA, 'ready');
    await waitForState(app, MIKE, 'ready');
  });
  afterAll(async () => app?.close());

  it('marks them failed with lastError naming the bytes needed and free, and starts a later one that fits', async () => {
    expect(est[INDIA] + est[JULIET]).toBeGreaterThan(400 * MiB);
    expect(est[INDIA] + est[MIKE]).toBeLessThan(400 * MiB);
    const body = (await app.get<ServersBody>('/api/models/servers')).body;
    const juliet = serverOf(body, JULIET);
    expect(juliet).toMatchObject({ state: 'failed', startMode: 'always', pid: null });
    expect(juliet.lastError).toContain(formatBytes(est[JULIET]));
    expect(juliet.lastError).toContain(`${formatBytes(400 * MiB - est[INDIA])} free`);
    const lima = serverOf(body, LIMA);
    expect(lima.state).toBe('failed');
    expect(lima.lastError).toContain(formatBytes(est[LIMA]));
    expect(lima.lastError).toContain(formatBytes(400 * MiB));
    expect(body.memory.reservedBytes).toBe(est[INDIA] + est[MIKE]);
    // Never launched.
    expect(app.events().filter((e) => e.alias === JULIET || e.alias === LIMA)).toEqual([]);
  });

  it('is not ready (/health/ready 503) and says which servers do not fit and why', async () => {
    const res = await app.get('/health/ready');
    expect(res.status).toBe(503);
    expect(res.body.status).toBe('not_ready');
    const byId = Object.fromEntries(
      res.body.details.servers.map((s: { modelId: string; state: string; reason: string }) => [s.modelId, s]),
    );
    expect(Object.keys(byId).sort()).toEqual([JULIET, LIMA]);
    expect(byId[JULIET].state).toBe('failed');
    expect(byId[JULIET].reason).toContain(formatBytes(est[JULIET]));
    expect(byId[JULIET].reason).toContain('free');
    expect(byId[LIMA].reason).toContain(formatBytes(est[LIMA]));
  });
});

describe('The budget from the machine, a budget lowered under a waiting load, and a load that fails', () => {
  let app: FleetApp;
  let est: Record<string, number>;
  const [BUSY, BIG, BROKEN] = ['busy', 'big', 'broken'].map(idOf);
  const servers = async (): Promise<ServersBody> => (await app.get<ServersBody>('/api/models/servers')).body;

  beforeAll(async () => {
    app = await startFleetApp({
      models: ['busy', 'big', 'broken'],
      weightsMiB: { busy: 300, big: 500, broken: 100 },
      server: { ctxSize: 512, parallel: 1 },
      profile: { onDemand: { models: ['*'], idleTimeoutSeconds: 600 } },
      standin: {
        '*': { LOAD_MS: 100, CHUNK_DELAY_MS: 200, CHUNKS: 40 },
        // Dies at every start: its load fails once the restarts give up.
        [BROKEN]: { EXIT_AT_ONCE: 1 },
      },
      env: { FLEET_MEMORY_RESERVE: '1GiB', GATEWAY_QUEUE_TIMEOUT: '20', FLEET_MAX_FAILURES: '2' },
    });
    est = await estimates(app);
  });
  afterAll(async () => app?.close());

  it('is the machine’s memory (or its cgroup limit, where lower) minus FLEET_MEMORY_RESERVE by default', async () => {
    let cgroup = Infinity;
    try {
      const text = readFileSync('/sys/fs/cgroup/memory.max', 'utf8').trim();
      if (/^\d+$/.test(text)) cgroup = Number(text);
    } catch {
      // No cgroup v2 limit here.
    }
    const expected = Math.max(0, Math.min(totalmem(), cgroup) - 1024 ** 3);
    const body = await waitForServers(app, (b) => b.memory.budgetBytes === expected, 5000, 'auto budget');
    expect(body.memory.freeBytes).toBe(expected);
  });

  it('refuses a waiting load with model_too_large once the budget is lowered below it', async () => {
    const profile = (await app.get('/api/models/profiles/development')).body;
    expect(
      (await app.send('PUT', '/api/models/profiles/development', { ...profile, memoryBudget: '700MiB' })).status,
    ).toBe(200);
    await waitForServers(app, (b) => b.memory.budgetBytes === 700 * MiB, 5000, 'budget 700MiB');
    expect(est[BUSY] + est[BIG]).toBeGreaterThan(700 * MiB);
    // busy holds the room with an answer in flight; big waits in the queue for it.
    const stream = openChat(app, BUSY, { max_tokens: 30, stream: true });
    await waitFor(async () => serverOf(await servers(), BUSY).inFlight === 1, 5000, 20, 'busy in flight');
    const waiting = openChat(app, BIG);
    await waitForState(app, BIG, 'queued');
    expect(
      (await app.send('PUT', '/api/models/profiles/development', { ...profile, memoryBudget: '400MiB' })).status,
    ).toBe(200);
    const res = await waiting.answer;
    expect(res.status).toBe(503);
    expect(res.json().error).toMatchObject({ code: 'model_too_large', needBytes: est[BIG], budgetBytes: 400 * MiB });
    expect(serverOf(await servers(), BIG)).toMatchObject({ state: 'unloaded', pid: null });
    stream.abort();
  });

  it('answers the requests waiting for a load that fails with 503 model_not_running and the reason', async () => {
    const res = await chat(app, BROKEN);
    expect(res.status).toBe(503);
    expect(res.json().error.code).toBe('model_not_running');
    expect(res.json().error.message).toContain('its load did not succeed: gave up after 2 failures');
    const broken = serverOf(await servers(), BROKEN);
    expect(broken).toMatchObject({ state: 'failed', pid: null, memoryUsedBytes: null });
    expect(broken.lastError).toContain('exited with code 1');
    // Tried again on the next request (not answered from the failed state alone).
    const starts = app.events().filter((e) => e.event === 'start' && e.alias === BROKEN).length;
    expect((await chat(app, BROKEN)).status).toBe(503);
    expect(app.events().filter((e) => e.event === 'start' && e.alias === BROKEN).length).toBeGreaterThan(starts);
  });
});
