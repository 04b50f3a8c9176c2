/**
 * The state machine of one supervised llama-server, declared as data: the supervisor
 * asks `canTransition` before every change and refuses anything not listed here.
 */
import type { ServerState } from '../common/vocabulary/server-states';

export const SERVER_TRANSITIONS: Readonly<Record<ServerState, readonly ServerState[]>> = {
  // Never started, or stopped on purpose: a reconcile may start it.
  stopped: ['starting'],
  // Process launched, /health not 200 yet.
  starting: ['ready', 'restarting', 'failed', 'stopping'],
  // /health answered 200.
  ready: ['restarting', 'failed', 'stopping'],
  // Exited unexpectedly (or lost its port); waiting out the back-off.
  restarting: ['starting', 'failed', 'stopping'],
  // Gave up (timeout, repeated crashes, missing binary or file); a reconcile may retry it.
  failed: ['starting', 'stopping'],
  // SIGTERM sent to its group, SIGKILL after the grace period.
  stopping: ['stopped'],
};

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
