import type { GatewayEndpoint } from './route';

/** The gateway's three POST routes: answered at these paths, and sent upstream to the same ones. */
export const GATEWAY_PATHS: Readonly<Record<GatewayEndpoint, string>> = {
  chat: '/v1/chat/completions',
  completions: '/v1/completions',
  embeddings: '/v1/embeddings',
};
