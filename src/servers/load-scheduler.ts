/** The fleet's side of scheduling: per-server usage, load tickets, and the pure scheduler's decisions carried out. */
import { Logger } from '@nestjs/common';
import { Observable, Subject } from 'rxjs';
import type { AppError } from '../common/errors/app-error';
import { formatBytes } from '../common/units/memory-size';
import type { ServerState, StartMode } from '../common/vocabulary/server-states';
import { AT_REST } from './server-state';
import { ModelTooLargeError } from './server.error';
import type { ServerSupervisor } from './server-supervisor';
import {
  Decision,
  MemoryView,
  SchedEvent,
  SchedServer,
  SchedState,
  UnloadReason,
  memoryView,
  schedule,
} from './scheduler';

/** What asked for a load (the `trigger` label of `magi_fleet_loads_total`). */
export type LoadTrigger = 'request' | 'api' | 'activation';

/** Why a server stopped (the `reason` label of `magi_fleet_unloads_total`). */
export type StopReason = UnloadReason | 'api' | 'profile';

/** Loads and unloads as they happen, for the metrics. */
export type LoadEvent =
  | { kind: 'load'; modelId: string; trigger: LoadTrigger }
  | { kind: 'loaded'; modelId: string; seconds: number }
  | { kind: 'unload'; modelId: string; reason: StopReason };

/** The limits of the active profile (or the configuration). */
export interface FleetPolicy {
  /** Null: no memory budget (`off`). */
  budgetBytes: number | null;
  maxRunning: number | null;
  idleTimeoutMs: number;
}

/** What the scheduler reads of the fleet. */
export interface SchedulingHost {
  /** The servers to schedule, in the profile's order: the wanted ones, then any others still holding a process. */
  scheduled(): readonly ServerSupervisor[];
  startModeOf(modelId: string): StartMode;
  /** The model's memory estimate at the active profile's settings; 0 when its header cannot tell. */
  estimateOf(modelId: string): number;
  policy(): FleetPolicy;
}

/** A request (or an API call) waiting for a model's load; released when it no longer waits. */
export interface LoadTicket {
  readonly modelId: string;
  /** Where the load is: waiting for room, starting, ready, or neither (failed, cancelled, refused). */
  phase(): 'queued' | 'loading' | 'ready' | 'idle';
  /** Set when the load was refused after the ticket was taken (the budget shrank below the model). */
  error(): AppError | null;
  /** The server's lastError: why it waits in the queue, or why its load failed. */
  lastError(): string | null;
  /**
   * The request no longer waits. Its load is cancelled when nobody else waits for it, unless
   * `keepLoading`: the client was told to come back (its load timeout passed while the load
   * is under way), so the load goes on as an API load would.
   */
  release(keepLoading?: boolean): void;
}

/** What the fleet keeps per server for scheduling. */
interface Usage {
  inFlight: number;
  /** Epoch ms of its last request or of becoming ready; null before any. */
  lastUsedAt: number | null;
  tickets: Set<Ticket>;
  /**
   * Its load is kept until ready (or failed) without a client waiting: asked through
   * `POST …/load`, or by a request told to come back (Retry-After) after its load timeout.
   */
  kept: boolean;
  queuedAt: number | null;
  trigger: LoadTrigger | null;
  /** Epoch ms its launch began, for the load duration. */
  loadStartedAt: number | null;
  /** Measured memory of its process; null when none runs. */
  usedBytes: number | null;
  /** An `always` server unloaded through the API stays down until the next activation or load. */
  heldDown: boolean;
}

class Ticket implements LoadTicket {
  refusal: AppError | null = null;
  released = false;

  constructor(
    readonly modelId: string,
    private readonly owner: LoadScheduler,
  ) {}

  phase(): 'queued' | 'loading' | 'ready' | 'idle' {
    return this.owner.phaseOf(this.modelId);
  }

  error(): AppError | null {
    return this.refusal;
  }

  lastError(): string | null {
    return this.owner.lastErrorOf(this.modelId);
  }

  release(keepLoading = false): void {
    if (this.released) return;
    this.released = true;
    this.owner.releaseTicket(this, keepLoading);
  }
}

/**
 * The fleet's side of scheduling (API.md §9): keeps what the pure `schedule` needs per server
 * (requests in flight, last use, waiters, place in the queue, measured memory), asks it on
 * every event and performs its decisions in the same synchronous turn — launch, SIGTERM,
 * `queued` with its reason, `failed` with the figures, refusals to waiting requests — with
 * one log line and one metric event per load and unload. The next event is scheduled, never
 * nested inside the decisions being applied.
 */
export class LoadScheduler {
  private readonly logger = new Logger('FleetScheduler');
  private readonly usage = new Map<string, Usage>();
  private readonly events = new Subject<LoadEvent>();
  private roomFreedPending = false;
  /** Set when the application shuts down: nothing starts any more. */
  private closed = false;
  /** Starts launched since the last takeLaunches(): an activation answers once they are launched. */
  private launches: Promise<void>[] = [];

  constructor(
    private readonly host: SchedulingHost,
    private readonly now: () => number,
  ) {}

  get events$(): Observable<LoadEvent> {
    return this.events.asObservable();
  }

  // ---------------------------------------------------------------- what the fleet and the gateway call

  /**
   * A request or `POST …/load` names a model: it waits for the load (a ticket for a request,
   * the kept flag for an API load) and the scheduler decides. Throws ModelTooLargeError when
   * the estimate alone exceeds the budget.
   */
  load(modelId: string, trigger: Exclude<LoadTrigger, 'activation'>): LoadTicket | null {
    const u = this.use(modelId);
    let ticket: Ticket | null = null;
    if (trigger === 'api') u.kept = true;
    else {
      ticket = new Ticket(modelId, this);
      u.tickets.add(ticket);
    }
    u.heldDown = false;
    const decisions = this.decide({ kind: 'load', modelId });
    const refused = decisions.find((d) => d.kind === 'refuse' && d.modelId === modelId);
    if (refused?.kind === 'refuse') {
      ticket?.release();
      if (trigger === 'api') u.kept = false;
      this.apply(
        decisions.filter((d) => d !== refused),
        trigger,
      );
      throw new ModelTooLargeError(modelId, refused.needBytes, refused.budgetBytes);
    }
    this.apply(decisions, trigger);
    return ticket;
  }

  /** Places the profile's `always` servers (all, or only `only`) after an activation or a reconcile. */
  activate(only?: readonly string[]): Decision[] {
    if (!only) for (const u of this.usage.values()) u.heldDown = false;
    const place = only?.filter((id) => !this.usage.get(id)?.heldDown);
    const decisions = this.decide({ kind: 'activate', only: place });
    this.apply(decisions, 'activation');
    return decisions;
  }

  /** The launches begun since the last call (each resolves once its process is spawned, or the start failed). */
  takeLaunches(): Promise<void>[] {
    const out = this.launches;
    this.launches = [];
    return out;
  }

  /** `POST …/unload`: stops it now; an `always` one stays down until the next activation or load. */
  unload(sup: ServerSupervisor): Promise<void> {
    const u = this.use(sup.modelId);
    u.queuedAt = null;
    u.kept = false;
    if (this.host.startModeOf(sup.modelId) === 'always') u.heldDown = true;
    const had = !AT_REST.has(sup.state);
    if (had) this.unloaded(sup.modelId, 'api', null);
    return this.stopThenAdmit(sup);
  }

  /** A server leaves the desired set (reason `profile`): forget its queue place, stop it. */
  dropped(sup: ServerSupervisor): Promise<void> {
    const u = this.use(sup.modelId);
    u.queuedAt = null;
    u.kept = false;
    if (!AT_REST.has(sup.state)) this.unloaded(sup.modelId, 'profile', null);
    return this.stopThenAdmit(sup);
  }

  /** A gateway request starts on this model's server: it is in use, not evictable, not idle. */
  requestStarted(modelId: string): void {
    const u = this.use(modelId);
    u.inFlight++;
    u.lastUsedAt = this.now();
  }

  /** …and ends: idle time counts from here; a busy server going idle may make room for the queue. */
  requestEnded(modelId: string): void {
    const u = this.use(modelId);
    u.inFlight = Math.max(0, u.inFlight - 1);
    u.lastUsedAt = this.now();
    if (u.inFlight === 0 && this.hasQueue()) this.roomFreed();
  }

  /** The periodic tick: idle on-demand servers stop, the queue is tried again. */
  idleCheck(): void {
    this.apply(this.decide({ kind: 'idle-check' }), null);
  }

  /** Something released memory or slots (a process exited, a measure fell, the budget grew): admit queued loads. */
  roomFreed(): void {
    if (this.roomFreedPending) return;
    this.roomFreedPending = true;
    // After the turn that freed it: never inside decisions being applied.
    setImmediate(() => {
      this.roomFreedPending = false;
      this.apply(this.decide({ kind: 'room-freed' }), null);
    });
  }

  /** A server's state changed: a ready server is used from now; a failed load forgets its API wait. */
  stateChanged(modelId: string, from: ServerState, to: ServerState): void {
    const u = this.use(modelId);
    if (to === 'ready') {
      u.kept = false;
      u.lastUsedAt = this.now();
      if (u.loadStartedAt !== null) {
        const seconds = (this.now() - u.loadStartedAt) / 1000;
        u.loadStartedAt = null;
        this.events.next({ kind: 'loaded', modelId, seconds });
        this.logger.log(
          { modelId, trigger: u.trigger, loadSeconds: round(seconds), ...this.figures() },
          'Model loaded',
        );
      }
      u.trigger = null;
    }
    if (to === 'failed') {
      u.kept = false;
      u.loadStartedAt = null;
      u.trigger = null;
    }
    // Back at rest with no load waiting (cancelled, unloaded, stopped): the next load has its own trigger.
    if ((to === 'unloaded' || to === 'stopped') && u.queuedAt === null) u.trigger = null;
    if (AT_REST.has(to)) u.usedBytes = null;
    // A process ended (stopped, crashed for good): its memory is back.
    if (!AT_REST.has(from) && AT_REST.has(to)) this.roomFreed();
  }

  /** The measured memory of a running server (null: no process). */
  measured(modelId: string, bytes: number | null): void {
    const u = this.use(modelId);
    const before = u.usedBytes;
    u.usedBytes = bytes;
    if (before !== null && bytes !== null && bytes < before && this.hasQueue()) this.roomFreed();
  }

  // ---------------------------------------------------------------- views

  memory(): MemoryView {
    return memoryView(this.state());
  }

  /** What `GET /api/models/servers` adds to each server. */
  usageOf(modelId: string): {
    inFlight: number;
    lastUsedAt: number | null;
    usedBytes: number | null;
  } {
    const u = this.usage.get(modelId);
    return { inFlight: u?.inFlight ?? 0, lastUsedAt: u?.lastUsedAt ?? null, usedBytes: u?.usedBytes ?? null };
  }

  phaseOf(modelId: string): 'queued' | 'loading' | 'ready' | 'idle' {
    const sup = this.host.scheduled().find((s) => s.modelId === modelId);
    const state = sup ? this.schedStateOf(sup) : 'unloaded';
    if (state === 'ready') return 'ready';
    if (state === 'queued' || (state === 'stopping' && this.usage.get(modelId)?.queuedAt != null)) return 'queued';
    if (state === 'starting' || state === 'restarting') return 'loading';
    return 'idle';
  }

  lastErrorOf(modelId: string): string | null {
    return (
      this.host
        .scheduled()
        .find((s) => s.modelId === modelId)
        ?.view().lastError ?? null
    );
  }

  releaseTicket(t: Ticket, keepLoading: boolean): void {
    const u = this.usage.get(t.modelId);
    if (!u?.tickets.delete(t)) return;
    if (keepLoading && this.phaseOf(t.modelId) === 'loading') u.kept = true;
    if (u.tickets.size === 0 && !u.kept) this.apply(this.decide({ kind: 'waiters-gone', modelId: t.modelId }), null);
  }

  /** Forgets models no longer known (removed from the registry). */
  retain(ids: ReadonlySet<string>): void {
    for (const id of this.usage.keys()) if (!ids.has(id)) this.usage.delete(id);
  }

  /**
   * The application shuts down: no decision is applied from now on, so the stops of the
   * shutdown cannot admit a queued load and launch a process after the fleet was stopped.
   */
  close(): void {
    this.closed = true;
    // Queued loads will never start: back to rest, so the requests waiting for them are answered now.
    for (const sup of this.host.scheduled()) {
      const u = this.usage.get(sup.modelId);
      if (u?.queuedAt == null) continue;
      u.queuedAt = null;
      sup.rest('not started: MAGI is shutting down');
    }
  }

  complete(): void {
    this.events.complete();
  }

  // ---------------------------------------------------------------- deciding and applying

  private state(): SchedState {
    const policy = this.host.policy();
    return {
      servers: this.host.scheduled().map((sup) => this.schedServer(sup)),
      budgetBytes: policy.budgetBytes,
      maxRunning: policy.maxRunning,
      now: this.now(),
    };
  }

  private decide(event: SchedEvent): Decision[] {
    return schedule(this.state(), event, { idleTimeoutMs: this.host.policy().idleTimeoutMs });
  }

  private schedServer(sup: ServerSupervisor): SchedServer {
    const u = this.use(sup.modelId);
    return {
      modelId: sup.modelId,
      startMode: this.host.startModeOf(sup.modelId),
      state: this.schedStateOf(sup),
      estimateBytes: this.host.estimateOf(sup.modelId),
      usedBytes: u.usedBytes,
      inFlight: u.inFlight,
      lastUsedAt: u.lastUsedAt ?? 0,
      waiters: u.tickets.size + (u.kept ? 1 : 0),
      queuedAt: u.queuedAt,
    };
  }

  /** A server that rests with a place in the queue is `queued` (its stop just ended); else its supervisor's state. */
  schedStateOf(sup: ServerSupervisor): SchedServer['state'] {
    const u = this.usage.get(sup.modelId);
    if (u?.queuedAt != null && AT_REST.has(sup.state)) return 'queued';
    return sup.state;
  }

  private apply(decisions: readonly Decision[], trigger: LoadTrigger | null): void {
    if (decisions.length === 0 || this.closed) return;
    const byId = new Map(this.host.scheduled().map((s) => [s.modelId, s] as const));
    for (const d of decisions) {
      const sup = byId.get(d.modelId);
      if (!sup) continue;
      const u = this.use(d.modelId);
      switch (d.kind) {
        case 'start':
          this.start(sup, u, trigger);
          break;
        case 'stop':
          u.queuedAt = null;
          if (d.reason === 'cancelled') u.loadStartedAt = null;
          if (!AT_REST.has(sup.state) || d.reason === 'cancelled')
            this.unloaded(d.modelId, d.reason, d.reason === 'evicted' ? d.forModelId : null);
          void this.stopThenAdmit(sup);
          break;
        case 'queue': {
          const news = u.queuedAt === null;
          u.queuedAt = d.queuedAt;
          u.trigger ??= trigger;
          sup.queue(d.reason);
          if (news)
            this.logger.log(
              { modelId: d.modelId, trigger: u.trigger, position: d.position, reason: d.reason, ...this.figures() },
              'Model load queued',
            );
          break;
        }
        case 'refuse': {
          u.queuedAt = null;
          u.kept = false;
          const error = new ModelTooLargeError(d.modelId, d.needBytes, d.budgetBytes);
          for (const t of u.tickets) t.refusal = error;
          sup.rest(error.message);
          this.logger.warn({ modelId: d.modelId, needBytes: d.needBytes, budgetBytes: d.budgetBytes }, 'Model refused');
          break;
        }
        case 'fail':
          u.queuedAt = null;
          sup.refuse(d.reason);
          this.logger.error(
            { modelId: d.modelId, needBytes: d.needBytes, reason: d.reason, ...this.figures() },
            'Server does not fit the memory budget',
          );
          break;
        case 'already-ready':
        case 'already-loading':
          break;
      }
    }
  }

  private start(sup: ServerSupervisor, u: Usage, trigger: LoadTrigger | null): void {
    u.queuedAt = null;
    u.trigger ??= trigger ?? (this.host.startModeOf(sup.modelId) === 'always' ? 'activation' : 'request');
    u.loadStartedAt = this.now();
    u.heldDown = false;
    this.events.next({ kind: 'load', modelId: sup.modelId, trigger: u.trigger });
    const estimate = this.host.estimateOf(sup.modelId);
    // The figures before this start counts: what it needs against what was free.
    this.logger.log(
      { modelId: sup.modelId, trigger: u.trigger, estimateBytes: estimate, ...this.figures() },
      `Model loading (needs ${formatBytes(estimate)})`,
    );
    const launch = sup
      .start()
      .catch((e: Error) => this.logger.error({ modelId: sup.modelId, err: e }, 'Server start failed'));
    if (this.launches.length < 1000) this.launches.push(launch);
  }

  private unloaded(modelId: string, reason: StopReason, forModelId: string | null): void {
    this.events.next({ kind: 'unload', modelId, reason });
    const u = this.usage.get(modelId);
    this.logger.log(
      {
        modelId,
        reason,
        ...(forModelId ? { forModelId } : {}),
        usedBytes: u?.usedBytes ?? null,
        estimateBytes: this.host.estimateOf(modelId),
        ...this.figures(),
      },
      UNLOAD_LINES[reason],
    );
  }

  private stopThenAdmit(sup: ServerSupervisor): Promise<void> {
    return sup.stop().then(() => {
      if (this.hasQueue()) this.roomFreed();
    });
  }

  private hasQueue(): boolean {
    for (const u of this.usage.values()) if (u.queuedAt !== null) return true;
    return false;
  }

  private figures(): { budgetBytes: number | null; reservedBytes: number; freeBytes: number | null } {
    const m = this.memory();
    return { budgetBytes: m.budgetBytes, reservedBytes: m.reservedBytes, freeBytes: m.freeBytes };
  }

  private use(modelId: string): Usage {
    let u = this.usage.get(modelId);
    if (!u) {
      u = {
        inFlight: 0,
        lastUsedAt: null,
        tickets: new Set(),
        kept: false,
        queuedAt: null,
        trigger: null,
        loadStartedAt: null,
        usedBytes: null,
        heldDown: false,
      };
      this.usage.set(modelId, u);
    }
    return u;
  }
}

const UNLOAD_LINES: Record<StopReason, string> = {
  idle: 'Model unloaded after its idle timeout',
  evicted: 'Model evicted to make room',
  cancelled: 'Model load cancelled: nobody waits for it',
  api: 'Model unloaded through the API',
  profile: 'Model stopped: the active profile no longer runs it',
};

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
