/**
 * On-demand loading (API.md §9) on a real llama-server: a request loads an unloaded model
 * and is served, a load past maxRunning evicts the least recently used idle server, and idle
 * servers stop after their timeout — each checked in the fleet's answer, the process table
 * and /metrics. Run with `npm run test:real` (LLAMA_SERVER_PATH, LLAMA_TEST_MODEL).
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { TestApp, createTestApp, makeTestDirs } from '../support/create-test-app';
import { freePortRange, httpRequest, isPidAlive, waitFor } from '../support/fixtures';
import { BINARY, MODEL } from './real-binary';

interface Server {
  modelId: string;
  pid: number | null;
  state: string;
  startMode: string;
  memoryEstimateBytes: number;
  memoryUsedBytes: number | null;
  lastUsedAt: string | null;
}
interface Servers {
  servers: Server[];
  memory: { budgetBytes: number | null; reservedBytes: number; freeBytes: number | null };
}

// Longer than the loads before the eviction test take, so nothing goes idle before it.
const IDLE_SECONDS = 10;

jest.setTimeout(120_000);

describe('on-demand models on a real llama-server', () => {
  let t: TestApp;
  let openai: OpenAI;
  let ids: string[];

  const fleet = async (): Promise<Servers> => (await httpRequest(`${t.url}/api/models/servers`)).json<Servers>();
  const server = async (id: string): Promise<Server> => (await fleet()).servers.find((s) => s.modelId === id)!;
  const metric = async (pattern: string): Promise<number> =>
    Number(new RegExp(`${pattern} (\\d+)`).exec((await httpRequest(`${t.url}/metrics`)).body)?.[1] ?? 0);
  const ask = (model: string) =>
    openai.chat.completions
      .create({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 })
      .withResponse();

  beforeAll(async () => {
    const dirs = makeTestDirs('magi-real-on-demand-');
    // Three copies of the one model, three registry ids: the registry names them by file.
    for (const name of ['a', 'b', 'c']) copyFileSync(MODEL, join(dirs.models, `tiny-${name}.gguf`));
    writeFileSync(
      join(dirs.profiles, 'real.yaml'),
      "name: real\nenabledModels: ['*']\nserver: {parallel: 1, ctxSize: 2048}\n" +
        `onDemand: {models: ['*'], idleTimeoutSeconds: ${IDLE_SECONDS}}\nmaxRunning: 2\nmemoryBudget: off\n`,
    );
    const ports = await freePortRange(6);
    t = await createTestApp({
      dirs,
      env: {
        LLAMA_SERVER_PATH: BINARY,
        ACTIVE_PROFILE: 'real',
        PORT_RANGE: `${ports[0]}-${ports[1]}`,
        READINESS_CHECK_INTERVAL: '0.1',
        MAX_STARTUP_TIME: '60',
        FLEET_STOP_GRACE_SECONDS: '5',
        GATEWAY_QUEUE_TIMEOUT: '60',
      },
    });
    openai = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    ids = (await fleet()).servers.map((s) => s.modelId).sort();
  });

  afterAll(async () => {
    await t?.close();
  });

  it('starts with every model unloaded, each with its estimate', async () => {
    expect(ids).toHaveLength(3);
    for (const s of (await fleet()).servers) {
      expect(s).toMatchObject({ state: 'unloaded', startMode: 'on_demand', pid: null, memoryUsedBytes: null });
      expect(s.memoryEstimateBytes).toBeGreaterThan(1024 * 1024);
    }
  });

  it('loads a model on its first request, serves it, and measures the process', async () => {
    const [a, b] = ids;
    const first = await ask(a);
    expect(first.response.headers.get('x-magi-model')).toBe(a);
    expect(first.data.usage?.completion_tokens).toBe(4);
    const sa = await server(a);
    expect(sa.state).toBe('ready');
    expect(isPidAlive(sa.pid!)).toBe(true);
    const measured = await waitFor(async () => (await server(a)).memoryUsedBytes, 10_000, 100, 'a measure');
    expect(measured).toBeGreaterThan(1024 * 1024);
    expect((await fleet()).memory.reservedBytes).toBeGreaterThanOrEqual(Math.max(measured, sa.memoryEstimateBytes));
    expect(await metric(`magi_fleet_loads_total\\{model_id="${a}",trigger="request"\\}`)).toBe(1);
    await ask(b);
    expect((await server(b)).state).toBe('ready');
  });

  it('evicts the least recently used idle server for a load past maxRunning', async () => {
    const [a, b, c] = ids;
    // b was used after a: a is the least recently used.
    await ask(b);
    const pidA = (await server(a)).pid!;
    const third = await ask(c);
    expect(third.response.headers.get('x-magi-model')).toBe(c);
    const after = await fleet();
    const states = Object.fromEntries(after.servers.map((s) => [s.modelId, s.state]));
    expect(states).toEqual({ [a]: 'unloaded', [b]: 'ready', [c]: 'ready' });
    expect(isPidAlive(pidA)).toBe(false);
    expect(await metric(`magi_fleet_unloads_total\\{model_id="${a}",reason="evicted"\\}`)).toBe(1);
  });

  it('stops idle servers after idleTimeoutSeconds', async () => {
    const [, b, c] = ids;
    const pids = [(await server(b)).pid!, (await server(c)).pid!];
    const started = Date.now();
    await waitFor(
      async () => (await fleet()).servers.every((s) => s.state === 'unloaded'),
      (IDLE_SECONDS + 10) * 1000,
      100,
      'every server unloaded',
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual((IDLE_SECONDS - 1) * 1000);
    for (const pid of pids) expect(isPidAlive(pid)).toBe(false);
    expect(await metric(`magi_fleet_unloads_total\\{model_id="${c}",reason="idle"\\}`)).toBe(1);
    expect((await fleet()).memory.reservedBytes).toBe(0);
  });
});
