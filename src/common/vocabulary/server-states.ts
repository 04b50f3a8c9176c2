/**
 * The states of one supervised llama-server, as every module names them (answers, metrics,
 * readiness, routing). The transitions between them are the servers module's rule
 * (`servers/server-state.ts`). `unloaded` and `queued` belong to on-demand loading
 * (API.md §9): not running and loadable, and waiting for room in the memory budget.
 */
export const SERVER_STATES = [
  'unloaded',
  'queued',
  'starting',
  'ready',
  'restarting',
  'failed',
  'stopping',
  'stopped',
] as const;
export type ServerState = (typeof SERVER_STATES)[number];

/** How a server of the active profile comes to run (API.md §9). */
export const START_MODES = ['always', 'on_demand'] as const;
export type StartMode = (typeof START_MODES)[number];
