import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { type TestDirs, testEnv } from './create-test-app';
import { freePort, httpRequest, waitFor } from './fixtures';

const ROOT = resolve(__dirname, '..', '..');

/** One parsed JSON log line. */
export type LogLine = Record<string, any>;

export interface MagiProcessOptions {
  /** The temp folders testEnv points the process at; the caller removes them. */
  dirs: TestDirs;
  /** Env on top of testEnv(dirs); PORT is chosen here. */
  env?: Record<string, string>;
}

export interface StartMagiProcessOptions extends MagiProcessOptions {
  /** When the process counts as started; default: `/health/live` answers 200. */
  ready?: (url: string) => Promise<boolean>;
  /** How long `ready` may take to come true (ts-node compiles the app first). */
  readyTimeoutMs?: number;
}

export interface MagiProcess {
  /** http://127.0.0.1:PORT of the process. */
  url: string;
  /** Its stdout and stderr so far, interleaved as they arrived. */
  output(): string;
  /** The JSON log lines of `output()`, parsed. */
  lines(): LogLine[];
  /** Its exit code (null when a signal ended it). */
  exited: Promise<number | null>;
  /** SIGTERM (Nest's shutdown hooks run), then its exit. */
  stop(): Promise<number | null>;
}

/** The real MAGI process (`src/main.ts` under ts-node) on `dirs`, without waiting for it. */
export async function spawnMagiProcess({ dirs, env = {} }: MagiProcessOptions): Promise<MagiProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...testEnv(dirs, { ...env, PORT: String(port) }), TS_NODE_TRANSPILE_ONLY: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    lines: () =>
      output
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as LogLine),
    exited,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/**
 * The real MAGI process, once `ready` holds. If it exits first or `ready` times out, it is
 * stopped and the error carries its output.
 */
export async function startMagiProcess({
  ready = async (url) =>
    (await httpRequest(`${url}/health/live`, { timeoutMs: 1000 }).catch(() => null))?.status === 200,
  readyTimeoutMs = 60_000,
  ...opts
}: StartMagiProcessOptions): Promise<MagiProcess> {
  const magi = await spawnMagiProcess(opts);
  let exitCode: number | null | undefined;
  void magi.exited.then((code) => (exitCode = code));
  try {
    await waitFor(async () => exitCode !== undefined || (await ready(magi.url)), readyTimeoutMs, 100, 'MAGI ready');
  } catch (e) {
    await magi.stop();
    throw new Error(`${(e as Error).message}; its output:\n${magi.output()}`, { cause: e });
  }
  if (exitCode !== undefined) throw new Error(`MAGI exited early (code ${exitCode}):\n${magi.output()}`);
  return magi;
}
