/**
 * Helpers around the test fixtures: run the llama-server stand-in as a real child process,
 * find free ports, poll for a condition, and read the process table (/proc) so a test can
 * prove that no process was left behind.
 *
 * The HTTP fixture servers themselves live in test/fixtures/ (ollama-fixture.ts, ...); the
 * stand-in's switches are documented at the top of test/fixtures/llama-server-standin.js.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** Absolute path of the llama-server stand-in executable (usable as `LLAMA_SERVER_PATH`). */
export const STANDIN_PATH = resolve(__dirname, '..', 'fixtures', 'llama-server-standin.js');
/** The real `llama-server --help` the stand-in prints and takes its flags from. */
export const STANDIN_HELP_PATH = resolve(__dirname, '..', 'fixtures', 'llama-server-help.txt');

// ---------------------------------------------------------------- ports and polling

/** A TCP port that was free on `host` a moment ago. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolvePort(port));
    });
  });
}

function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((done) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => done(false));
    srv.listen(port, host, () => srv.close(() => done(true)));
  });
}

/** `count` consecutive free ports, e.g. for `PORT_RANGE`: returns `[from, to]`. */
export async function freePortRange(count: number, host = '127.0.0.1'): Promise<[number, number]> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20000 + Math.floor(Math.random() * (40000 - count));
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await portIsFree(p, host);
    if (ok) return [base, base + count - 1];
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

/**
 * Calls `fn` every `intervalMs` until it returns a truthy value (which is returned) or
 * `timeoutMs` passes (then throws, with the last error `fn` threw, if any).
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  timeoutMs = 5000,
  intervalMs = 20,
  what = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`waitFor: ${what} not met within ${timeoutMs} ms${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// ---------------------------------------------------------------- HTTP without pooled sockets

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json<T = any>(): T;
}

/**
 * One HTTP request on its own connection (no keep-alive pool, so nothing stays open after
 * a test). Rejects on connection errors (`err.code` e.g. `ECONNREFUSED`) and on timeout.
 */
export function httpRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: unknown; timeoutMs?: number } = {},
): Promise<HttpResult> {
  return new Promise((resolveReq, reject) => {
    const payload =
      opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (payload !== undefined) {
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const req = http.request(
      url,
      { method: opts.method ?? (payload ? 'POST' : 'GET'), headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolveReq({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
        });
      },
    );
    req.setTimeout(opts.timeoutMs ?? 5000, () =>
      req.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })),
    );
    req.on('error', reject);
    req.end(payload);
  });
}

// ---------------------------------------------------------------- process table

export interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
  /** One letter from /proc/<pid>/stat: R, S, D, Z (zombie), T, ... */
  state: string;
  comm: string;
  cmdline: string[];
}

function readProc(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    const rest = stat.slice(close + 2).split(' ');
    let cmdline: string[] = [];
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      /* gone meanwhile */
    }
    return {
      pid,
      comm: stat.slice(open + 1, close),
      state: rest[0],
      ppid: Number(rest[1]),
      pgid: Number(rest[2]),
      cmdline,
    };
  } catch {
    return null;
  }
}

/** Every process visible in /proc (zombies included; see `state`). */
export function listProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) out.push(p);
  }
  return out;
}

/** True while the process exists and is not a zombie. */
export function isPidAlive(pid: number): boolean {
  const p = readProc(pid);
  return p !== null && p.state !== 'Z' && p.state !== 'X';
}

/** Live (non-zombie) members of a process group. */
export function processGroupMembers(pgid: number): ProcInfo[] {
  return listProcesses().filter((p) => p.pgid === pgid && p.state !== 'Z' && p.state !== 'X');
}

/** Live processes whose command line mentions the stand-in (its servers and their grandchildren). */
export function standinProcesses(): ProcInfo[] {
  return listProcesses().filter(
    (p) => p.state !== 'Z' && p.cmdline.some((a) => a === STANDIN_PATH || a === 'llama-standin-grandchild'),
  );
}

/** Sends a signal to a whole process group; a group that is already gone is fine. */
export function killProcessGroup(pgid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-pgid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

// ---------------------------------------------------------------- the llama-server stand-in

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StandinProcess {
  child: ChildProcess;
  pid: number;
  /** Every output line so far, stdout and stderr, in arrival order. */
  lines: string[];
  stdout(): string;
  stderr(): string;
  output(): string;
  /** Resolves when the process has exited and its output is read. */
  exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | null;
  /** Resolves with the first line (already seen or coming) matching `re`. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM to the process group, SIGKILL after `graceMs`; resolves with the exit. */
  stop(graceMs?: number): Promise<ExitInfo>;
  /** Signal to the process group (the stand-in runs in its own group). */
  kill(signal?: NodeJS.Signals): void;
}

export interface RunningStandin extends StandinProcess {
  port: number;
  host: string;
  /** `http://host:port` */
  url: string;
  alias: string;
  modelPath: string;
}

export interface StartStandinOptions {
  /** Default: a free port. */
  port?: number;
  host?: string;
  /** `--alias`; default `standin`. */
  alias?: string;
  /** `--model`; default a small file created in a temp folder (removed by `stop()`). */
  modelPath?: string;
  /** More flags, appended. */
  args?: string[];
  /** Added to the current environment (`undefined` removes a variable), e.g. `{STANDIN_LOAD_MS: '50'}`. */
  env?: Record<string, string | undefined>;
  /** How long to wait for `/health` 200; default 10 s. */
  timeoutMs?: number;
}

const running = new Set<StandinProcess>();

/** Creates a file that passes for a model (the stand-in only checks that it exists). */
export function createModelFile(dir?: string, name = 'standin-model-Q4_K_M.gguf'): string {
  const folder = dir ?? mkdtempSync(join(tmpdir(), 'standin-model-'));
  const file = join(folder, name);
  writeFileSync(file, Buffer.from('GGUF\x03\x00\x00\x00', 'latin1'));
  return file;
}

/**
 * Spawns the stand-in with exactly `args`, detached in its own process group, without
 * waiting for anything. Use it for start-up failures (bad flags, missing model, ...).
 */
export function spawnStandin(args: string[], env: Record<string, string | undefined> = {}): StandinProcess {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  }
  const child = spawn(STANDIN_PATH, args, { env: childEnv, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const streams = { out: [] as string[], err: [] as string[] };
  const watchers: { re: RegExp; resolve: (l: string) => void }[] = [];
  const collect = (stream: NodeJS.ReadableStream | null, sink: string[]) => {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      partial += chunk;
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) push(line, sink);
    });
    stream?.on('end', () => {
      if (partial) push(partial, sink);
      partial = '';
    });
  };
  const push = (line: string, sink: string[]) => {
    lines.push(line);
    sink.push(line);
    for (const w of watchers.slice()) {
      if (w.re.test(line)) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  collect(child.stdout, streams.out);
  collect(child.stderr, streams.err);

  const handle: StandinProcess = {
    child,
    pid: child.pid ?? -1,
    lines,
    stdout: () => streams.out.join('\n'),
    stderr: () => streams.err.join('\n'),
    output: () => lines.join('\n'),
    exitInfo: null,
    exited: new Promise<ExitInfo>((resolveExit) => {
      child.on('error', (err) => {
        lines.push(`spawn error: ${err.message}`);
        handle.exitInfo = { code: -1, signal: null };
        resolveExit(handle.exitInfo);
      });
      child.on('close', (code, signal) => {
        handle.exitInfo = { code, signal };
        running.delete(handle);
        resolveExit(handle.exitInfo);
      });
    }),
    waitForLine(re, timeoutMs = 5000) {
      const seen = lines.find((l) => re.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolveLine, reject) => {
        const w = {
          re,
          resolve: (l: string) => {
            clearTimeout(t);
            resolveLine(l);
          },
        };
        const t = setTimeout(() => {
          watchers.splice(watchers.indexOf(w), 1);
          reject(new Error(`no line matching ${re} within ${timeoutMs} ms; output:\n${lines.join('\n')}`));
        }, timeoutMs);
        watchers.push(w);
      });
    },
    kill(signal = 'SIGKILL') {
      if (handle.pid > 0) killProcessGroup(handle.pid, signal);
    },
    async stop(graceMs = 2000) {
      if (handle.exitInfo) {
        handle.kill('SIGKILL'); // leftovers of its group, e.g. a grandchild
        return handle.exitInfo;
      }
      handle.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const info = await Promise.race([
        handle.exited,
        new Promise<null>((r) => {
          timer = setTimeout(() => r(null), graceMs);
        }),
      ]);
      clearTimeout(timer);
      handle.kill('SIGKILL');
      return info ?? handle.exited;
    },
  };
  running.add(handle);
  return handle;
}

/**
 * Starts the stand-in as `llama-server -m <model> --host <host> --port <port> --alias <alias> ...args`
 * and resolves once `GET /health` answers 200. Rejects (and kills it) if it exits or times out.
 */
export async function startLlamaStandin(opts: StartStandinOptions = {}): Promise<RunningStandin> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(host));
  const alias = opts.alias ?? 'standin';
  let tempDir: string | undefined;
  let modelPath = opts.modelPath;
  if (!modelPath) {
    tempDir = mkdtempSync(join(tmpdir(), 'standin-model-'));
    modelPath = createModelFile(tempDir);
  }
  const args = ['-m', modelPath, '--host', host, '--port', String(port), '--alias', alias, ...(opts.args ?? [])];
  const proc = spawnStandin(args, opts.env);
  if (tempDir) {
    const dir = tempDir;
    void proc.exited.then(() => rmSync(dir, { recursive: true, force: true }));
  }
  const url = `http://${host}:${port}`;
  try {
    await waitFor(
      async () => {
        if (proc.exitInfo) throw new Error(`stand-in exited with ${JSON.stringify(proc.exitInfo)}:\n${proc.output()}`);
        const res = await httpRequest(`${url}/health`, { timeoutMs: 1000 }).catch(() => null);
        return res?.status === 200;
      },
      opts.timeoutMs ?? 10000,
      20,
      `stand-in ${alias} on port ${port} ready`,
    );
  } catch (e) {
    await proc.stop(0);
    throw e;
  }
  return Object.assign(proc, { port, host, url, alias, modelPath });
}

/** Stops every stand-in these helpers started that is still running (for `afterAll`). */
export async function stopAllStandins(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop(500)));
}
