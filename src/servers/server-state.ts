/**
 * The state machine of one supervised llama-server, declared as data: the supervisor
 * asks `canTransition` before every change and refuses anything not listed here.
 */
import type { ServerState } from '../common/vocabulary/server-states';

export const SERVER_TRANSITIONS: Readonly<Record<ServerState, readonly ServerState[]>> = {
  // An on-demand server with no process: a request or `POST …/load` may load it.
  unloaded: ['queued', 'starting', 'stopped', 'failed'],
  // A load waiting for room in the memory budget or maxRunning (the reason is its lastError).
  queued: ['starting', 'unloaded', 'stopped', 'failed'],
  // Never started, or stopped on purpose: a reconcile (or a load) may start it.
  stopped: ['queued', 'starting', 'unloaded', 'failed'],
  // Process launched, /health not 200 yet.
  starting: ['ready', 'restarting', 'failed', 'stopping'],
  // /health answered 200.
  ready: ['restarting', 'failed', 'stopping'],
  // Exited unexpectedly (or lost its port); waiting out the back-off.
  restarting: ['starting', 'failed', 'stopping'],
  // Gave up (timeout, repeated crashes, missing binary or file, did not fit the budget); a
  // reconcile or a load may retry it.
  failed: ['queued', 'starting', 'stopping', 'unloaded', 'stopped'],
  // SIGTERM sent to its group, SIGKILL after the grace period; it ends at rest.
  stopping: ['stopped', 'unloaded'],
};

/** States without a process, from which a server may be started. */
export const AT_REST: ReadonlySet<ServerState> = new Set<ServerState>(['unloaded', 'queued', 'stopped', 'failed']);

export function canTransition(from: ServerState, to: ServerState): boolean {
  return SERVER_TRANSITIONS[from].includes(to);
}

/** Thrown on a transition the table does not allow: a supervisor bug, never user input. */
export class IllegalTransitionError extends Error {
  constructor(
    readonly modelId: string,
    readonly from: ServerState,
    readonly to: ServerState,
  ) {
    super(`Server ${modelId}: illegal transition ${from} -> ${to}`);
  }
}
