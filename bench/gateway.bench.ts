/**
 * Gateway benchmarks (issue 8). MAGI runs as users run it — the compiled server
 * (`nest build`, then `node dist/main.js`) in its own process — on a fleet of
 * llama-server stand-ins; the load comes from this process, so the child's CPU and RSS
 * are the gateway's own (a small preload, magi-probe.js, reports them over IPC).
 *
 * - requests/s and p50/p99, direct to a stand-in vs through MAGI, at 1 and 16 connections:
 *   non-streaming (stand-in answering after 5 ms, STANDIN_RESPONSE_DELAY_MS=5) and
 *   streaming (time to first chunk; first chunk after 5 ms, then 5 ms between chunks);
 * - the same rounds through a bare Node proxy (bare-proxy.js), for the machine's floor;
 * - the gateway's CPU per proxied request (µs) against a stand-in answering at once;
 * - MAGI's RSS before and after BENCH_GATEWAY_REQUESTS (default 100,000) proxied requests;
 * - with LLAMA_SERVER_PATH (a real llama-server) and BENCH_LLAMA_MODEL (a .gguf file), the
 *   same direct-vs-MAGI comparison against the real server.
 *
 * Knobs: BENCH_GATEWAY_SECONDS (per measurement, default 5), BENCH_GATEWAY_ROUNDS
 * (alternating direct/MAGI rounds per cell, default 3, medians reported),
 * BENCH_GATEWAY_REQUESTS, BENCH_GATEWAY_LOG_LEVEL (MAGI's LOG_LEVEL, default info: the
 * gateway's log line per request, to /dev/null), BENCH_GATEWAY_LOADGEN=node (the raw-socket
 * loop instead of wrk for non-streamed load), BENCH_GATEWAY_NODE_ARGS (extra node flags for
 * the MAGI process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */
import { ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { Socket, connect } from 'node:net';
import { fmt, load, LoadResult } from './support';

const SECONDS = Number(process.env.BENCH_GATEWAY_SECONDS ?? 5);
const TOTAL = Number(process.env.BENCH_GATEWAY_REQUESTS ?? 100_000);
const LOG_LEVEL = process.env.BENCH_GATEWAY_LOG_LEVEL ?? 'info';
const CPU_REQUESTS = Math.min(20_000, TOTAL);
/** Direct and through-MAGI runs alternate this many times per cell; the tables give the medians. */
const ROUNDS = Math.max(1, Number(process.env.BENCH_GATEWAY_ROUNDS ?? 3));
/**
 * The non-streamed load generator: wrk (C, epoll; `apt-get install wrk`) when it is on
 * PATH, else the raw-socket loop below. On a 2-core machine the generator's own CPU
 * competes with the stand-in and MAGI; BENCH_GATEWAY_LOADGEN=node forces the loop.
 */
const WRK = process.env.BENCH_GATEWAY_LOADGEN !== 'node' && spawnSync('wrk', ['--version']).error === undefined;

/** Extra node flags for the MAGI process (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to see where its CPU goes). */
const NODE_ARGS = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);

type Mode = 'standin' | 'real';

interface ChildInfo {
  url: string;
  servers: Array<{ modelId: string; port: number; host: string }>;
}

interface MemInfo {
  rssMb: number;
  heapUsedMb: number;
  externalMb: number;
}

// ---------------------------------------------------------------- child: MAGI on a fleet

/** The stand-ins' behaviour per model (STANDIN_CONFIG, by alias = model id). */
const STANDIN_MODELS: Record<string, Record<string, number>> = {
  // answers after 5 ms (non-streaming runs)
  five: { RESPONSE_DELAY_MS: 5, CHUNK_DELAY_MS: 0, CHUNKS: 5 },
  // first chunk after 5 ms, then one every 5 ms (streaming runs)
  stream: { RESPONSE_DELAY_MS: 5, CHUNK_DELAY_MS: 5, CHUNKS: 5 },
  // answers at once (CPU and RSS runs)
  instant: { RESPONSE_DELAY_MS: 0, CHUNK_DELAY_MS: 0, CHUNKS: 5 },
};

/** Compiles the server once per bench run, so the measured process is what `npm start` runs. */
let built = false;
function buildOnce(): void {
  if (built) return;
  const r = spawnSync(process.execPath, [require.resolve('@nestjs/cli/bin/nest.js'), 'build'], {
    cwd: join(__dirname, '..'),
    stdio: 'inherit',
  });
  if (r.status !== 0) throw new Error('nest build failed');
  built = true;
}

/** Folders, models, stand-in behaviour and the profile for one MAGI process; its environment. */
async function prepare(
  mode: Mode,
  logLevel: string,
): Promise<{ env: Record<string, string>; root: string; count: number }> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { makeTestDirs, testEnv } =
    require('../test/support/create-test-app') as typeof import('../test/support/create-test-app');
  const { STANDIN_PATH, freePortRange } =
    require('../test/support/fixtures') as typeof import('../test/support/fixtures');
  const { writeModel } = require('../test/e2e/fleet.helpers') as typeof import('../test/e2e/fleet.helpers');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const dirs = makeTestDirs('magi-bench-gw-');
  let binary = STANDIN_PATH;
  let count: number;
  const extra: Record<string, string> = {};
  if (mode === 'standin') {
    for (const name of Object.keys(STANDIN_MODELS)) {
      await writeModel(dirs.models, name);
    }
    const config = join(dirs.root, 'standin-config.json');
    writeFileSync(
      config,
      JSON.stringify(Object.fromEntries(Object.entries(STANDIN_MODELS).map(([n, c]) => [`${n}_1b_q4km`, c]))),
    );
    extra.STANDIN_CONFIG = config;
    count = Object.keys(STANDIN_MODELS).length;
  } else {
    binary = process.env.LLAMA_SERVER_PATH!;
    const model = resolve(process.env.BENCH_LLAMA_MODEL!);
    symlinkSync(model, join(dirs.models, basename(model)));
    count = 1;
  }
  writeFileSync(
    join(dirs.profiles, 'bench.yaml'),
    `name: bench\nenabledModels: ['*']\nloadBalancing: {enabled: true, strategy: round_robin, healthCheckInterval: 30}\nserver: {parallel: ${mode === 'standin' ? 32 : 4}}\n`,
  );
  const ports = await freePortRange(count + 2);
  const [port] = await freePortRange(1);
  const env = testEnv(dirs, {
    ...extra,
    LOG_LEVEL: logLevel,
    PORT: String(port),
    LLAMA_SERVER_PATH: binary,
    ACTIVE_PROFILE: 'bench',
    PORT_RANGE: `${ports[0]}-${ports[1]}`,
    READINESS_CHECK_INTERVAL: '0.1',
    MAX_STARTUP_TIME: '600',
  });
  return { env, root: dirs.root, count };
}

// ---------------------------------------------------------------- parent

interface Magi {
  info: ChildInfo;
  ask<T>(cmd: string): Promise<T>;
  close(): Promise<void>;
}

export async function startMagi(
  mode: Mode,
  logLevel = LOG_LEVEL,
  dist = join(__dirname, '..', 'dist'),
  nodeArgs = NODE_ARGS,
): Promise<Magi> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { httpRequest, waitFor } = require('../test/support/fixtures') as typeof import('../test/support/fixtures');
  // Another build's dist (an A/B) is measured as it is; this tree's is built first.
  if (dist === join(__dirname, '..', 'dist')) buildOnce();
  const { env, root, count } = await prepare(mode, logLevel);
  const root_ = join(__dirname, '..');
  const proc: ChildProcess = spawn(
    process.execPath,
    [...nodeArgs, '--expose-gc', '-r', join(__dirname, 'magi-probe.js'), join(dist, 'main.js')],
    {
      cwd: root_,
      env,
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    },
  );
  let exited = false;
  proc.once('exit', () => (exited = true));
  const url = `http://127.0.0.1:${env.PORT}`;
  const servers = async () =>
    (await httpRequest(`${url}/api/models/servers`)).json<{
      servers: Array<{ modelId: string; port: number; state: string }>;
    }>().servers;
  await waitFor(
    async () => {
      if (exited) throw new Error('MAGI exited before its fleet was ready');
      return (await servers().catch(() => [])).filter((s) => s.state === 'ready').length === count;
    },
    600_000,
    100,
    'fleet ready',
  );
  const info: ChildInfo = {
    url,
    servers: (await servers()).map((s) => ({ modelId: s.modelId, port: s.port, host: '127.0.0.1' })),
  };
  const waiting: Array<(m: Record<string, unknown>) => void> = [];
  proc.on('message', (m: Record<string, unknown>) => waiting.shift()?.(m));
  return {
    info,
    ask: <T>(cmd: string) =>
      new Promise<T>((r) => {
        waiting.push((reply) => r(Object.values(reply)[0] as T));
        proc.send({ cmd });
      }),
    // SIGTERM, as an orchestrator stops it: MAGI stops its fleet and exits.
    close: () =>
      new Promise<void>((r) => {
        const done = (): void => {
          rmSync(root, { recursive: true, force: true });
          r();
        };
        if (exited) return done();
        proc.once('exit', done);
        proc.kill('SIGTERM');
      }),
  };
}

/** bare-proxy.js in front of the stand-in on `port`. */
async function startBareProxy(port: number): Promise<{ url: string; close(): void }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { freePortRange } = require('../test/support/fixtures') as typeof import('../test/support/fixtures');
  const [own] = await freePortRange(1);
  const proc = spawn(process.execPath, [join(__dirname, 'bare-proxy.js'), `http://127.0.0.1:${port}`, String(own)], {
    cwd: join(__dirname, '..'),
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolvePromise, reject) => {
    proc.once('message', () => resolvePromise());
    proc.once('exit', (code) => reject(new Error(`bare-proxy.js exited with ${code}`)));
  });
  proc.channel?.unref();
  return { url: `http://127.0.0.1:${own}/v1/chat/completions`, close: () => void proc.kill() };
}

export const chatBody = (model: string, stream: boolean, maxTokens = 5): string =>
  JSON.stringify({
    model,
    messages: [{ role: 'user', content: 'Say hello in five words.' }],
    max_tokens: maxTokens,
    stream,
  });

/** wrk's duration with its unit (`6.21ms`, `850.00us`, `1.02s`) in ms. */
function wrkMs(text: string): number {
  const m = /([\d.]+)(us|ms|s)\b/.exec(text);
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n;
}

/** One wrk run (1 thread, `connections` connections) POSTing `body`. */
export function wrkLoad(
  url: string,
  body: string,
  connections: number,
  seconds: number,
): Promise<LoadResult & { requests: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'magi-wrk-'));
  const script = join(dir, 'post.lua');
  writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${JSON.stringify(body)}\n`,
  );
  return new Promise((resolvePromise, reject) => {
    execFile('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, url], (err, out) => {
      rmSync(dir, { recursive: true, force: true });
      if (err) return reject(err);
      const line = (re: RegExp) => re.exec(out)?.[1] ?? '';
      const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      resolvePromise({
        rps: Number(line(/Requests\/sec:\s+([\d.]+)/)),
        requests: Number(line(/(\d+) requests in/)),
        p50: wrkMs(line(/^\s+50%\s+(\S+)/m)),
        p99: wrkMs(line(/^\s+99%\s+(\S+)/m)),
        errors: socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
        non2xx: Number(line(/Non-2xx or 3xx responses:\s+(\d+)/) || 0),
      });
    });
  });
}

/**
 * Non-streamed load: wrk when available, else the raw-socket loop of the streamed runs
 * (not autocannon, which reports whole milliseconds, too coarse for a sub-millisecond target).
 */
export async function jsonLoad(url: string, body: string, connections: number, seconds: number): Promise<LoadResult> {
  if (WRK) return wrkLoad(url, body, connections, seconds);
  const r = await streamLoad(url, body, connections, seconds);
  return { rps: r.rps, p50: r.totalP50, p99: r.totalP99, errors: r.errors, non2xx: 0 };
}

export interface StreamResult {
  rps: number;
  ttfcP50: number;
  ttfcP99: number;
  /** p50 of the connects timed into `ttfc` (only with ownConnection, else NaN). */
  connectP50: number;
  totalP50: number;
  totalP99: number;
  errors: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/**
 * One client's loop of POSTs until `deadline`: a minimal HTTP/1.1 client on a raw socket
 * (Content-Length and chunked bodies), so that the load generator's own CPU per request and
 * per chunk stays small beside the stand-in's and MAGI's on a shared machine. Records the
 * time to the first body byte and to the end of each answer. The next request goes on the
 * same connection unless the answer said `Connection: close`; a connection the server closes
 * anyway (as a real llama-server does after each stream) is replaced, and an answer it cut
 * short or never gave counts as an error.
 */
function connectionLoop(
  u: URL,
  request: Buffer,
  ownConnection: boolean,
  deadline: number,
  out: { ttfc: number[]; total: number[]; connects: number[]; errors: number },
): Promise<void> {
  return new Promise((resolveLoop) => {
    let socket: Socket;
    let buf = '';
    let t0 = 0;
    let opened = 0; // when the current connection was asked for
    let status = 0;
    let head = true;
    let chunked = false;
    let closing = false; // this connection ends with the answer (`Connection: close` either way)
    let inFlight = false;
    let length = 0; // Content-Length left, or the current chunk's size left
    let sawBody = false;
    const send = (): void => {
      if (performance.now() >= deadline) {
        socket.end();
        return resolveLoop();
      }
      buf = '';
      head = true;
      sawBody = false;
      inFlight = true;
      // A request on a connection of its own is timed from when it was due, before the
      // connect: a client of llama-server pays that connect for every stream.
      t0 = ownConnection ? opened : performance.now();
      socket.write(request);
    };
    const firstByte = (): void => {
      if (sawBody) return;
      sawBody = true;
      out.ttfc.push(performance.now() - t0);
    };
    const finish = (): void => {
      inFlight = false;
      if (status === 200) out.total.push(performance.now() - t0);
      else out.errors++;
      if (closing) {
        socket.removeAllListeners('close');
        socket.destroy();
        return open();
      }
      send();
    };
    const onData = (data: string): void => {
      buf += data;
      for (;;) {
        if (head) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const lines = buf.slice(0, end).split('\r\n');
          status = Number(lines[0].split(' ')[1]);
          chunked = lines.some((l) => /^transfer-encoding:\s*chunked/i.test(l));
          closing = ownConnection || lines.some((l) => /^connection:\s*close/i.test(l));
          const cl = lines.find((l) => /^content-length:/i.test(l));
          length = chunked ? -1 : Number(cl?.split(':')[1] ?? 0);
          buf = buf.slice(end + 4);
          head = false;
          if (!chunked && length === 0) return finish();
          continue;
        }
        if (!chunked) {
          if (buf.length > 0) firstByte();
          if (buf.length < length) return;
          return finish();
        }
        if (length < 0) {
          // a chunk-size line
          const eol = buf.indexOf('\r\n');
          if (eol < 0) return;
          length = parseInt(buf.slice(0, eol), 16);
          buf = buf.slice(eol + 2);
          continue;
        }
        if (length === 0) {
          // the last chunk: its CRLF may come in a later read (llama-server writes it apart)
          if (buf.length < 2) return; // no trailers from our upstreams
          return finish();
        }
        if (buf.length > 0) firstByte();
        if (buf.length < length + 2) return;
        buf = buf.slice(length + 2);
        length = -1;
      }
    };
    function open(): void {
      if (performance.now() >= deadline) return resolveLoop();
      opened = performance.now();
      closing = false;
      socket = connect(Number(u.port), u.hostname);
      socket.setNoDelay(true);
      socket.setEncoding('latin1'); // one char per byte: lengths below are byte counts
      socket.on('data', onData);
      socket.on('error', () => undefined); // 'close' follows
      let connected = false;
      socket.on('close', () => {
        if (inFlight || !connected) out.errors++;
        inFlight = false;
        if (connected) open();
        else setTimeout(open, 10); // refused: do not spin
      });
      socket.on('connect', () => {
        connected = true;
        if (ownConnection) out.connects.push(performance.now() - opened);
        send();
      });
    }
    open();
  });
}

/**
 * `connections` loops of requests for `seconds`: time to the first body byte and to the end.
 * `ownConnection`: each request on a new connection (`Connection: close`), as a client must
 * send streams straight to llama-server, which closes the connection after each one. MAGI
 * keeps its clients' connections open and opens the new one upstream itself.
 */
export async function streamLoad(
  url: string,
  body: string,
  connections: number,
  seconds: number,
  ownConnection = false,
): Promise<StreamResult> {
  const u = new URL(url);
  const payload = Buffer.from(body);
  const close = ownConnection ? 'Connection: close\r\n' : '';
  const request = Buffer.concat([
    Buffer.from(
      `POST ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nContent-Length: ${payload.length}\r\n${close}\r\n`,
      'latin1',
    ),
    payload,
  ]);
  const out = { ttfc: [] as number[], total: [] as number[], connects: [] as number[], errors: 0 };
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, () => connectionLoop(u, request, ownConnection, started + seconds * 1000, out)),
  );
  const elapsed = (performance.now() - started) / 1000;
  const ttfc = out.ttfc.sort((a, b) => a - b);
  const total = out.total.sort((a, b) => a - b);
  return {
    rps: total.length / elapsed,
    ttfcP50: quantile(ttfc, 0.5),
    ttfcP99: quantile(ttfc, 0.99),
    connectP50: quantile(
      out.connects.sort((a, b) => a - b),
      0.5,
    ),
    totalP50: quantile(total, 0.5),
    totalP99: quantile(total, 0.99),
    errors: out.errors,
  };
}

interface Pair<T> {
  direct: T;
  magi: T;
  /** The bare Node proxy (bare-proxy.js) in the same rounds, when measured. */
  bare?: T;
}

/** The element-wise median of `runs` (each field on its own). */
function median<T extends object>(runs: T[]): T {
  const out: Record<string, number> = {};
  for (const key of Object.keys(runs[0])) {
    const values = runs.map((r) => (r as Record<string, number>)[key]).sort((a, b) => a - b);
    out[key] = values[Math.floor(values.length / 2)];
  }
  return out as T;
}

/**
 * Direct vs through MAGI at 1 and 16 connections, non-streaming and streaming: ROUNDS
 * alternating runs per cell (direct, MAGI, direct, …) so drift on a shared machine hits
 * both sides alike; each side's median.
 */
async function compare(
  magiUrl: string,
  jsonTarget: { port: number; modelId: string },
  streamTarget: { port: number; modelId: string },
  seconds: number,
  maxTokens: number,
  bare?: { json: string; stream: string },
): Promise<{ json: Map<number, Pair<LoadResult>>; stream: Map<number, Pair<StreamResult>>; rounds: string[] }> {
  const json = new Map<number, Pair<LoadResult>>();
  const stream = new Map<number, Pair<StreamResult>>();
  const rounds: string[] = [];
  const direct = (port: number) => `http://127.0.0.1:${port}/v1/chat/completions`;
  const via = `${magiUrl}/v1/chat/completions`;
  const jb = chatBody(jsonTarget.modelId, false, maxTokens);
  const sb = chatBody(streamTarget.modelId, true, maxTokens);
  // warm-up: connections, JIT, pools
  await jsonLoad(via, jb, 16, 1);
  await jsonLoad(direct(jsonTarget.port), jb, 16, 1);
  await streamLoad(via, sb, 16, 1);
  if (bare) {
    await jsonLoad(bare.json, jb, 16, 1);
    await streamLoad(bare.stream, sb, 16, 1);
  }
  for (const c of [1, 16]) {
    const j: Array<Pair<LoadResult>> = [];
    const st: Array<Pair<StreamResult>> = [];
    for (let round = 0; round < ROUNDS; round++) {
      j.push({
        direct: await jsonLoad(direct(jsonTarget.port), jb, c, seconds),
        magi: await jsonLoad(via, jb, c, seconds),
        bare: bare && (await jsonLoad(bare.json, jb, c, seconds)),
      });
      st.push({
        direct: await streamLoad(direct(streamTarget.port), sb, c, seconds, true),
        magi: await streamLoad(via, sb, c, seconds),
        bare: bare && (await streamLoad(bare.stream, sb, c, seconds)),
      });
    }
    const medians = <T extends object>(runs: Array<Pair<T>>): Pair<T> => ({
      direct: median(runs.map((x) => x.direct)),
      magi: median(runs.map((x) => x.magi)),
      bare: bare && median(runs.map((x) => x.bare!)),
    });
    json.set(c, medians(j));
    stream.set(c, medians(st));
    const each = (pairs: Array<Pair<{ rps: number }>>) =>
      pairs.map((x) => `${fmt((x.magi.rps / x.direct.rps) * 100, 1)}%`).join(', ');
    rounds.push(`${c} connection${c === 1 ? '' : 's'}: JSON ${each(j)}; SSE ${each(st)}`);
  }
  return { json, stream, rounds };
}

/** How much of the direct SSE rows is the client's connect, so either measure can be read off. */
function connectNote(r: Awaited<ReturnType<typeof compare>>): string {
  const parts = [...r.stream].map(
    ([c, p]) => `${fmt(p.direct.connectP50, 2)} ms at ${c} connection${c === 1 ? '' : 's'}`,
  );
  return `Of a direct stream's time to first chunk, its connect took (p50) ${parts.join(', ')}.`;
}

/** `a` as a percentage of `b`. */
const pct = (a: number, b: number): string => `${fmt((a / b) * 100, 1)}%`;
/** `a - b` with its sign. */
const delta = (a: number, b: number): string => `${a - b >= 0 ? '+' : ''}${fmt(a - b, 2)}`;

function comparisonTable(r: Awaited<ReturnType<typeof compare>>): string[] {
  const rows = [
    '| answer | connections | direct req/s | MAGI req/s | MAGI / direct | direct p50 ms | MAGI p50 ms | p50 added ms | direct p99 ms | MAGI p99 ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [c, { direct, magi }] of r.json) {
    rows.push(
      `| JSON (non-streaming) | ${c} | ${fmt(direct.rps)} | ${fmt(magi.rps)} | ${pct(magi.rps, direct.rps)} | ${fmt(direct.p50, 2)} | ${fmt(magi.p50, 2)} | ${delta(magi.p50, direct.p50)} | ${fmt(direct.p99, 2)} | ${fmt(magi.p99, 2)} |` +
        (direct.errors + direct.non2xx + magi.errors + magi.non2xx
          ? ` ⚠ errors ${direct.errors + direct.non2xx}/${magi.errors + magi.non2xx}`
          : ''),
    );
  }
  for (const [c, { direct, magi }] of r.stream) {
    rows.push(
      `| SSE, time to first chunk | ${c} | ${fmt(direct.rps)} | ${fmt(magi.rps)} | ${pct(magi.rps, direct.rps)} | ${fmt(direct.ttfcP50, 2)} | ${fmt(magi.ttfcP50, 2)} | ${delta(magi.ttfcP50, direct.ttfcP50)} | ${fmt(direct.ttfcP99, 2)} | ${fmt(magi.ttfcP99, 2)} |` +
        (direct.errors + magi.errors ? ` ⚠ errors ${direct.errors}/${magi.errors}` : ''),
    );
  }
  return rows;
}

/** The bare Node proxy's medians next to direct's: what any Node proxy costs on this machine. */
function floorTable(r: Awaited<ReturnType<typeof compare>>): string[] {
  const rows = [
    '| answer | connections | bare proxy / direct req/s | bare proxy p50 added ms | MAGI / direct req/s | MAGI p50 added ms |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const [c, p] of r.json) {
    if (!p.bare) return [];
    rows.push(
      `| JSON (non-streaming) | ${c} | ${pct(p.bare.rps, p.direct.rps)} | ${delta(p.bare.p50, p.direct.p50)} | ${pct(p.magi.rps, p.direct.rps)} | ${delta(p.magi.p50, p.direct.p50)} |`,
    );
  }
  for (const [c, p] of r.stream) {
    if (!p.bare) return [];
    rows.push(
      `| SSE, time to first chunk | ${c} | ${pct(p.bare.rps, p.direct.rps)} | ${delta(p.bare.ttfcP50, p.direct.ttfcP50)} | ${pct(p.magi.rps, p.direct.rps)} | ${delta(p.magi.ttfcP50, p.direct.ttfcP50)} |`,
    );
  }
  return rows;
}

/** Issue 8's targets against the medians: ≥ 90% of direct req/s at 16 connections, ≤ 1 ms added at p50. */
function targets(r: Awaited<ReturnType<typeof compare>>): string[] {
  const verdict = (ok: boolean) => (ok ? '**met**' : '**not met**');
  const out: string[] = [];
  const json16 = r.json.get(16)!;
  const sse16 = r.stream.get(16)!;
  const ratio = Math.min(json16.magi.rps / json16.direct.rps, sse16.magi.rps / sse16.direct.rps);
  const added: Array<[string, number]> = [];
  for (const [c, p] of r.json) added.push([`JSON ${c}`, p.magi.p50 - p.direct.p50]);
  for (const [c, p] of r.stream) added.push([`SSE ${c}`, p.magi.ttfcP50 - p.direct.ttfcP50]);
  const worst = added.reduce((a, b) => (b[1] > a[1] ? b : a));
  out.push(
    `Targets: at least 90% of direct throughput at 16 connections — ${verdict(ratio >= 0.9)} (${fmt((json16.magi.rps / json16.direct.rps) * 100, 1)}% non-streaming, ${fmt((sse16.magi.rps / sse16.direct.rps) * 100, 1)}% streaming); ` +
      `at most 1 ms added at p50 — ${verdict(worst[1] <= 1)} (largest: +${fmt(worst[1], 2)} ms, ${worst[0]} connection${worst[0].endsWith(' 1') ? '' : 's'}).`,
  );
  return out;
}

/** µs of MAGI CPU (user + system) per request over `n` requests to the instant stand-in. */
async function cpuPerRequest(magi: Magi, n: number): Promise<{ us: number; rps: number }> {
  const instant = magi.info.servers.find((s) => s.modelId.startsWith('instant'))!;
  const via = `${magi.info.url}/v1/chat/completions`;
  const body = chatBody(instant.modelId, false);
  await load(via, 16, 1, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  const before = await magi.ask<NodeJS.CpuUsage>('cpu');
  const t0 = performance.now();
  const r = await load(via, 16, 3600, {
    amount: n,
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
  } as never);
  const secs = (performance.now() - t0) / 1000;
  const after = await magi.ask<NodeJS.CpuUsage>('cpu');
  void r;
  return { us: (after.user - before.user + after.system - before.system) / n, rps: n / secs };
}

export async function run(): Promise<string> {
  const out: string[] = ['## Gateway (`/v1/chat/completions` through MAGI)', ''];
  const magi = await startMagi('standin');
  try {
    const five = magi.info.servers.find((s) => s.modelId.startsWith('five'))!;
    const stream = magi.info.servers.find((s) => s.modelId.startsWith('stream'))!;
    const bare = await Promise.all([startBareProxy(five.port), startBareProxy(stream.port)]);
    let r: Awaited<ReturnType<typeof compare>>;
    try {
      r = await compare(magi.info.url, five, stream, SECONDS, 5, { json: bare[0].url, stream: bare[1].url });
    } finally {
      for (const b of bare) b.close();
    }
    out.push(
      `Direct to a llama-server stand-in vs through MAGI (routed by model id), same machine: ${ROUNDS} alternating ` +
        `rounds of ${SECONDS} s per cell (direct, MAGI, bare proxy, direct, …), each side's median. ` +
        `JSON: the stand-in answers after 5 ms (5 tokens); latency is the whole answer; load from ${WRK ? 'wrk (1 thread)' : 'a raw-socket Node client'}. ` +
        'SSE: first chunk after 5 ms, then one every 5 ms; latency columns are the time to the first body byte (a raw-socket Node client; direct, a new connection per stream, since llama-server closes it after each one, so a direct stream is timed from before its connect, as its client waits for it; to MAGI and the bare proxy, one kept-alive connection, which they allow, while they open a new one upstream per stream). ' +
        `MAGI logs at \`${LOG_LEVEL}\` (one JSON line per request, the gateway's own, to /dev/null).`,
      '',
      ...comparisonTable(r),
      '',
      `MAGI / direct req/s of each round — ${r.rounds.join('; ')}.`,
      '',
      connectNote(r),
      '',
      ...targets(r),
      '',
      'For scale, a bare Node proxy in the same rounds (`bench/bare-proxy.js`: node:http in, one undici Pool out, ' +
        'no routing, auth, metrics or logs) — the part of the cost any Node proxy pays on this machine:',
      '',
      ...floorTable(r),
      '',
    );

    const cpu = await cpuPerRequest(magi, CPU_REQUESTS);
    const quiet = await startMagi('standin', 'silent');
    let cpuSilent: { us: number; rps: number };
    try {
      cpuSilent = await cpuPerRequest(quiet, CPU_REQUESTS);
    } finally {
      await quiet.close();
    }
    out.push(
      `Gateway CPU per proxied request (MAGI process, user + system, over ${fmt(CPU_REQUESTS)} requests at 16 connections ` +
        'against a stand-in answering at once): ' +
        `**${fmt(cpu.us)} µs** with \`LOG_LEVEL=${LOG_LEVEL}\` (${fmt(cpu.rps)} req/s), ${fmt(cpuSilent.us)} µs with \`LOG_LEVEL=silent\` (${fmt(cpuSilent.rps)} req/s).`,
      '',
    );

    const instant = magi.info.servers.find((s) => s.modelId.startsWith('instant'))!;
    const samples: Array<{ done: number; mem: MemInfo }> = [{ done: 0, mem: await magi.ask<MemInfo>('mem') }];
    const quarter = Math.ceil(TOTAL / 4);
    let failed = 0;
    const t0 = performance.now();
    for (let done = 0; done < TOTAL;) {
      const n = Math.min(quarter, TOTAL - done);
      const r = await load(`${magi.info.url}/v1/chat/completions`, 16, 3600, {
        amount: n,
        method: 'POST',
        body: chatBody(instant.modelId, false),
        headers: { 'content-type': 'application/json' },
      } as never);
      failed += r.errors + r.non2xx;
      done += n;
      samples.push({ done, mem: await magi.ask<MemInfo>('mem') });
    }
    const secs = (performance.now() - t0) / 1000;
    const first = samples[0].mem;
    const last = samples[samples.length - 1].mem;
    out.push(
      `Memory over ${fmt(TOTAL)} proxied requests (${fmt(TOTAL / secs)} req/s at 16 connections, ${failed} errors), MAGI process after a full GC at each point:`,
      '',
      '| requests so far | RSS MB | heap used MB | external MB |',
      '|---:|---:|---:|---:|',
      ...samples.map(
        (x) =>
          `| ${fmt(x.done)} | ${fmt(x.mem.rssMb, 1)} | ${fmt(x.mem.heapUsedMb, 1)} | ${fmt(x.mem.externalMb, 1)} |`,
      ),
      '',
      `RSS ${fmt(first.rssMb, 1)} MB before, ${fmt(last.rssMb, 1)} MB after; heap used ${fmt(first.heapUsedMb, 1)} → ${fmt(last.heapUsedMb, 1)} MB.`,
      '',
    );
  } finally {
    await magi.close();
  }

  const real = process.env.LLAMA_SERVER_PATH;
  const model = process.env.BENCH_LLAMA_MODEL;
  if (real && model && existsSync(real) && existsSync(model)) {
    const rm = await startMagi('real');
    try {
      const s = rm.info.servers[0];
      const r = await compare(rm.info.url, s, s, SECONDS, 8);
      out.push(
        `Against a real llama-server (\`${basename(real)}\`, model \`${basename(model)}\`, 8 tokens per answer, 4 slots):`,
        '',
        ...comparisonTable(r),
        '',
        connectNote(r),
        '',
      );
    } finally {
      await rm.close();
    }
  } else {
    out.push(
      '_A real llama-server was not measured: set `LLAMA_SERVER_PATH` and `BENCH_LLAMA_MODEL` (a .gguf file) to add it._',
      '',
    );
  }
  return out.join('\n');
}

if (require.main === module) {
  run().then(
    (md) => {
      process.stdout.write(`${md}\n`);
      process.exit(0);
    },
    (e: Error) => {
      process.stderr.write(`${e.stack ?? e.message}\n`);
      process.exit(1);
    },
  );
}
