/**
 * Starts a real llama-server on a model with some settings, reads the buffer sizes it
 * prints while loading (`-lv 4`), and stops it as soon as it listens: what the memory
 * estimate is checked against. Every figure llama.cpp prints is in MiB with two decimals,
 * so each is known to ±0.005 MiB.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

export interface MeasuredMemory {
  /** The server came up (printed "listening on"). */
  listening: boolean;
  /** Sum of every `<buffer> model buffer size` (CPU_Mapped, CPU_REPACK, …), bytes. */
  modelBytes: number;
  modelBuffers: Array<{ buffer: string; bytes: number }>;
  /** Sum of every `KV buffer size` (non-SWA and SWA caches), bytes. */
  kvBytes: number;
  /** Sum of every `RS buffer size` (recurrent states), bytes. */
  rsBytes: number;
  /** `output buffer size`, bytes. */
  outputBytes: number;
  /** Sum of every `compute buffer size`, bytes. */
  computeBytes: number;
  /** Cells of each KV cache (`llama_kv_cache: size = … (N cells, L layers …)`). */
  kvCells: Array<{ cells: number; layers: number }>;
  /** `llama_context: n_ctx` and `n_ctx_seq`. */
  nCtx: number | null;
  nCtxSeq: number | null;
  /** The context of one slot (`new slot, n_ctx = N`): capped at the training context. */
  slotCtx: number | null;
  /** Lines logged at error level. */
  errors: string[];
  /** The whole log, for a failing assertion to show. */
  log: string;
}

const MIB = 1024 * 1024;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

const sumOf = (log: string, re: RegExp): number => [...log.matchAll(re)].reduce((n, m) => n + Number(m[1]) * MIB, 0);

/** Parses a llama-server start-up log (`-lv 4`). */
export function parseMemoryLog(log: string): Omit<MeasuredMemory, 'listening' | 'log'> {
  const first = (re: RegExp): number | null => {
    const m = re.exec(log);
    return m ? Number(m[1]) : null;
  };
  return {
    modelBytes: sumOf(log, /model buffer size = +([\d.]+) MiB/g),
    modelBuffers: [...log.matchAll(/(\S+) model buffer size = +([\d.]+) MiB/g)].map((m) => ({
      buffer: m[1],
      bytes: Number(m[2]) * MIB,
    })),
    kvBytes: sumOf(log, /KV buffer size = +([\d.]+) MiB/g),
    rsBytes: sumOf(log, /RS buffer size = +([\d.]+) MiB/g),
    outputBytes: sumOf(log, /output buffer size = +([\d.]+) MiB/g),
    computeBytes: sumOf(log, /compute buffer size = +([\d.]+) MiB/g),
    kvCells: [...log.matchAll(/llama_kv_cache: size = +[\d.]+ MiB \( *(\d+) cells, +(\d+) layers/g)].map((m) => ({
      cells: Number(m[1]),
      layers: Number(m[2]),
    })),
    nCtx: first(/llama_context: n_ctx += (\d+)/),
    nCtxSeq: first(/llama_context: n_ctx_seq += (\d+)/),
    slotCtx: first(/new slot, n_ctx = (\d+)/),
    errors: log.split('\n').filter((l) => / E /.test(l)),
  };
}

/**
 * Runs `binary -m model <args> --port <free> --no-warmup -lv 4` until it listens or exits
 * (at most `timeoutMs`), then kills its process group and returns what it printed.
 */
export async function measureLlamaServer(
  binary: string,
  model: string,
  args: readonly string[],
  timeoutMs = 120_000,
): Promise<MeasuredMemory> {
  const port = await freePort();
  const child = spawn(
    binary,
    ['-m', model, '--port', String(port), '--host', '127.0.0.1', '--no-warmup', '-lv', '4', ...args],
    {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let log = '';
  const listening = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    const onData = (chunk: Buffer): void => {
      log += chunk.toString('utf8');
      if (log.includes('listening on')) {
        clearTimeout(timer);
        resolve(true);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(log.includes('listening on'));
    });
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // Already gone.
  }
  await exited;
  return { listening, ...parseMemoryLog(log), log };
}
