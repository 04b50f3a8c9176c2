/**
 * The gateway's POST routes. app.setup.ts reads their bodies as raw bytes (no JSON
 * parser): the gateway reads `model` and `stream` from the bytes and rewrites `model` in
 * place (request-body.ts), so a body is never parsed nor re-serialised on its way upstream.
 */
export const GATEWAY_POST_PATHS = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'];
