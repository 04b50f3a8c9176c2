/**
 * The gateway's POST routes. Their bodies are read as raw bytes, by the raw listener
 * (gateway-listener.ts) and, for other spellings reaching Express, by app.setup.ts (no
 * JSON parser): the gateway reads `model` and `stream` from the bytes and rewrites `model`
 * in place (request-body.ts), so a body is never parsed nor re-serialised on its way upstream.
 */
export const GATEWAY_POST_PATHS = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'];
