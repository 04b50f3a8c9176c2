/**
 * The states of one supervised llama-server, as every module names them (answers, metrics,
 * readiness, routing). The transitions between them are the servers module's rule
 * (`servers/server-state.ts`).
 */
export const SERVER_STATES = ['starting', 'ready', 'restarting', 'failed', 'stopping', 'stopped'] as const;
export type ServerState = (typeof SERVER_STATES)[number];
