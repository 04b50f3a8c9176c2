/**
 * The scheduler's log lines as an operator reads them (API.md §9): the real process
 * (`src/main.ts` under ts-node) on on-demand stand-ins with room for one, its stdout parsed
 * line by line. Every load, eviction, idle stop and cancellation is one line with the model,
 * the trigger (or reason) and the memory figures.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTestDirs } from '../support/create-test-app';
import { STANDIN_PATH, freePortRange, httpRequest, waitFor } from '../support/fixtures';
import { type LogLine as Line, type MagiProcess, startMagiProcess } from '../support/magi-process';
import { idOf, writeModel, writeProfile } from './fleet.helpers';
import { MiB, chatBody } from './on-demand.helpers';

jest.setTimeout(120_000);

const [ALPHA, BRAVO, SLOW] = ['alpha', 'bravo', 'slow'].map(idOf);
const BUDGET = 400 * MiB;

describe('scheduler log lines (real process)', () => {
  const dirs = makeTestDirs('magi-odlogs-');
  let magi: MagiProcess;
  let url = '';

  const scheduler = (): Line[] => magi.lines().filter((l) => l.context === 'FleetScheduler');
  const loads = (modelId: string) =>
    scheduler().filter((l) => l.modelId === modelId && l.msg.startsWith('Model loading'));
  const unloads = (modelId: string, reason: string) =>
    scheduler().filter((l) => l.modelId === modelId && l.reason === reason);
  const state = async (modelId: string): Promise<string> =>
    (await httpRequest(`${url}/api/models/servers`)).json().servers.find((s: Line) => s.modelId === modelId).state;
  const chat = (model: string) =>
    httpRequest(`${url}/v1/chat/completions`, { method: 'POST', body: chatBody(model), timeoutMs: 30_000 });

  beforeAll(async () => {
    for (const name of ['alpha', 'bravo', 'slow']) await writeModel(dirs.models, name, { weightsMiB: 300 });
    writeProfile(
      dirs,
      'logs',
      [ALPHA, BRAVO, SLOW],
      { ctxSize: 512, parallel: 1 },
      {
        onDemand: { models: ['*'], idleTimeoutSeconds: 1 },
        memoryBudget: '400MiB',
      },
    );
    const config = join(dirs.root, 'standin-config.json');
    writeFileSync(config, JSON.stringify({ '*': { LOAD_MS: 100 }, [SLOW]: { LOAD_MS: 5000 } }));
    const range = await freePortRange(5);
    magi = await startMagiProcess({
      dirs,
      env: {
        LOG_LEVEL: 'info',
        ACTIVE_PROFILE: 'logs',
        LLAMA_SERVER_PATH: STANDIN_PATH,
        PORT_RANGE: `${range[0]}-${range[1]}`,
        READINESS_CHECK_INTERVAL: '0.1',
        FLEET_STOP_GRACE_SECONDS: '2',
        STANDIN_CONFIG: config,
      },
    });
    url = magi.url;
  });

  afterAll(async () => {
    await magi?.stop();
    rmSync(dirs.root, { recursive: true, force: true });
  });

  it('writes one line per load with the model, its trigger and the memory figures', async () => {
    expect((await chat(ALPHA)).status).toBe(200);
    await waitFor(() => loads(ALPHA).length > 0, 5000, 20, 'alpha load line');
    expect(loads(ALPHA)).toHaveLength(1);
    expect(loads(ALPHA)[0]).toMatchObject({
      level: 30,
      modelId: ALPHA,
      trigger: 'request',
      estimateBytes: expect.any(Number),
      budgetBytes: BUDGET,
      reservedBytes: 0,
      freeBytes: BUDGET,
    });
    expect(loads(ALPHA)[0].estimateBytes).toBeGreaterThan(300 * MiB);
  });

  it('writes one line per eviction, naming the model it made room for, then one for that load', async () => {
    expect((await chat(BRAVO)).status).toBe(200);
    await waitFor(() => loads(BRAVO).length > 0, 5000, 20, 'bravo load line');
    const evictions = unloads(ALPHA, 'evicted');
    expect(evictions).toHaveLength(1);
    expect(evictions[0]).toMatchObject({
      modelId: ALPHA,
      reason: 'evicted',
      forModelId: BRAVO,
      budgetBytes: BUDGET,
      reservedBytes: expect.any(Number),
      freeBytes: expect.any(Number),
    });
    expect(loads(BRAVO)).toHaveLength(1);
    expect(loads(BRAVO)[0]).toMatchObject({ trigger: 'request', budgetBytes: BUDGET, reservedBytes: 0 });
  });

  it('writes one line per idle stop', async () => {
    await waitFor(async () => (await state(BRAVO)) === 'unloaded', 10_000, 50, 'bravo idle stop');
    await waitFor(() => unloads(BRAVO, 'idle').length > 0, 5000, 20, 'bravo idle line');
    expect(unloads(BRAVO, 'idle')).toHaveLength(1);
    expect(unloads(BRAVO, 'idle')[0]).toMatchObject({ budgetBytes: BUDGET, reservedBytes: expect.any(Number) });
    expect(unloads(BRAVO, 'evicted')).toEqual([]);
  });

  it('writes one line per cancelled load', async () => {
    const request = httpRequest(`${url}/v1/chat/completions`, {
      method: 'POST',
      body: chatBody(SLOW),
      timeoutMs: 500,
    }).catch((e: Error) => e);
    // The client gives up (its socket is destroyed) while the 5 s load is under way.
    expect(await request).toBeInstanceOf(Error);
    await waitFor(() => unloads(SLOW, 'cancelled').length > 0, 5000, 20, 'slow cancel line');
    expect(unloads(SLOW, 'cancelled')).toHaveLength(1);
    expect(unloads(SLOW, 'cancelled')[0]).toMatchObject({
      modelId: SLOW,
      budgetBytes: BUDGET,
      reservedBytes: expect.any(Number),
      freeBytes: expect.any(Number),
    });
    expect(loads(SLOW)).toHaveLength(1);
    expect(loads(SLOW)[0].trigger).toBe('request');
  });
});
