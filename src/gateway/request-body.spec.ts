import { RequestBodyError, RequestBodyProblem, readRequestBody, withModel } from './request-body';

const buf = (s: string): Buffer => Buffer.from(s, 'utf8');

function problemOf(input: unknown): RequestBodyProblem {
  try {
    readRequestBody(input);
  } catch (e) {
    if (e instanceof RequestBodyError) return e.problem;
    throw e;
  }
  throw new Error('expected a RequestBodyError');
}

/** A deterministic pseudo-random generator, so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const NASTY = [
  'plain',
  'with "quotes"',
  'back\\slash\\',
  '{not: an object}',
  '[1, 2]',
  'üñí©ødé ✓ 🦙',
  '\\"',
  'line\nbreak\ttab',
  '"model": "x"',
  '\u0000\u001f',
];

function randomValue(r: () => number, depth: number): unknown {
  const k = Math.floor(r() * (depth > 2 ? 4 : 6));
  switch (k) {
    case 0:
      return NASTY[Math.floor(r() * NASTY.length)];
    case 1:
      return Math.floor(r() * 1e6) / 100 - 50;
    case 2:
      return r() < 0.5;
    case 3:
      return null;
    case 4:
      return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: Math.floor(r() * 4) }, (_, i) => [
          `k${i}${NASTY[i % NASTY.length]}`,
          randomValue(r, depth + 1),
        ]),
      );
  }
}

describe('readRequestBody', () => {
  it('reads model and stream of a chat body', () => {
    const body = readRequestBody(
      buf('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"stream":true}'),
    );
    expect([body.model, body.stream]).toEqual(['gpt-4o-mini', true]);
  });

  it('agrees with JSON.parse on bodies with nasty strings, nesting and whitespace', () => {
    const r = rng(42);
    for (let n = 0; n < 500; n++) {
      const obj: Record<string, unknown> = {};
      const keys = Array.from(
        { length: 1 + Math.floor(r() * 5) },
        (_, i) => `f${i}${NASTY[Math.floor(r() * NASTY.length)]}`,
      );
      const modelAt = Math.floor(r() * (keys.length + 1));
      keys.forEach((key, i) => {
        if (i === modelAt) obj.model = NASTY[Math.floor(r() * NASTY.length)];
        obj[key] = randomValue(r, 0);
      });
      if (!('model' in obj)) obj.model = 'last ✓';
      if (r() < 0.5) obj.stream = r() < 0.5;
      const text = r() < 0.5 ? JSON.stringify(obj) : JSON.stringify(obj, null, 2);
      const body = readRequestBody(buf(text));
      expect(body.model).toBe(obj.model);
      expect(body.stream).toBe(obj.stream === true);
      expect(JSON.parse(withModel(body, 'served_as ✓').toString('utf8'))).toEqual({ ...obj, model: 'served_as ✓' });
    }
  });

  it('ignores model and stream keys nested below the top level', () => {
    const body = readRequestBody(
      buf('{"messages":[{"model":"inner","stream":true}],"meta":{"model":"x"},"model":"outer"}'),
    );
    expect([body.model, body.stream, body.modelSpans.length]).toEqual(['outer', false, 1]);
  });

  it('takes the last of duplicate model keys, as JSON.parse does, and rewrites them all', () => {
    const body = readRequestBody(buf('{"model":"a","x":1,"model":"b"}'));
    expect(body.model).toBe('b');
    expect(withModel(body, 'c').toString()).toBe('{"model":"c","x":1,"model":"c"}');
  });

  it('returns the very same bytes when model does not change', () => {
    const raw = buf('{ "model" : "m",  "prompt": "x" }');
    expect(withModel(readRequestBody(raw), 'm')).toBe(raw);
    expect(withModel(readRequestBody(raw), 'other').toString()).toBe('{ "model" : "other",  "prompt": "x" }');
  });

  it('decodes escapes in the model name', () => {
    expect(readRequestBody(buf('{"model":"qwen3\\u005f4b"}')).model).toBe('qwen3_4b');
  });

  it('tells an empty body, invalid JSON, a non-object and a missing model apart', () => {
    expect(problemOf(undefined)).toBe('empty');
    expect(problemOf(buf(''))).toBe('empty');
    expect(problemOf(buf('   '))).toBe('empty');
    for (const bad of [
      '{"model": ',
      '{"model":"x"',
      '{"model" "x"}',
      '{model:"x"}',
      '{"model":"x",}',
      '{"model":"x"} extra',
      '{"a":"unterminated}',
      'nope',
    ]) {
      expect([bad, problemOf(buf(bad))]).toEqual([bad, 'invalid_json']);
    }
    for (const notObject of ['[1,2]', '"model"', '42', 'null']) expect(problemOf(buf(notObject))).toBe('not_an_object');
    for (const noModel of ['{}', '{"messages":[]}', '{"model":42}', '{"model":""}', '{"model":null}'])
      expect(problemOf(buf(noModel))).toBe('no_model');
  });

  it('scans a large body without materialising it', () => {
    const image = 'A'.repeat(8 * 1024 * 1024);
    const raw = buf(
      JSON.stringify({
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${image}` } }] },
        ],
        model: 'vision',
        stream: true,
      }),
    );
    const body = readRequestBody(raw);
    expect([body.model, body.stream]).toEqual(['vision', true]);
    expect(withModel(body, 'gemma_3_12b_q4km').length).toBe(raw.length + 'gemma_3_12b_q4km'.length - 'vision'.length);
  });
});
