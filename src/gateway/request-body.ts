/**
 * The request body as the gateway needs it: a JSON object with a non-empty `model`, and
 * whether it asks for a stream. The rest of the body is the upstream's to validate (its
 * 400 passes through).
 */

/** Why a body cannot be routed. */
export type RequestBodyProblem = 'empty' | 'invalid_json' | 'not_an_object' | 'no_model';

export class RequestBodyError extends Error {
  constructor(readonly problem: RequestBodyProblem) {
    super(problem);
  }
}

export interface RequestBody {
  /** The bytes as received, sent on as they are when `model` does not change (LiteLLM). */
  raw: Buffer;
  json: Record<string, unknown>;
  model: string;
  /** Top-level `stream` is `true`. */
  stream: boolean;
}

/** Parses a gateway request body (bytes); throws RequestBodyError saying what is wrong. */
export function readRequestBody(raw: unknown): RequestBody {
  if (!Buffer.isBuffer(raw)) throw new RequestBodyError('empty');
  const text = raw.toString('utf8').replace(/^\uFEFF/, '');
  if (text.trim() === '') throw new RequestBodyError('empty');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new RequestBodyError('invalid_json');
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new RequestBodyError('not_an_object');
  const body = json as Record<string, unknown>;
  if (typeof body.model !== 'string' || body.model === '') throw new RequestBodyError('no_model');
  return { raw, json: body, model: body.model, stream: body.stream === true };
}

/** The body to send upstream: `model` set to `model` (in its place), the received bytes when it already is. */
export function withModel(body: RequestBody, model: string): Buffer {
  if (body.model === model) return body.raw;
  return Buffer.from(JSON.stringify({ ...body.json, model }), 'utf8');
}
