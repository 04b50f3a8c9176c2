/**
 * A burst across six on-demand models with room for two (API.md §9) over real HTTP:
 * concurrent requests, GET /api/models/servers sampled all along. No answer is lost — each is
 * a 200 from its model, or a 503 with Retry-After only once it waited GATEWAY_QUEUE_TIMEOUT —
 * the reserved memory never passes the budget, at most two servers hold a process at any
 * sample, and afterwards every model still loads.
 */
import { FleetApp, ServersBody, idOf, serverOf, startFleetApp } from './fleet.helpers';
import { MiB, chat, estimates, metric } from './on-demand.helpers';
import { HttpResult } from '../support/fixtures';

jest.setTimeout(120_000);

const NAMES = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'];
const IDS = NAMES.map(idOf);
const BUDGET = 700 * MiB;
const QUEUE_TIMEOUT_SECONDS = 4;
const PER_MODEL = 6;
/** Requests arrive over this long, in a fixed shuffled order. */
const SPREAD_MS = 3000;
const HOLDING = ['starting', 'ready', 'restarting', 'stopping'];

describe('A burst across six on-demand models with room for two', () => {
  let app: FleetApp;

  beforeAll(async () => {
    app = await startFleetApp({
      models: NAMES,
      weightsMiB: Object.fromEntries(NAMES.map((n) => [n, 300])),
      server: { ctxSize: 512, parallel: 2 },
      // The budget from the environment this time (the other suites set it in the profile).
      profile: { onDemand: { models: ['*'], idleTimeoutSeconds: 600 } },
      // A stop takes 300 ms (SIGTERM ignored, SIGKILL after the grace), as a real server takes
      // time to exit and give its memory back: loads must wait for it, not start on top of it.
      standin: { '*': { LOAD_MS: 150, RESPONSE_DELAY_MS: 200, CHUNK_DELAY_MS: 5, IGNORE_SIGTERM: 1 } },
      env: {
        GATEWAY_QUEUE_TIMEOUT: String(QUEUE_TIMEOUT_SECONDS),
        GATEWAY_LOAD_TIMEOUT: '20',
        FLEET_STOP_GRACE_SECONDS: '0.3',
        FLEET_MEMORY_BUDGET: '700MiB',
      },
    });
    const est = await estimates(app);
    for (const id of IDS) {
      expect(2 * est[id]).toBeLessThanOrEqual(BUDGET);
      expect(3 * est[id]).toBeGreaterThan(BUDGET);
    }
  });
  afterAll(async () => app?.close());

  it('answers every request, stays within the budget and two processes at every sample, and loads each model after', async () => {
    const samples: ServersBody[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push((await app.get<ServersBody>('/api/models/servers')).body);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    // Every model asked for at once, then a shuffled stream of requests over SPREAD_MS:
    // models keep being asked for while others wait for room.
    const order = [...IDS, ...shuffled(Array.from({ length: PER_MODEL - 1 }, () => IDS).flat())];
    const results = await Promise.all(
      order.map(async (id, i) => {
        await new Promise((r) => setTimeout(r, i < IDS.length ? 0 : (i * SPREAD_MS) / order.length));
        const sent = Date.now();
        const res: HttpResult | Error = await chat(app, id).catch((e: Error) => e);
        return { id, res, ms: Date.now() - sent };
      }),
    );
    sampling = false;
    await sampler;

    for (const { id, res, ms } of results) {
      if (res instanceof Error) throw new Error(`request for ${id} got no answer: ${res.message}`);
      const what = { id, status: res.status, ms, body: res.status === 200 ? undefined : res.body };
      if (res.status === 200) {
        expect({ ...what, model: res.headers['x-magi-model'] }).toEqual({ ...what, model: id });
      } else {
        // Only a request that waited the whole queue timeout for room may be turned away.
        expect(what).toEqual({ ...what, status: 503 });
        expect(ms).toBeGreaterThanOrEqual(QUEUE_TIMEOUT_SECONDS * 1000 - 50);
        expect(res.headers['retry-after']).toMatch(/^\d+$/);
        expect(res.json().error.code).toBe('insufficient_memory');
      }
    }
    const served = results.filter((r) => !(r.res instanceof Error) && r.res.status === 200);
    expect(served.length).toBeGreaterThanOrEqual(IDS.length);

    expect(samples.length).toBeGreaterThan(20);
    for (const s of samples) {
      expect(s.memory.budgetBytes).toBe(BUDGET);
      expect(s.memory.reservedBytes).toBeLessThanOrEqual(BUDGET);
      const withProcess = s.servers.filter((x) => x.pid !== null || HOLDING.includes(x.state)).map((x) => x.modelId);
      expect(withProcess.length).toBeLessThanOrEqual(2);
    }

    // Nothing is left queued or stuck: each model loads again, one after the other.
    for (const id of IDS) {
      const res = await chat(app, id);
      expect({ id, status: res.status }).toEqual({ id, status: 200 });
      expect(res.headers['x-magi-model']).toBe(id);
    }
    const after = (await app.get<ServersBody>('/api/models/servers')).body;
    expect(after.servers.filter((s) => s.state === 'queued')).toEqual([]);
    expect(after.memory.reservedBytes).toBeLessThanOrEqual(BUDGET);
    expect(await metric(app, 'magi_fleet_loads_total', { trigger: 'request' })).toBeGreaterThanOrEqual(IDS.length * 2);
    expect(serverOf(after, IDS[IDS.length - 1]).state).toBe('ready');
  });
});

/** A fixed permutation (a small LCG), so every run sends the same sequence. */
function shuffled<T>(items: T[]): T[] {
  const out = [...items];
  let seed = 12345;
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
