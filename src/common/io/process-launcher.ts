import { Injectable } from '@nestjs/common';
import { ChildProcess, StdioOptions, spawn, spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { OutputPipe } from './output-pipe';

/** What to run. */
export interface LaunchSpec {
  command: string;
  args: string[];
  /**
   * How output reaches MAGI. `batched` (the default, for long-running servers): stdout
   * and stderr share one pipe read every 10–100 ms (see OutputPipe), lines reported as
   * `output`. `separate`: each line as it comes, stdout and stderr apart (short commands).
   */
  output?: 'batched' | 'separate';
  /**
   * Killed (SIGKILL) by the kernel if MAGI dies without stopping it (a SIGKILL, an OOM
   * kill), instead of living on as an orphan that holds its port and its memory. Linux,
   * through util-linux's `setpriv --pdeathsig`; where that is missing, a plain spawn.
   */
  dieWithParent?: boolean;
}

/** How a process ended. `spawnError` is set when it never ran (e.g. `ENOENT`, `EACCES`). */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError?: { code: string; message: string };
}

/** `output`: stdout and stderr together, in the order written (the `batched` output). */
export type OutputStream = 'stdout' | 'stderr' | 'output';
export type LineListener = (line: string, stream: OutputStream) => void;

/** A running child process, leader of its own process group. */
export interface LaunchedProcess {
  /** Null when the spawn itself failed. */
  readonly pid: number | null;
  /** Resolves once the process has exited and its output has been read (never rejects). */
  readonly exited: Promise<ProcessExit>;
  /** The exit once it happened, else null. */
  readonly exitInfo: ProcessExit | null;
  /** Every complete line of stdout and stderr, in arrival order. */
  onLine(listener: LineListener): void;
  /** Hands on at once the output not yet read (`batched` output is otherwise read every 10–100 ms). */
  readOutput(): void;
  /**
   * Sends `signal` to the whole process group (the process and anything it forked).
   * False when nothing was left to signal.
   */
  signalGroup(signal: NodeJS.Signals): boolean;
}

/** The result of a short command run to completion (e.g. `llama-server --help`). */
export interface RunResult extends ProcessExit {
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * The process port: starts child processes in their own process group so that a stop
 * reaches every process they fork, and reports lines, exit and spawn errors without
 * ever throwing.
 */
export abstract class ProcessLauncher {
  abstract launch(spec: LaunchSpec): LaunchedProcess;
  /** Runs a command to completion, killing its group after `timeoutMs` or on `signal`. */
  abstract run(
    spec: LaunchSpec,
    opts: { timeoutMs: number; signal?: AbortSignal; maxBytes?: number },
  ): Promise<RunResult>;
}

/** How long `exited` waits for the pipes to drain once the process is gone. */
const DRAIN_MS = 200;

function signalGroupOf(pid: number | null, signal: NodeJS.Signals): boolean {
  if (!pid) return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    if (code === 'EPERM') return false;
    throw e;
  }
}

type SpawnError = NonNullable<ProcessExit['spawnError']>;

/**
 * Where `command` would be executed from, found as execvp(3) finds it, or the error a
 * spawn of it would give (ENOENT, EACCES) — so that a wrapped spawn reports a missing
 * binary as a plain one does, rather than as the wrapper's exit code 127.
 */
export function findExecutable(
  command: string,
  path = process.env.PATH ?? '',
): { file: string } | { error: SpawnError } {
  const candidates = command.includes('/')
    ? [resolve(command)]
    : path.split(delimiter).map((dir) => join(resolve(dir || '.'), command));
  let denied: string | null = null;
  for (const file of candidates) {
    try {
      if (statSync(file).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EACCES' });
      accessSync(file, constants.X_OK);
      return { file };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EACCES' || (e as NodeJS.ErrnoException).code === 'EPERM')
        denied ??= file;
    }
  }
  const code = denied !== null ? 'EACCES' : 'ENOENT';
  return { error: { code, message: `spawn ${command} ${code}` } };
}

/** `setpriv --pdeathsig KILL --` when this machine has it (util-linux; probed once), else null. */
let deathSignalPrefix: string[] | null | undefined;
function parentDeathPrefix(): string[] | null {
  if (deathSignalPrefix === undefined) {
    const prefix = ['setpriv', '--pdeathsig', 'KILL', '--'];
    const probe =
      process.platform === 'linux'
        ? spawnSync(prefix[0], [...prefix.slice(1), 'true'], { stdio: 'ignore', timeout: 5000 })
        : null;
    deathSignalPrefix = probe !== null && probe.status === 0 ? prefix : null;
  }
  return deathSignalPrefix;
}

function spawnDetached(
  spec: LaunchSpec,
  stdio: StdioOptions,
): { child: ChildProcess | null; error: ProcessExit['spawnError'] | null } {
  let command = spec.command;
  let args = spec.args;
  const prefix = spec.dieWithParent ? parentDeathPrefix() : null;
  if (prefix) {
    // setpriv sets the signal and execs the binary: same pid, same process group.
    const found = findExecutable(command);
    if ('error' in found) return { child: null, error: found.error };
    [command, ...args] = [...prefix, found.file, ...args];
  }
  try {
    // The child gets MAGI's own environment; detached makes it the leader of a new
    // process group, so `kill(-pid)` reaches its children too.
    const child = spawn(command, args, {
      detached: true,
      stdio,
      env: { ...process.env },
    });
    return { child, error: null };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { child: null, error: { code: err.code ?? 'ESPAWN', message: err.message } };
  }
}

@Injectable()
export class NodeProcessLauncher extends ProcessLauncher {
  /** Where the output FIFOs are made (and unlinked at once). */
  outputDir = tmpdir();

  launch(spec: LaunchSpec): LaunchedProcess {
    const listeners: LineListener[] = [];
    let exitInfo: ProcessExit | null = null;
    const emit = (line: string, stream: OutputStream): void => {
      for (const l of listeners) {
        try {
          l(line, stream);
        } catch {
          /* a listener's bug must not break the output pipe */
        }
      }
    };
    const file = spec.output === 'separate' ? null : OutputPipe.create(this.outputDir, (line) => emit(line, 'output'));
    const { child, error } = spawnDetached(
      spec,
      file ? ['ignore', file.childFd, file.childFd] : ['ignore', 'pipe', 'pipe'],
    );
    // The child has its own copy of the descriptor now.
    if (file) closeSync(file.childFd);
    if (file && !child) file.reader.close();
    const exited = new Promise<ProcessExit>((resolveExit) => {
      if (!child) {
        exitInfo = { code: null, signal: null, spawnError: error! };
        return resolveExit(exitInfo);
      }
      let pendingStreams = file ? 0 : 2;
      let exit: ProcessExit | null = null;
      let drainTimer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        if (exitInfo || !exit) return;
        clearTimeout(drainTimer);
        // Every line the child wrote is handed on before its exit is.
        file?.reader.close();
        exitInfo = exit;
        resolveExit(exit);
      };
      file?.reader.start();
      const readLines = (stream: NodeJS.ReadableStream | null, name: OutputStream): void => {
        if (!stream) {
          pendingStreams--;
          return;
        }
        let partial = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => {
          partial += chunk;
          const parts = partial.split('\n');
          partial = parts.pop() ?? '';
          for (const line of parts) emit(line.replace(/\r$/, ''), name);
        });
        const end = (): void => {
          if (partial) emit(partial, name);
          partial = '';
          if (--pendingStreams === 0) finish();
        };
        stream.on('end', end);
        stream.on('error', () => undefined);
      };
      if (!file) {
        readLines(child.stdout, 'stdout');
        readLines(child.stderr, 'stderr');
      }
      child.on('error', (err: NodeJS.ErrnoException) => {
        // Spawn failures (ENOENT, EACCES) arrive here asynchronously; no exit follows.
        if (child.pid === undefined) {
          exit = { code: null, signal: null, spawnError: { code: err.code ?? 'ESPAWN', message: err.message } };
          file?.reader.close();
          exitInfo = exit;
          resolveExit(exit);
        }
      });
      child.on('exit', (code, signal) => {
        exit = { code, signal };
        // A grandchild that inherited the pipes can keep them open; do not wait for it.
        if (pendingStreams === 0) finish();
        else drainTimer = setTimeout(finish, DRAIN_MS);
      });
    });
    return {
      get pid() {
        return child?.pid ?? null;
      },
      exited,
      get exitInfo() {
        return exitInfo;
      },
      onLine: (listener) => void listeners.push(listener),
      readOutput: () => file?.reader.readNow(),
      signalGroup: (signal) => signalGroupOf(child?.pid ?? null, signal),
    };
  }

  async run(
    spec: LaunchSpec,
    opts: { timeoutMs: number; signal?: AbortSignal; maxBytes?: number },
  ): Promise<RunResult> {
    const maxBytes = opts.maxBytes ?? 1024 * 1024;
    const proc = this.launch({ ...spec, output: 'separate' });
    const out: Record<OutputStream, string[]> = { stdout: [], stderr: [], output: [] };
    let bytes = 0;
    proc.onLine((line, stream) => {
      if (bytes > maxBytes) return;
      bytes += line.length + 1;
      out[stream].push(line);
    });
    let timedOut = false;
    const kill = (): void => {
      proc.signalGroup('SIGKILL');
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, opts.timeoutMs);
    opts.signal?.addEventListener('abort', kill, { once: true });
    const exit = await proc.exited;
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', kill);
    // Anything the command left behind in its group goes with it.
    proc.signalGroup('SIGKILL');
    return { ...exit, stdout: out.stdout.join('\n'), stderr: out.stderr.join('\n'), timedOut };
  }
}
