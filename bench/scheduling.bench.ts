/**
 * Scheduling benchmarks (API.md §9), each beside its by-hand baseline in the same run:
 * - cold start: the first request for an unloaded on-demand model, time to the first byte of
 *   the answer through MAGI, against the same binary started by hand (spawn, poll /health
 *   every 10 ms, then the request) — with the stand-in and, when LLAMA_SERVER_PATH and
 *   LLAMA_TEST_MODEL are set, with the real llama-server;
 * - swap: two models with room for one, alternating requests: each request through MAGI
 *   (evict one, load the other, answer) against stopping one and starting the other by hand;
 * - burst: 6 on-demand models with room for 2, concurrent requests across them: answers,
 *   loads, the highest reserved memory seen against the budget, and each request's wait.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, statSync, writeFileSync } from 'node:fs';
import { request as httpReq } from 'node:http';
import { basename, join } from 'node:path';
import * as yaml from 'js-yaml';
import { FleetService } from '../src/servers/fleet.service';
import { TestApp, createTestApp, makeTestDirs } from '../test/support/create-test-app';
import { STANDIN_PATH, freePort, freePortRange, httpRequest, waitFor } from '../test/support/fixtures';
import { writeModel } from '../test/e2e/fleet.helpers';
import { fmt } from './support';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const STANDIN_LOAD_MS = 300;
const REAL_BINARY = process.env.LLAMA_SERVER_PATH ?? '';
/**
 * The real model: BENCH_LOAD_MODEL when set — a model that takes a real load time, e.g.
 * `python3 bench/tiny-llama.py <llama.cpp> small.gguf 1024 2816 16` (1.1 GB) — else the tiny
 * BENCH_LLAMA_MODEL (or LLAMA_TEST_MODEL), whose 0.1 s load makes every millisecond of
 * overhead look large.
 */
const REAL_MODEL = process.env.BENCH_LOAD_MODEL ?? process.env.BENCH_LLAMA_MODEL ?? process.env.LLAMA_TEST_MODEL ?? '';
const SERVER_ARGS = ['--ctx-size', '2048', '--parallel', '1'];

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

interface Binary {
  label: string;
  path: string;
  /** Copies (or writes) `count` model files into `dir`; returns their paths. */
  models(dir: string, count: number): Promise<string[]>;
  env: Record<string, string>;
}

const STANDIN: Binary = {
  label: 'stand-in (300 ms load)',
  path: STANDIN_PATH,
  async models(dir, count) {
    const out: string[] = [];
    // Large enough that the stand-in's own ~50 MB of Node stays well inside each estimate.
    for (let i = 0; i < count; i++) out.push(await writeModel(dir, `m${i}`, { weightsMiB: 256 }));
    return out;
  },
  env: { STANDIN_LOAD_MS: String(STANDIN_LOAD_MS), STANDIN_CHUNKS: '4', STANDIN_CHUNK_DELAY_MS: '0' },
};

const REAL: Binary = {
  label: `real llama-server (${basename(REAL_MODEL)}, ${existsSync(REAL_MODEL) ? fmt(statSync(REAL_MODEL).size / 2 ** 20) : '?'} MiB)`,
  path: REAL_BINARY,
  async models(dir, count) {
    return Array.from({ length: count }, (_, i) => {
      // Links, not copies: one file's pages in the cache, several registry ids.
      const file = join(dir, `real-${i}.gguf`);
      try {
        linkSync(REAL_MODEL, file);
      } catch {
        copyFileSync(REAL_MODEL, file);
      }
      return file;
    });
  },
  env: {},
};

/** POST a chat request; resolves with ms to the response head (the answer's first byte) and its status. */
function firstByte(url: string, model: string): Promise<{ ms: number; status: number }> {
  const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpReq(
      `${url}/v1/chat/completions`,
      { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const ms = performance.now() - t0;
        res.resume();
        res.on('end', () => resolve({ ms, status: res.statusCode ?? 0 }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The binary started by hand, as an operator would: spawn, poll /health every 10 ms. */
async function startByHand(bin: Binary, model: string): Promise<{ proc: ChildProcess; url: string }> {
  const port = await freePort();
  const proc = spawn(bin.path, ['--model', model, '--host', '127.0.0.1', '--port', String(port), ...SERVER_ARGS], {
    env: { ...process.env, ...bin.env },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => (await httpRequest(`${url}/health`, { timeoutMs: 1000 }).catch(() => null))?.status === 200,
    60_000,
    10,
    'hand-started server ready',
  );
  return { proc, url };
}

function stopByHand(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
  });
}

interface Magi {
  t: TestApp;
  ids: string[];
  fleet: FleetService;
  close(): Promise<void>;
}

async function bootMagi(bin: Binary, count: number, profile: Record<string, unknown>): Promise<Magi> {
  const dirs = makeTestDirs('magi-sched-bench-');
  await bin.models(dirs.models, count);
  writeFileSync(
    join(dirs.profiles, 'bench.yaml'),
    yaml.dump({
      name: 'bench',
      enabledModels: ['*'],
      server: { ctxSize: 2048, parallel: 1 },
      onDemand: { models: ['*'], idleTimeoutSeconds: 3600 },
      ...profile,
    }),
  );
  for (const [k, v] of Object.entries(bin.env)) process.env[k] = v;
  const range = await freePortRange(count + 4);
  const t = await createTestApp({
    dirs,
    env: {
      LLAMA_SERVER_PATH: bin.path,
      ACTIVE_PROFILE: 'bench',
      PORT_RANGE: `${range[0]}-${range[1]}`,
      FLEET_STOP_GRACE_SECONDS: '5',
      GATEWAY_QUEUE_TIMEOUT: '60',
      MAX_STARTUP_TIME: '60',
    },
  });
  const fleet = t.app.get(FleetService);
  await waitFor(async () => fleet.list().length === count, 10_000, 20, 'models registered');
  const ids = fleet.list().map((s) => s.modelId);
  return {
    t,
    ids,
    fleet,
    async close() {
      await t.close();
      for (const k of Object.keys(bin.env)) delete process.env[k];
    },
  };
}

async function unloadAll(m: Magi): Promise<void> {
  for (const id of m.ids) await httpRequest(`${m.t.url}/api/models/servers/${id}/unload`, { method: 'POST' });
}

async function coldStart(bin: Binary): Promise<string[]> {
  const dir = makeTestDirs('magi-sched-hand-').models;
  const [model] = await bin.models(dir, 1);
  const hand: number[] = [];
  const magi: number[] = [];
  const m = await bootMagi(bin, 1, { memoryBudget: 'off' });
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const t0 = performance.now();
      const s = await startByHand(bin, model);
      const r = await firstByte(s.url, 'x');
      hand.push(performance.now() - t0 - r.ms + r.ms);
      await stopByHand(s.proc);

      const through = await firstByte(m.t.url, m.ids[0]);
      if (through.status !== 200) throw new Error(`cold start through MAGI answered ${through.status}`);
      magi.push(through.ms);
      await unloadAll(m);
    }
  } finally {
    await m.close();
  }
  const added = median(magi) - median(hand);
  return [
    `| cold start, ${bin.label} | ${fmt(median(hand))} ms | ${fmt(median(magi))} ms | ${added >= 0 ? '+' : ''}${fmt(added)} ms | ${fmt(median(magi) / median(hand), 3)}× |`,
  ];
}

async function swap(bin: Binary): Promise<string[]> {
  const dir = makeTestDirs('magi-sched-hand-').models;
  const models = await bin.models(dir, 2);
  const hand: number[] = [];
  let running = await startByHand(bin, models[0]);
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    await stopByHand(running.proc);
    running = await startByHand(bin, models[(i + 1) % 2]);
    await firstByte(running.url, 'x');
    hand.push(performance.now() - t0);
  }
  await stopByHand(running.proc);

  const magi: number[] = [];
  const m = await bootMagi(bin, 2, { maxRunning: 1, memoryBudget: 'off' });
  try {
    await firstByte(m.t.url, m.ids[0]);
    for (let i = 0; i < ROUNDS; i++) {
      const r = await firstByte(m.t.url, m.ids[(i + 1) % 2]);
      if (r.status !== 200) throw new Error(`swap through MAGI answered ${r.status}`);
      magi.push(r.ms);
    }
  } finally {
    await m.close();
  }
  return [
    `| swap (stop one, load the other, answer), ${bin.label} | ${fmt(median(hand))} ms | ${fmt(median(magi))} ms | ${fmt(median(magi) - median(hand))} ms | ${fmt(median(magi) / median(hand), 3)}× |`,
  ];
}

async function burst(): Promise<string> {
  const m = await bootMagi(STANDIN, 6, {});
  const estimate = m.fleet.estimateOf(m.ids[0]);
  await m.close();
  // Room for two: the budget is 2.5 estimates.
  const budget = Math.floor(2.5 * estimate);
  const b = await bootMagi(
    { ...STANDIN, env: { ...STANDIN.env, STANDIN_HOLD_BYTES: String(Math.floor(estimate * 0.6)) } },
    6,
    {
      memoryBudget: `${budget}B`,
    },
  );
  let maxReserved = 0;
  let maxRunning = 0;
  const sampler = setInterval(() => {
    maxReserved = Math.max(maxReserved, b.fleet.memory().reservedBytes);
    maxRunning = Math.max(maxRunning, b.fleet.list().filter((s) => s.pid !== null).length);
  }, 5);
  const requests = 30;
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: requests }, (_, i) => firstByte(b.t.url, b.ids[i % 6])));
  const wall = performance.now() - t0;
  clearInterval(sampler);
  const metrics = (await httpRequest(`${b.t.url}/metrics`)).body;
  const loads = [...metrics.matchAll(/magi_fleet_loads_total\{[^}]*\} (\d+)/g)].reduce((n, x) => n + Number(x[1]), 0);
  await b.close();
  const ok = results.filter((r) => r.status === 200).length;
  const waits = results.map((r) => r.ms);
  return [
    `Burst: ${requests} concurrent requests across 6 on-demand models (stand-in, ${STANDIN_LOAD_MS} ms load), budget ${fmt(budget / 2 ** 20)} MiB = room for 2 (each model's estimate ${fmt(estimate / 2 ** 20)} MiB):`,
    '',
    '| answered 200 | other | loads made | highest reserved / budget | most processes at once | wait p50 | wait p95 | wait max | wall |',
    '|---|---|---|---|---|---|---|---|---|',
    `| ${ok} | ${requests - ok} | ${loads} | ${fmt(maxReserved / budget, 3)} | ${maxRunning} | ${fmt(median(waits))} ms | ${fmt(pct(waits, 0.95))} ms | ${fmt(Math.max(...waits))} ms | ${fmt(wall)} ms |`,
  ].join('\n');
}

export async function run(): Promise<string> {
  const bins = [STANDIN, ...(existsSync(REAL_BINARY) && existsSync(REAL_MODEL) ? [REAL] : [])];
  const rows: string[] = [];
  for (const bin of bins) rows.push(...(await coldStart(bin)));
  for (const bin of bins) rows.push(...(await swap(bin)));
  const burstSection = await burst();
  return [
    '## Scheduling: on-demand loads, swaps and a burst',
    '',
    `Median of ${ROUNDS} rounds each. "By hand": the same binary and model spawned directly, /health polled every 10 ms, then the same request; ` +
      'for a swap, SIGTERM to the running one and its exit first. "Through MAGI": the request alone, sent to an unloaded ' +
      'on-demand model (cold start) or alternating between two models with maxRunning 1 (swap). Time to the first byte of the answer.' +
      (bins.includes(REAL) ? '' : ' (The real llama-server rows need LLAMA_SERVER_PATH and BENCH_LOAD_MODEL.)'),
    '',
    '| case | by hand | through MAGI | added | ratio |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    burstSection,
  ].join('\n');
}

if (require.main === module) {
  run()
    .then((s) => {
      process.stdout.write(`${s}\n`);
      process.exit(0);
    })
    .catch((e: Error) => {
      process.stderr.write(`${e.stack}\n`);
      process.exit(1);
    });
}
