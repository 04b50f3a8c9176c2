/** One llama-server process under supervision: launch, readiness, restarts with back-off, stop, and its log. */
import { Logger } from '@nestjs/common';
import type { EventEmitter2 } from '@nestjs/event-emitter';
import type { Clock } from '../common/io/clock';
import type { FileStore } from '../common/io/file-store';
import type { HttpClient } from '../common/io/http-client';
import type { LaunchedProcess, ProcessExit, ProcessLauncher } from '../common/io/process-launcher';
import type { FleetConfig } from '../config/magi-config';
import type { ProfileServerSettings } from '../common/vocabulary/server-settings';
import { FleetEvents, ServerPortAssignedEvent } from './fleet.events';
import type { ServerPlan, ServerStateChange, ServerView } from './fleet.types';

/** What a supervisor knows of its server; the fleet adds the scheduling fields. */
export type SupervisorView = Omit<
  ServerView,
  'startMode' | 'memoryEstimateBytes' | 'memoryUsedBytes' | 'lastUsedAt' | 'inFlight'
>;
import type { HelpFlagsCache } from './help-flags-cache';
import { buildLlamaServerArgs } from './llama-server-args';
import { LogRing } from './log-ring';
import type { PortAllocator } from './port-allocator';
import { connectHost, httpOrigin } from '../common/net/host';
import type { ServerState } from '../common/vocabulary/server-states';
import { AT_REST, IllegalTransitionError, canTransition } from './server-state';

/** Where a server rests without a process: `unloaded` for an on-demand one, `stopped` otherwise. */
export type RestState = 'stopped' | 'unloaded';

/** What a supervisor needs from the fleet: ports, config and the shared caches. */
export interface SupervisorDeps {
  launcher: ProcessLauncher;
  http: HttpClient;
  clock: Clock;
  files: FileStore;
  ports: PortAllocator;
  help: HelpFlagsCache;
  config: FleetConfig;
  /** The active profile's `server` block at the time of each launch. */
  settings: () => ProfileServerSettings | null;
  onStateChange: (change: ServerStateChange) => void;
  /** Where the supervisor announces the port it took (FleetEvents.ServerPortAssigned; the registry remembers it). */
  events: EventEmitter2;
}

/** llama-server's own words for a port it could not bind (test/fixtures/contracts/llama-server). */
const BIND_FAILURE = /couldn't bind HTTP server socket/;
/**
 * The log line that precedes `/health` turning 200: poll at once instead of waiting. Builds
 * word it differently: `main: server is listening on http://…` (older), `srv  llama_server:
 * listening on http://…` after `model loaded` (b7xxx on), `all slots are idle`.
 */
const LISTENING = /listening on http|all slots are idle/;
/** Start-up errors that a restart cannot fix: fail at once instead of crash-looping. */
const FATAL_OUTPUT: Array<[RegExp, string]> = [
  [/error: invalid argument: (\S+)/, 'llama-server rejected the argument $1'],
  [/error while handling argument "([^"]+)"/, 'llama-server rejected the value of $1'],
  [/exiting due to model loading error/, 'llama-server could not load the model file'],
];
/** After that line, poll every FAST_POLL_MS for FAST_POLL_WINDOW_MS (the line may precede the 200 slightly). */
const FAST_POLL_MS = 10;
const FAST_POLL_WINDOW_MS = 2000;
const TAIL_LINES = 8;
const MAGI_PREFIX = '[magi] ';
/** Upper bound on the wait for a process that got SIGKILL (a process in D state). */
const KILL_WAIT_MS = 5000;

/** What a launch watches in the output until the server is ready. */
interface StartupWatch {
  sawBind: boolean;
  fatal: string | null;
  /** The last lines, for error messages. */
  output: string[];
}

/** How one launch attempt ended. */
type AttemptEnd =
  | { kind: 'aborted' }
  | { kind: 'fatal'; reason: string }
  | { kind: 'bind'; port: number }
  | { kind: 'exit'; exit: ProcessExit; readyForMs: number | null };

function describeExit(exit: ProcessExit): string {
  if (exit.signal) return `killed by ${exit.signal}`;
  return `exited with code ${exit.code}`;
}

/**
 * Supervises one model's llama-server: launch on a free port, readiness polling,
 * restarts with exponential back-off, give-up after repeated failures, stop with
 * SIGTERM → grace → SIGKILL to the process group, and a bounded log of its output that
 * survives restarts. States and their transitions are declared in server-state.ts.
 */
export class ServerSupervisor {
  private readonly logger = new Logger(ServerSupervisor.name);
  private readonly logs: LogRing;
  private stateValue: ServerState;
  private restState: RestState;
  private reasonValue: string | null = null;
  private portValue: number | null = null;
  private proc: LaunchedProcess | null = null;
  private procStartedAt: number | null = null;
  /** Pid of the latest process, kept after it exited (for the logs). */
  private lastPid: number | null = null;
  private readyAt: number | null = null;
  private restartsValue = 0;
  private lastErrorValue: string | null = null;
  private warnings: string[] = [];
  private failureTimes: number[] = [];
  private backoffStep = 0;
  private avoidPorts = new Set<number>();
  private abort: AbortController | null = null;
  private loop: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  /** Until when readiness is polled fast: the "listening" line came, 200 is due any moment. */
  private fastPollUntil = 0;

  constructor(
    private plan: ServerPlan,
    private readonly deps: SupervisorDeps,
  ) {
    this.logs = new LogRing(deps.config.logLines);
    this.portValue = plan.preferredPort;
    this.restState = plan.restState;
    this.stateValue = plan.restState;
  }

  get modelId(): string {
    return this.plan.modelId;
  }

  get state(): ServerState {
    return this.stateValue;
  }

  get port(): number | null {
    return this.portValue;
  }

  get pid(): number | null {
    return this.proc?.exitInfo === null ? this.proc.pid : null;
  }

  /** Why the server is in its state, in a sentence (readiness details). */
  get reason(): string {
    return this.reasonValue ?? this.stateValue;
  }

  get host(): string {
    return connectHost(this.deps.config.host);
  }

  /**
   * Display fields and file paths may change with a rescan, the start mode with the profile;
   * the next launch uses them. A server at rest moves to its new rest state at once.
   */
  updatePlan(plan: ServerPlan): void {
    this.plan = { ...plan, preferredPort: this.portValue ?? plan.preferredPort };
    this.restState = plan.restState;
    if ((this.stateValue === 'stopped' || this.stateValue === 'unloaded') && this.stateValue !== plan.restState)
      this.transition(plan.restState, null);
  }

  /** The plan's files: the model (every shard) and its projector, for the memory measure. */
  get files(): string[] {
    return [...this.plan.modelPaths, ...(this.plan.mmprojPath ? [this.plan.mmprojPath] : [])];
  }

  /**
   * A load waiting for room (API.md §9): `queued` with the reason as its lastError. From a
   * rest state; a queued server only updates its reason.
   */
  queue(reason: string): void {
    this.lastErrorValue = reason;
    if (this.stateValue === 'queued') {
      this.reasonValue = reason;
      return;
    }
    if (canTransition(this.stateValue, 'queued')) this.transition('queued', reason);
  }

  /** Back to rest without a process (a queued load cancelled or refused), with why. */
  rest(reason: string | null, to: RestState = this.restState): void {
    if (reason !== null) this.lastErrorValue = reason;
    if (this.stateValue !== to && AT_REST.has(this.stateValue) && canTransition(this.stateValue, to))
      this.transition(to, reason);
  }

  /** `failed` without a launch: the scheduler refused it a place (it does not fit the budget). */
  refuse(reason: string): void {
    if (!AT_REST.has(this.stateValue)) return;
    this.lastErrorValue = reason;
    this.note(`not started: ${reason}`);
    if (this.stateValue !== 'failed') this.transition('failed', reason);
    else this.reasonValue = reason;
  }

  /** The last `n` lines of output, oldest first. */
  logTail(n: number): string[] {
    this.proc?.readOutput();
    return this.logs.tail(n);
  }

  view(now = this.deps.clock.now()): SupervisorView {
    const running = this.pid !== null;
    return {
      modelId: this.plan.modelId,
      displayName: this.plan.displayName,
      port: this.portValue,
      pid: this.pid,
      state: this.stateValue,
      isReady: this.stateValue === 'ready',
      isRunning: running,
      uptimeSeconds:
        running && this.procStartedAt !== null ? Math.max(0, Math.round((now - this.procStartedAt) / 100) / 10) : 0,
      restarts: this.restartsValue,
      lastError: this.lastErrorValue ?? (this.warnings.length ? this.warnings.join('; ') : null),
      tier: this.plan.tier,
      isThinking: this.plan.isThinking,
    };
  }

  /**
   * Starts supervising (from `stopped` or `failed`, with fresh failure counts). Resolves
   * once the first process is launched, or the start failed; readiness is not awaited.
   */
  async start(): Promise<void> {
    if (this.stopping) await this.stopping;
    if (!AT_REST.has(this.stateValue)) return;
    this.restartsValue = 0;
    this.failureTimes = [];
    this.backoffStep = 0;
    this.avoidPorts.clear();
    this.lastErrorValue = null;
    this.warnings = [];
    this.transition('starting', 'launching');
    const abort = new AbortController();
    this.abort = abort;
    let launched!: () => void;
    const firstLaunch = new Promise<void>((r) => (launched = r));
    this.loop = this.supervise(abort.signal, launched)
      .catch((e: Error) => {
        this.logger.error(
          { modelId: this.modelId, port: this.portValue, pid: this.lastPid, err: e },
          'Server supervision failed unexpectedly',
        );
        if (!abort.signal.aborted && canTransition(this.stateValue, 'failed'))
          this.fail(`internal error: ${e.message}`);
      })
      .finally(launched);
    return firstLaunch;
  }

  /**
   * Stops the server: no more restarts, SIGTERM to its process group, SIGKILL after the
   * grace period, and resolves once every process of the group is gone.
   */
  stop(to: RestState = this.restState): Promise<void> {
    if (this.stopping) return this.stopping;
    if (AT_REST.has(this.stateValue) && this.stateValue !== 'failed') {
      this.rest(null, to);
      return Promise.resolve();
    }
    this.stopping = this.doStop(to).finally(() => (this.stopping = null));
    return this.stopping;
  }

  /** True from the SIGTERM until its process group is gone. */
  get isStopping(): boolean {
    return this.stopping !== null;
  }

  private async doStop(to: RestState): Promise<void> {
    this.abort?.abort();
    this.wake?.();
    const proc = this.proc;
    this.transition('stopping', proc && !proc.exitInfo ? 'SIGTERM sent to its process group' : 'no process running');
    if (proc) await this.terminate(proc, 'stop requested');
    await this.loop;
    this.deps.ports.release(this.modelId, this.portValue);
    this.transition(to, to === 'unloaded' ? 'unloaded' : 'stopped on request');
    this.logger.log(
      { modelId: this.modelId, port: this.portValue, pid: proc?.pid ?? null, exit: proc?.exitInfo ?? null },
      'Server stopped',
    );
  }

  // ---------------------------------------------------------------- the supervision loop

  private async supervise(signal: AbortSignal, launched: () => void): Promise<void> {
    let notify = launched;
    while (!signal.aborted) {
      if (this.stateValue === 'restarting') this.transition('starting', 'launching again');
      const outcome = await this.attempt(signal, notify);
      notify = () => undefined;
      if (signal.aborted || outcome.kind === 'aborted') return;
      if (outcome.kind === 'fatal') {
        this.fail(outcome.reason);
        return;
      }
      if (outcome.kind === 'bind') {
        // Someone else took the port between our check and its bind: move on, no back-off.
        this.avoidPorts.add(outcome.port);
        this.deps.ports.release(this.modelId, outcome.port);
        this.portValue = null;
        this.restartsValue++;
        this.note(`port ${outcome.port} could not be bound; moving to another port`);
        this.logger.warn(
          { modelId: this.modelId, port: outcome.port, pid: this.lastPid },
          'Server could not bind its port; moving to the next free port',
        );
        this.transition('restarting', `port ${outcome.port} was taken; moving to another port`);
        continue;
      }
      // An unexpected exit: count it, then restart after the back-off or give up.
      const now = this.deps.clock.now();
      const windowMs = this.deps.config.failureWindowSeconds * 1000;
      this.failureTimes = this.failureTimes.filter((t) => now - t < windowMs);
      this.failureTimes.push(now);
      const stableMs = this.deps.config.restartBackoffMaxMs;
      if (outcome.readyForMs !== null && outcome.readyForMs >= stableMs) this.backoffStep = 0;
      const tail = this.outputTail();
      const what = describeExit(outcome.exit);
      this.lastErrorValue = `${what}${tail ? `; last output: ${tail}` : ''}`;
      const failures = this.failureTimes.length;
      if (failures >= this.deps.config.maxFailures) {
        this.fail(
          `gave up after ${failures} failures within ${this.deps.config.failureWindowSeconds} s; last: ${what}${tail ? `; last output: ${tail}` : ''}`,
        );
        return;
      }
      const delay = Math.min(
        this.deps.config.restartBackoffInitialMs * 2 ** this.backoffStep,
        this.deps.config.restartBackoffMaxMs,
      );
      this.backoffStep++;
      this.restartsValue++;
      this.logger.warn(
        {
          modelId: this.modelId,
          port: this.portValue,
          pid: this.lastPid,
          exitCode: outcome.exit.code,
          signal: outcome.exit.signal,
          failures,
          delayMs: delay,
        },
        'Server exited unexpectedly; restarting after back-off',
      );
      this.note(`${what}; restarting in ${delay} ms (failure ${failures} of ${this.deps.config.maxFailures})`);
      this.transition(
        'restarting',
        `${what}; restarting in ${delay} ms (failure ${failures} of ${this.deps.config.maxFailures})`,
      );
      await this.deps.clock.sleep(delay, signal);
    }
  }

  /** One launch: port, prechecks, spawn, readiness, then the wait for its exit. */
  private async attempt(signal: AbortSignal, launched: () => void): Promise<AttemptEnd> {
    const prepared = await this.prepareLaunch(signal);
    if ('kind' in prepared) return prepared;
    const { port, binary, args } = prepared;
    // No await between this check and the spawn: a stop either sees the process or
    // prevents it.
    if (signal.aborted) return { kind: 'aborted' };
    const { proc, watch } = this.spawn(binary, args, port);
    launched();

    const readiness = await this.awaitReady(proc, port, signal);
    if (readiness === 'ready') {
      this.readyAt = this.deps.clock.now();
      this.transition('ready', `answering GET /health on port ${port}`);
      this.logger.log(
        { modelId: this.modelId, port, pid: proc.pid, startupMs: this.readyAt - (this.procStartedAt ?? this.readyAt) },
        'Server ready',
      );
    } else if (readiness === 'timeout') {
      const tail = this.outputTail(watch.output);
      await this.terminate(proc, 'startup timeout');
      this.proc = null;
      if (signal.aborted) return { kind: 'aborted' };
      return {
        kind: 'fatal',
        reason: `not ready within MAX_STARTUP_TIME (${this.deps.config.maxStartupTime} s): ${this.reasonValue ?? 'no answer'}; killed${tail ? `; last output: ${tail}` : ''}`,
      };
    }
    const exit = await proc.exited;
    // Whatever the leader left behind in its group (a forked helper) goes with it.
    proc.signalGroup('SIGKILL');
    const readyForMs = this.readyAt !== null ? this.deps.clock.now() - this.readyAt : null;
    this.proc = null;
    this.note(`process ${proc.pid ?? '-'} ${describeExit(exit)}`);
    if (signal.aborted) return { kind: 'aborted' };
    this.logger.log(
      { modelId: this.modelId, port, pid: proc.pid, exitCode: exit.code, signal: exit.signal },
      'Server process exited',
    );
    return this.exitEnd(exit, binary, port, watch, readyForMs);
  }

  /** Port, model and projector files, the binary's flags, the command line — or why not. */
  private async prepareLaunch(
    signal: AbortSignal,
  ): Promise<{ port: number; binary: string; args: string[] } | AttemptEnd> {
    const { config } = this.deps;
    const port = await this.deps.ports.allocate(
      this.modelId,
      this.portValue ?? this.plan.preferredPort,
      this.avoidPorts,
    );
    if (signal.aborted) return { kind: 'aborted' };
    if (port === null) {
      return { kind: 'fatal', reason: `no free port left in PORT_RANGE ${config.portRange[0]}-${config.portRange[1]}` };
    }
    this.portValue = port;
    this.deps.events.emit(FleetEvents.ServerPortAssigned, new ServerPortAssignedEvent(this.modelId, port));

    const model = await this.deps.files.stat(this.plan.modelPaths[0]).catch(() => null);
    if (!model?.isFile) return { kind: 'fatal', reason: `model file not found: ${this.plan.modelPaths[0]}` };
    let mmproj = this.plan.mmprojPath;
    if (mmproj && !(await this.deps.files.stat(mmproj).catch(() => null))?.isFile) {
      this.warn(`projector file not found, starting without it: ${mmproj}`);
      mmproj = null;
    }
    const binary = config.llamaServerPath;
    // The probe is shared by every server of this binary: a stop of this one only stops
    // waiting for it.
    const probe = await Promise.race([
      this.deps.help.probe(binary),
      new Promise<null>((r) => signal.addEventListener('abort', () => r(null), { once: true })),
    ]);
    if (signal.aborted || probe === null) return { kind: 'aborted' };
    if (!probe.ok) return { kind: 'fatal', reason: probe.error };
    if (probe.warning) this.warn(probe.warning);

    const built = buildLlamaServerArgs({
      modelPath: this.plan.modelPaths[0],
      host: config.host,
      port,
      alias: this.modelId,
      mmprojPath: mmproj,
      settings: this.deps.settings(),
      flags: probe.flags,
    });
    this.warnings = this.warnings.filter((w) => !w.includes(' ignored: '));
    for (const w of built.warnings) this.warn(w);
    return { port, binary, args: built.args };
  }

  /** Starts the process and watches its output for what matters before it is ready. */
  private spawn(binary: string, args: string[], port: number): { proc: LaunchedProcess; watch: StartupWatch } {
    const proc = this.deps.launcher.launch({ command: binary, args, dieWithParent: true });
    this.proc = proc;
    this.lastPid = proc.pid;
    this.procStartedAt = this.deps.clock.now();
    this.readyAt = null;
    const watch: StartupWatch = { sawBind: false, fatal: null, output: [] };
    proc.onLine((line) => {
      this.logs.push(line);
      // The checks below matter only until the server is ready (a bind failure or a fatal
      // error is acted on only then): once it serves, each line costs one push.
      if (this.readyAt !== null) return;
      watch.output.push(line);
      if (watch.output.length > TAIL_LINES * 4) watch.output.splice(0, watch.output.length - TAIL_LINES * 2);
      if (BIND_FAILURE.test(line)) watch.sawBind = true;
      for (const [re, text] of FATAL_OUTPUT) {
        const m = re.exec(line);
        if (m && !watch.fatal) watch.fatal = text.replace('$1', m[1] ?? '');
      }
      if (LISTENING.test(line)) {
        this.fastPollUntil = this.deps.clock.now() + FAST_POLL_WINDOW_MS;
        this.wake?.();
      }
    });
    this.note(`launched pid ${proc.pid ?? '-'}: ${binary} ${args.join(' ')}`);
    this.logger.log({ modelId: this.modelId, port, pid: proc.pid, binary, args }, 'Server process launched');
    return { proc, watch };
  }

  /** What an exit means: a binary that could not run, a port taken, a fatal error, or a plain exit. */
  private exitEnd(
    exit: ProcessExit,
    binary: string,
    port: number,
    watch: StartupWatch,
    readyForMs: number | null,
  ): AttemptEnd {
    if (exit.spawnError) {
      if (exit.spawnError.code === 'ENOENT')
        return { kind: 'fatal', reason: `llama-server binary not found at ${binary}` };
      return {
        kind: 'fatal',
        reason: `llama-server binary at ${binary} cannot be started: ${exit.spawnError.message}`,
      };
    }
    if (watch.sawBind && this.readyAt === null) return { kind: 'bind', port };
    if (watch.fatal && this.readyAt === null) {
      const tail = this.outputTail(watch.output);
      return {
        kind: 'fatal',
        reason: `${watch.fatal} (${describeExit(exit)})${tail ? `; last output: ${tail}` : ''}`,
      };
    }
    return { kind: 'exit', exit, readyForMs };
  }

  /**
   * Polls `GET /health` every READINESS_CHECK_INTERVAL until 200 (503 means loading),
   * waking early on the "listening" log line, the process's exit or a stop.
   */
  private async awaitReady(
    proc: LaunchedProcess,
    port: number,
    signal: AbortSignal,
  ): Promise<'ready' | 'exited' | 'timeout' | 'aborted'> {
    const { config, clock } = this.deps;
    const intervalMs = config.readinessCheckInterval * 1000;
    const deadline = (this.procStartedAt ?? clock.now()) + config.maxStartupTime * 1000;
    const url = `${httpOrigin(this.host, port)}/health`;
    this.reasonValue = 'waiting for GET /health to answer 200';
    for (;;) {
      if (signal.aborted) return 'aborted';
      if (proc.exitInfo) return 'exited';
      const remaining = deadline - clock.now();
      try {
        // At least a second: a loaded machine may answer slowly without anything being wrong.
        const timeoutMs = Math.max(100, Math.min(remaining, Math.min(5000, Math.max(1000, intervalMs))));
        const res = await this.deps.http.request({ url, timeoutMs, signal });
        if (res.status === 200) return 'ready';
        const message = (res.json as { error?: { message?: string } } | undefined)?.error?.message;
        this.reasonValue = `GET /health answered ${res.status}${message ? ` (${message})` : ''}`;
      } catch (e) {
        const code = (e as { code?: string }).code;
        this.reasonValue = `GET /health got no answer${code ? ` (${code})` : ''}`;
      }
      if (signal.aborted) return 'aborted';
      if (proc.exitInfo) return 'exited';
      if (clock.now() >= deadline) return 'timeout';
      const pollMs = clock.now() < this.fastPollUntil ? Math.min(intervalMs, FAST_POLL_MS) : intervalMs;
      const waitMs = Math.min(pollMs, Math.max(0, deadline - clock.now()));
      const wake = new AbortController();
      this.wake = () => wake.abort();
      const onExit = (): void => wake.abort();
      void proc.exited.then(onExit);
      const onStop = (): void => wake.abort();
      signal.addEventListener('abort', onStop, { once: true });
      await clock.sleep(waitMs, wake.signal);
      signal.removeEventListener('abort', onStop);
      this.wake = null;
    }
  }

  /** SIGTERM to the group, SIGKILL after the grace period (and to leftovers), await the exit. */
  private async terminate(proc: LaunchedProcess, why: string): Promise<void> {
    const { clock, config } = this.deps;
    if (!proc.exitInfo) {
      proc.signalGroup('SIGTERM');
      this.logger.log({ modelId: this.modelId, port: this.portValue, pid: proc.pid, why }, 'Server sent SIGTERM');
      const grace = new AbortController();
      void proc.exited.then(() => grace.abort());
      await clock.sleep(config.stopGraceSeconds * 1000, grace.signal);
      if (!proc.exitInfo) {
        this.logger.warn(
          { modelId: this.modelId, port: this.portValue, pid: proc.pid, graceSeconds: config.stopGraceSeconds },
          'Server ignored SIGTERM; sending SIGKILL',
        );
        this.note(`process ${proc.pid} still running ${config.stopGraceSeconds} s after SIGTERM; sending SIGKILL`);
      }
    }
    proc.signalGroup('SIGKILL');
    if (!proc.exitInfo) {
      const waited = new AbortController();
      void proc.exited.then(() => waited.abort());
      await clock.sleep(KILL_WAIT_MS, waited.signal);
    }
  }

  // ---------------------------------------------------------------- state and notes

  private transition(to: ServerState, reason: string | null): void {
    const from = this.stateValue;
    if (!canTransition(from, to)) throw new IllegalTransitionError(this.modelId, from, to);
    this.stateValue = to;
    this.reasonValue = reason;
    this.deps.onStateChange({
      modelId: this.modelId,
      from,
      to,
      port: this.portValue,
      pid: this.pid,
      reason,
      at: this.deps.clock.now(),
    });
  }

  private fail(reason: string): void {
    this.lastErrorValue = reason;
    this.deps.ports.release(this.modelId, this.portValue);
    this.note(`failed: ${reason}`);
    this.logger.error({ modelId: this.modelId, port: this.portValue, pid: this.lastPid, reason }, 'Server failed');
    this.transition('failed', reason);
  }

  /** A setting that could not be applied: shown as lastError while nothing worse happened. */
  private warn(text: string): void {
    if (!this.warnings.includes(text)) this.warnings.push(text);
    this.note(`warning: ${text}`);
    this.logger.warn(
      { modelId: this.modelId, port: this.portValue, pid: this.pid, warning: text },
      'Server setting not applied',
    );
  }

  /** MAGI's own line in the server's log, so the log tells the whole story. */
  private note(text: string): void {
    this.logs.push(`${MAGI_PREFIX}${text}`);
  }

  private outputTail(lines?: string[]): string {
    const source = lines ?? this.logs.tail(TAIL_LINES * 4).filter((l) => !l.startsWith(MAGI_PREFIX));
    return source
      .filter((l) => l.trim() !== '')
      .slice(-TAIL_LINES)
      .join(' | ');
  }
}
