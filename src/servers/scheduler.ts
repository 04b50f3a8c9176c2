/**
 * The fleet's scheduling decisions as one pure function: the fleet's state and one event in,
 * what the fleet must do out (start, stop, queue, refuse, fail). No Nest, no I/O, no clock —
 * time comes in as `state.now`. The fleet performs the decisions (launch, SIGTERM, set
 * `queued` and `lastError`, wake or answer waiters) and calls again on the next event.
 * The rules, for users: docs/scheduling.md.
 *
 * Memory is counted per server in a state that holds (or is about to hold) a process —
 * starting, ready, restarting, stopping — at the larger of its estimate and its measured
 * memory. A stopping server still counts until it has exited: the memory it frees is
 * "pending", and a load waits in `queued` for it rather than starting on top of it. That
 * keeps the reserved total within the budget at every step, not only after the stops land.
 *
 * The fleet calls `schedule` and applies its decisions in the same synchronous turn, so no
 * request can land on a server between the decision to evict it and its SIGTERM.
 */
import type { ServerState, StartMode } from '../common/vocabulary/server-states';
import type { Tier } from '../common/vocabulary/tiers';
import { formatBytes } from '../common/units/memory-size';

export type { StartMode };

/** One server of the active profile (or of the previous one, while it still stops) as the scheduler sees it. */
export interface SchedServer {
  modelId: string;
  startMode: StartMode;
  state: ServerState;
  /** The memory estimate at the settings the fleet starts it with. */
  estimateBytes: number;
  /** Measured resident memory while a process runs; null otherwise. */
  usedBytes: number | null;
  /** Requests being answered by it now. */
  inFlight: number;
  /** Epoch ms of its last request (or of becoming ready): the LRU order. */
  lastUsedAt: number;
  /** Requests and API loads waiting for it to become ready; an API load counts until it is ready. */
  waiters: number;
  /**
   * Its place in the queue, as the `queue` decision gave it (epoch ms of its arrival, moved 1 ms
   * past the last queued load on a tie so arrival order is exact); kept while it waits: while
   * `queued`, or while `stopping` with a load waiting to start it again. Null otherwise.
   */
  queuedAt: number | null;
}

export interface SchedState {
  /** In the active profile's order (the order `always` servers are placed in). */
  servers: readonly SchedServer[];
  /** Null: no memory budget (`off`), only `maxRunning` limits. */
  budgetBytes: number | null;
  /** Most servers holding a process at once; null: no limit. */
  maxRunning: number | null;
  /** Epoch ms. */
  now: number;
}

export interface SchedOptions {
  /** An on-demand server with no request for this long stops. */
  idleTimeoutMs: number;
}

export type SchedEvent =
  /** A request or `POST …/load` names this model. */
  | { kind: 'load'; modelId: string }
  /**
   * A profile was activated: place its `always` servers in order (with `only`, just those of
   * them: a reconcile that is not an activation places new servers, not ones that failed or
   * were unloaded by hand).
   */
  | { kind: 'activate'; only?: readonly string[] }
  /** A server stopped, went idle, or its measured memory or the budget changed: admit queued loads in order. */
  | { kind: 'room-freed' }
  /** The periodic tick: stop idle on-demand servers, retry the queue. */
  | { kind: 'idle-check' }
  /** The model's last waiter left: cancel its load. */
  | { kind: 'waiters-gone'; modelId: string };

/** Why the scheduler stops a server (the `reason` label of `magi_fleet_unloads_total`). */
export type UnloadReason = 'evicted' | 'idle' | 'cancelled';

export type Decision =
  /** Launch its process. */
  | { kind: 'start'; modelId: string }
  /** Stop its process (or, for a queued load, drop it back to `unloaded`). */
  | { kind: 'stop'; modelId: string; reason: Exclude<UnloadReason, 'evicted'> }
  /** Stop an idle on-demand server to make room for `forModelId`. */
  | { kind: 'stop'; modelId: string; reason: 'evicted'; forModelId: string }
  /**
   * It is (or stays) `queued`: `reason` is its `lastError`, `queuedAt` what to keep as its
   * `queuedAt`; `position` counts from 1 in the queue. Restated on every pass so the reason
   * stays current; only a change of state is news.
   */
  | {
      kind: 'queue';
      modelId: string;
      reason: string;
      position: number;
      queuedAt: number;
      needBytes: number;
      freeBytes: number | null;
    }
  /** 503 `model_too_large`: its estimate alone exceeds the budget. */
  | { kind: 'refuse'; modelId: string; error: 'model_too_large'; needBytes: number; budgetBytes: number }
  /** An `always` server that does not fit at activation becomes `failed` with this `lastError`. */
  | { kind: 'fail'; modelId: string; reason: string; needBytes: number; freeBytes: number | null }
  /** Nothing to do: it is ready (200). */
  | { kind: 'already-ready'; modelId: string }
  /** Nothing to do: its load is under way (starting, restarting, queued). */
  | { kind: 'already-loading'; modelId: string; state: ServerState };

export interface MemoryView {
  budgetBytes: number | null;
  /** What every server holding a process counts for. */
  reservedBytes: number;
  /** Budget minus reserved, never below 0; null without a budget. */
  freeBytes: number | null;
}

/** States with a process now or about to have one again (restarting waits out its back-off). */
const HOLDING: ReadonlySet<ServerState> = new Set<ServerState>(['starting', 'ready', 'restarting', 'stopping']);
const UNDER_WAY: ReadonlySet<ServerState> = new Set<ServerState>(['starting', 'restarting', 'queued']);

/** What one server counts for against the budget: the larger of estimate and measurement while it holds a process. */
export function countedBytes(s: SchedServer): number {
  return HOLDING.has(s.state) ? Math.max(s.estimateBytes, s.usedBytes ?? 0) : 0;
}

export function memoryView(state: SchedState): MemoryView {
  const reservedBytes = sum(state.servers.map(countedBytes));
  const freeBytes = state.budgetBytes === null ? null : Math.max(0, state.budgetBytes - reservedBytes);
  return { budgetBytes: state.budgetBytes, reservedBytes, freeBytes };
}

/** What the fleet must do for this event, in order (evictions come before the load they make room for). */
export function schedule(state: SchedState, event: SchedEvent, opts: SchedOptions): Decision[] {
  switch (event.kind) {
    case 'load':
      return load(state, event.modelId);
    case 'activate':
      return activate(state, event.only ? new Set(event.only) : null);
    case 'room-freed':
      return admitInOrder(queueOf(state.servers), new Room(state, state.servers), null);
    case 'idle-check':
      return idleCheck(state, opts.idleTimeoutMs);
    case 'waiters-gone':
      return cancel(state, event.modelId);
  }
}

function load(state: SchedState, modelId: string): Decision[] {
  const s = state.servers.find((x) => x.modelId === modelId);
  if (!s) return [];
  if (s.state === 'ready') return [{ kind: 'already-ready', modelId }];
  if (isQueued(s) || UNDER_WAY.has(s.state)) return [{ kind: 'already-loading', modelId, state: s.state }];
  if (state.budgetBytes !== null && s.estimateBytes > state.budgetBytes) return [tooLarge(s, state.budgetBytes)];
  // unloaded, stopped, failed — or stopping, in which case it restarts once the old process has exited.
  const last = queueOf(state.servers).reduce((at, x) => Math.max(at, x.queuedAt ?? 0), -Infinity);
  const servers = patch(state.servers, modelId, {
    state: s.state === 'stopping' ? 'stopping' : 'queued',
    queuedAt: Math.max(state.now, last + 1),
  });
  return admitInOrder(queueOf(servers), new Room(state, servers), null);
}

/**
 * First fit in the profile's order: each `always` server not running starts if it fits, waits
 * for evictions if stopping idle on-demand servers makes it fit, else fails with the figures.
 * A later, smaller one may still fit after a larger one failed. Queued on-demand loads come after.
 */
function activate(state: SchedState, only: ReadonlySet<string> | null): Decision[] {
  const room = new Room(state, state.servers);
  const out: Decision[] = [];
  const waiting: string[] = [];
  for (const s of state.servers) {
    if (s.startMode !== 'always' || ['starting', 'ready', 'restarting'].includes(s.state)) continue;
    if (only && !only.has(s.modelId)) continue;
    const need = s.estimateBytes;
    if (state.budgetBytes !== null && need > state.budgetBytes) {
      const reason = `Larger than the whole memory budget: needs ${formatBytes(need)}, budget ${formatBytes(state.budgetBytes)}`;
      out.push({ kind: 'fail', modelId: s.modelId, reason, needBytes: need, freeBytes: room.freeBytes() });
      continue;
    }
    const before = room.snapshot(need);
    const p = room.place(s);
    if (p.kind === 'start') out.push({ kind: 'start', modelId: s.modelId });
    else if (p.kind === 'blocked') {
      const reason = `Does not fit beside the servers placed before it: ${before.figures}`;
      out.push({ kind: 'fail', modelId: s.modelId, reason, needBytes: need, freeBytes: before.freeBytes });
    } else {
      waiting.push(s.modelId);
      const entry = { ...s, queuedAt: s.queuedAt ?? state.now };
      out.push(...evictions(p, s), queued(entry, waitReason(p, before.figures), waiting.length, before.freeBytes));
    }
  }
  const onDemand = queueOf(state.servers).filter((s) => s.startMode === 'on_demand');
  return [...out, ...admitInOrder(onDemand, room, waiting[0] ?? null, waiting.length)];
}

function idleCheck(state: SchedState, idleTimeoutMs: number): Decision[] {
  const idle = state.servers.filter(
    (s) =>
      s.startMode === 'on_demand' &&
      s.state === 'ready' &&
      s.inFlight === 0 &&
      s.waiters === 0 &&
      state.now - s.lastUsedAt >= idleTimeoutMs,
  );
  let servers = state.servers;
  for (const s of idle) servers = patch(servers, s.modelId, { state: 'stopping' });
  const stops: Decision[] = idle.map((s) => ({ kind: 'stop', modelId: s.modelId, reason: 'idle' }));
  return [...stops, ...admitInOrder(queueOf(servers), new Room(state, servers), null)];
}

/** A load nobody waits for any more: drop it from the queue, or stop its starting process. `always` servers stay. */
function cancel(state: SchedState, modelId: string): Decision[] {
  const s = state.servers.find((x) => x.modelId === modelId);
  if (!s || s.startMode === 'always' || s.waiters > 0) return [];
  let servers: readonly SchedServer[];
  if (s.state === 'queued') servers = patch(state.servers, modelId, { state: 'unloaded', queuedAt: null });
  else if (isQueued(s)) servers = patch(state.servers, modelId, { queuedAt: null });
  else if (s.state === 'starting' || s.state === 'restarting')
    servers = patch(state.servers, modelId, { state: 'stopping' });
  else return [];
  return [
    { kind: 'stop', modelId, reason: 'cancelled' },
    ...admitInOrder(queueOf(servers), new Room(state, servers), null),
  ];
}

/**
 * Strict FIFO: the first load that cannot start now holds everyone behind it, even a
 * smaller one that would fit, so a big model is never starved by a stream of small ones.
 */
function admitInOrder(
  queue: readonly SchedServer[],
  room: Room,
  blockedBehind: string | null,
  positionsTaken = 0,
): Decision[] {
  const out: Decision[] = [];
  let ahead = blockedBehind;
  let position = positionsTaken;
  for (const s of queue) {
    // Only after the budget shrank: a queued load that can never fit is refused rather than holding the queue.
    if (room.budget !== Infinity && s.estimateBytes > room.budget) {
      out.push(tooLarge(s, room.budget));
      continue;
    }
    position += 1;
    if (ahead !== null) {
      const reason = `Queued behind ${ahead} (position ${position}): loads are served in arrival order`;
      out.push(queued(s, reason, position, room.freeBytes()));
      continue;
    }
    const before = room.snapshot(s.estimateBytes);
    const p = room.place(s);
    if (p.kind === 'start') {
      out.push({ kind: 'start', modelId: s.modelId });
      position -= 1;
    } else {
      out.push(...evictions(p, s), queued(s, waitReason(p, before.figures), position, before.freeBytes));
      ahead = s.modelId;
    }
  }
  return out;
}

/** Waiting loads: `queued` ones and stopping ones with a load to start again; `always` first, then arrival, then profile order. */
function queueOf(servers: readonly SchedServer[]): SchedServer[] {
  const rank = (s: SchedServer): number => (s.startMode === 'always' ? 0 : 1);
  return servers
    .filter(isQueued)
    .map((s, index) => ({ s, index }))
    .sort((a, b) => rank(a.s) - rank(b.s) || (a.s.queuedAt ?? 0) - (b.s.queuedAt ?? 0) || a.index - b.index)
    .map(({ s }) => s);
}

function isQueued(s: SchedServer): boolean {
  return s.state === 'queued' || (s.state === 'stopping' && s.queuedAt !== null);
}

type Placement =
  | { kind: 'start' }
  /** Fits once these evicted servers and those already stopping have exited. */
  | { kind: 'wait'; evict: SchedServer[]; stopping: string[] }
  /** Does not fit even after stopping every idle on-demand server. */
  | { kind: 'blocked' };

/**
 * The memory and slots of one decision pass. Limits off are Infinity. `pending` is held by
 * stopping servers and free once they exit; `claimed` is promised to loads already told to
 * wait for it, so a later placement in the same pass cannot take it from them.
 */
class Room {
  /** Infinity: no budget. */
  readonly budget: number;
  private readonly maxRunning: number;
  private free: number;
  private pending = 0;
  private claimed = 0;
  private freeSlots: number;
  private pendingSlots = 0;
  private claimedSlots = 0;
  private readonly stopping: string[] = [];
  private readonly evictable: SchedServer[];

  constructor(state: SchedState, servers: readonly SchedServer[]) {
    this.budget = state.budgetBytes ?? Infinity;
    this.maxRunning = state.maxRunning ?? Infinity;
    const holding = servers.filter((s) => HOLDING.has(s.state));
    this.free = this.budget - sum(holding.map(countedBytes));
    this.freeSlots = this.maxRunning - holding.length;
    for (const s of holding.filter((x) => x.state === 'stopping')) this.release(s);
    // Array.prototype.sort is stable: equal lastUsedAt keeps the profile's order.
    this.evictable = servers
      .filter((s) => s.startMode === 'on_demand' && s.state === 'ready' && s.inFlight === 0 && s.waiters === 0)
      .sort((a, b) => a.lastUsedAt - b.lastUsedAt);
  }

  place(s: SchedServer): Placement {
    const need = s.estimateBytes;
    let laterBytes = this.free + this.pending - this.claimed;
    let laterSlots = this.freeSlots + this.pendingSlots - this.claimedSlots;
    if (s.state !== 'stopping' && fits(need, Math.min(this.free, laterBytes), Math.min(this.freeSlots, laterSlots))) {
      this.free -= need;
      this.freeSlots -= 1;
      return { kind: 'start' };
    }
    // Least recently used first, only until it fits.
    const evict: SchedServer[] = [];
    for (const v of this.evictable) {
      if (fits(need, laterBytes, laterSlots)) break;
      evict.push(v);
      laterBytes += countedBytes(v);
      laterSlots += 1;
    }
    if (!fits(need, laterBytes, laterSlots)) return { kind: 'blocked' };
    const stopping = [...this.stopping];
    for (const v of evict) {
      this.evictable.splice(this.evictable.indexOf(v), 1);
      this.release(v);
    }
    this.claimed += need;
    this.claimedSlots += 1;
    return { kind: 'wait', evict, stopping };
  }

  /** Free now for a new load (what is promised to waiting loads excluded), never below 0; null without a budget. */
  freeBytes(): number | null {
    if (this.budget === Infinity) return null;
    return Math.max(0, Math.min(this.free, this.free + this.pending - this.claimed));
  }

  /** The figures before placing a load: bytes needed and free, servers against maxRunning — for its reason. */
  snapshot(need: number): { figures: string; freeBytes: number | null } {
    const freeBytes = this.freeBytes();
    const parts: string[] = [];
    if (freeBytes !== null)
      parts.push(`needs ${formatBytes(need)}, ${formatBytes(freeBytes)} free of ${formatBytes(this.budget)}`);
    if (this.maxRunning !== Infinity)
      parts.push(`${this.maxRunning - this.freeSlots} of maxRunning ${this.maxRunning} servers running`);
    return { figures: parts.join('; '), freeBytes };
  }

  private release(s: SchedServer): void {
    this.pending += countedBytes(s);
    this.pendingSlots += 1;
    this.stopping.push(s.modelId);
  }
}

function fits(need: number, bytes: number, slots: number): boolean {
  return need <= bytes && slots >= 1;
}

function waitReason(p: Exclude<Placement, { kind: 'start' }>, figures: string): string {
  if (p.kind === 'blocked') return `Waiting for room (${figures}); no idle on-demand server to stop`;
  if (p.evict.length > 0)
    return `Waiting for idle ${p.evict.map((v) => v.modelId).join(', ')} to stop to make room (${figures})`;
  return `Waiting for ${p.stopping.join(', ')} to stop (${figures})`;
}

function tooLarge(s: SchedServer, budgetBytes: number): Decision {
  return { kind: 'refuse', modelId: s.modelId, error: 'model_too_large', needBytes: s.estimateBytes, budgetBytes };
}

function queued(s: SchedServer, reason: string, position: number, freeBytes: number | null): Decision {
  const { modelId, queuedAt, estimateBytes } = s;
  return { kind: 'queue', modelId, reason, position, queuedAt: queuedAt ?? 0, needBytes: estimateBytes, freeBytes };
}

function evictions(p: Placement, forServer: SchedServer): Decision[] {
  if (p.kind !== 'wait') return [];
  return p.evict.map((v) => ({ kind: 'stop', modelId: v.modelId, reason: 'evicted', forModelId: forServer.modelId }));
}

function patch(servers: readonly SchedServer[], modelId: string, change: Partial<SchedServer>): SchedServer[] {
  return servers.map((s) => (s.modelId === modelId ? { ...s, ...change } : s));
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** A server as the tier choice sees it. */
export interface TierServer extends Pick<SchedServer, 'modelId' | 'startMode' | 'state' | 'estimateBytes'> {
  tier: Tier;
}

export type TierChoice =
  /** Ready servers of the tier, in profile order: the gateway's balancing strategy picks among them. */
  | { kind: 'ready'; modelIds: string[] }
  /** None ready, but this one of the tier is on its way (the smallest such): wait for it. */
  | { kind: 'loading'; modelId: string }
  /** Nothing on its way: load this on-demand model, the tier's smallest estimate. */
  | { kind: 'load'; modelId: string }
  | { kind: 'none' };

/**
 * States a tier's on-demand model is loaded from: at rest, or stopping (an idle stop, an
 * eviction), whose load starts it again once the old process has exited, as a request naming
 * the model does. Not `failed`: it would fail again.
 */
const LOADABLE: ReadonlySet<ServerState> = new Set<ServerState>(['unloaded', 'stopped', 'stopping']);

/**
 * Which server answers a tier: any ready one; else one already loading, so a second model is
 * not loaded beside it; else the tier's unloaded (or stopping) on-demand model with the
 * smallest estimate (first in profile order on a tie).
 */
export function chooseTierServer(servers: readonly TierServer[], tier: Tier): TierChoice {
  const ofTier = servers.filter((s) => s.tier === tier);
  const ready = ofTier.filter((s) => s.state === 'ready');
  if (ready.length > 0) return { kind: 'ready', modelIds: ready.map((s) => s.modelId) };
  const loading = smallest(ofTier.filter((s) => UNDER_WAY.has(s.state)));
  if (loading) return { kind: 'loading', modelId: loading.modelId };
  const loadable = smallest(ofTier.filter((s) => s.startMode === 'on_demand' && LOADABLE.has(s.state)));
  return loadable ? { kind: 'load', modelId: loadable.modelId } : { kind: 'none' };
}

function smallest<T extends { estimateBytes: number }>(list: readonly T[]): T | undefined {
  return list.reduce<T | undefined>(
    (best, s) => (best === undefined || s.estimateBytes < best.estimateBytes ? s : best),
    undefined,
  );
}
