/**
 * The gateway's POST routes. app.setup.ts reads their bodies as raw bytes (no JSON
 * parser): the gateway parses each body once and re-serialises it only when `model`
 * changes, so a body is never parsed twice on its way upstream.
 */
export const GATEWAY_POST_PATHS = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'];
