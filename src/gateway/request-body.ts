/**
 * Reads what the gateway needs from an OpenAI request body — the top-level `model` and
 * `stream` — without parsing the rest, and rewrites `model` at the byte level. A chat body
 * can be megabytes (long histories, base64 images); JSON.parse + JSON.stringify of it
 * would cost milliseconds of event-loop time per request, while this scan jumps over
 * string contents with Buffer.indexOf and copies the body at most once. The rest of the
 * body is the upstream's to validate (its 400 passes through).
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;
const MODEL = Buffer.from('model');
const STREAM = Buffer.from('stream');
const TRUE = Buffer.from('true');

/** Why a body cannot be routed. */
export type RequestBodyProblem = 'empty' | 'invalid_json' | 'not_an_object' | 'no_model';

export class RequestBodyError extends Error {
  constructor(readonly problem: RequestBodyProblem) {
    super(problem);
  }
}

export interface RequestBody {
  raw: Buffer;
  /** The top-level `model` (the last one, as JSON.parse would keep). */
  model: string;
  /** Top-level `stream` is `true`. */
  stream: boolean;
  /** Byte ranges of every top-level `model` string value, quotes included, in order. */
  modelSpans: Array<[number, number]>;
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

function skipSpace(buf: Buffer, i: number): number {
  while (i < buf.length && isSpace(buf[i])) i++;
  return i;
}

/** Index just past the string starting at the quote at `i`. */
function stringEnd(buf: Buffer, i: number): number {
  let q = i;
  for (;;) {
    q = buf.indexOf(QUOTE, q + 1);
    if (q < 0) throw new RequestBodyError('invalid_json');
    let slashes = 0;
    while (buf[q - 1 - slashes] === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return q + 1;
  }
}

/** Index just past the object or array starting at `i`. */
function containerEnd(buf: Buffer, i: number): number {
  let depth = 0;
  for (let j = i; j < buf.length; j++) {
    const b = buf[j];
    if (b === QUOTE) j = stringEnd(buf, j) - 1;
    else if (b === LBRACE || b === LBRACKET) depth++;
    else if (b === RBRACE || b === RBRACKET) {
      if (--depth === 0) return j + 1;
    }
  }
  throw new RequestBodyError('invalid_json');
}

/** Index just past a number or literal starting at `i`. */
function scalarEnd(buf: Buffer, i: number): number {
  let j = i;
  while (j < buf.length) {
    const b = buf[j];
    if (b === COMMA || b === RBRACE || b === RBRACKET || isSpace(b)) break;
    j++;
  }
  if (j === i) throw new RequestBodyError('invalid_json');
  return j;
}

function equals(buf: Buffer, start: number, end: number, word: Buffer): boolean {
  return end - start === word.length && buf.compare(word, 0, word.length, start, end) === 0;
}

/** Reads `model` and `stream` from the top level of a JSON object body. */
export function readRequestBody(raw: unknown): RequestBody {
  if (!Buffer.isBuffer(raw) || raw.length === 0) throw new RequestBodyError('empty');
  const buf = raw;
  let i = skipSpace(buf, buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0);
  if (i >= buf.length) throw new RequestBodyError('empty');
  if (buf[i] !== LBRACE) {
    // Not an object: only the error's wording depends on whether it is JSON at all.
    try {
      JSON.parse(buf.toString('utf8'));
    } catch {
      throw new RequestBodyError('invalid_json');
    }
    throw new RequestBodyError('not_an_object');
  }
  const spans: Array<[number, number]> = [];
  let model: unknown;
  let hasModel = false;
  let stream = false;
  i = skipSpace(buf, i + 1);
  if (buf[i] === RBRACE) i++;
  else {
    for (;;) {
      if (buf[i] !== QUOTE) throw new RequestBodyError('invalid_json');
      const keyEnd = stringEnd(buf, i);
      const isModel = equals(buf, i + 1, keyEnd - 1, MODEL);
      const isStream = !isModel && equals(buf, i + 1, keyEnd - 1, STREAM);
      i = skipSpace(buf, keyEnd);
      if (buf[i] !== COLON) throw new RequestBodyError('invalid_json');
      i = skipSpace(buf, i + 1);
      if (i >= buf.length) throw new RequestBodyError('invalid_json');
      const start = i;
      const b = buf[i];
      if (b === QUOTE) i = stringEnd(buf, i);
      else if (b === LBRACE || b === LBRACKET) i = containerEnd(buf, i);
      else i = scalarEnd(buf, i);
      if (isModel) {
        hasModel = true;
        if (b === QUOTE) {
          try {
            model = JSON.parse(buf.toString('utf8', start, i));
          } catch {
            throw new RequestBodyError('invalid_json');
          }
          spans.push([start, i]);
        } else {
          model = undefined;
        }
      } else if (isStream) {
        stream = equals(buf, start, i, TRUE);
      }
      i = skipSpace(buf, i);
      if (buf[i] === COMMA) {
        i = skipSpace(buf, i + 1);
        continue;
      }
      if (buf[i] === RBRACE) {
        i++;
        break;
      }
      throw new RequestBodyError('invalid_json');
    }
  }
  if (skipSpace(buf, i) !== buf.length) throw new RequestBodyError('invalid_json');
  if (!hasModel || typeof model !== 'string' || model === '') throw new RequestBodyError('no_model');
  return { raw: buf, model, stream, modelSpans: spans };
}

/** The body with every top-level `model` set to `model`: the original bytes when it already is. */
export function withModel(body: RequestBody, model: string): Buffer {
  if (body.model === model && body.modelSpans.length === 1) return body.raw;
  const value = Buffer.from(JSON.stringify(model), 'utf8');
  const parts: Buffer[] = [];
  let at = 0;
  for (const [start, end] of body.modelSpans) {
    parts.push(body.raw.subarray(at, start), value);
    at = end;
  }
  parts.push(body.raw.subarray(at));
  return Buffer.concat(parts);
}
