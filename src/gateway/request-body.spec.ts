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

describe('readRequestBody', () => {
  it('reads model and stream of a chat body', () => {
    const sut = readRequestBody(buf('{"model":"fast","messages":[{"role":"user","content":"Hi"}],"stream":true}'));
    expect([sut.model, sut.stream]).toEqual(['fast', true]);
  });

  it('takes stream as true only for the literal true', () => {
    for (const value of ['false', '"true"', '1', 'null']) {
      expect(readRequestBody(buf(`{"model":"m","stream":${value}}`)).stream).toBe(false);
    }
  });

  it('ignores model and stream keys nested below the top level', () => {
    const sut = readRequestBody(buf('{"messages":[{"model":"inner","stream":true}],"model":"outer"}'));
    expect([sut.model, sut.stream]).toEqual(['outer', false]);
  });

  it('accepts a byte-order mark and surrounding whitespace', () => {
    expect(readRequestBody(buf('\uFEFF \n{"model":"m"}\n')).model).toBe('m');
  });

  it('tells an empty body, invalid JSON, a non-object and a missing model apart', () => {
    expect(problemOf(undefined)).toBe('empty');
    expect(problemOf(buf(''))).toBe('empty');
    expect(problemOf(buf('  \n'))).toBe('empty');
    expect(problemOf(buf('{"model":'))).toBe('invalid_json');
    expect(problemOf(buf('{"model":"m"} x'))).toBe('invalid_json');
    expect(problemOf(buf('[1,2]'))).toBe('not_an_object');
    expect(problemOf(buf('"model"'))).toBe('not_an_object');
    expect(problemOf(buf('null'))).toBe('not_an_object');
    expect(problemOf(buf('{}'))).toBe('no_model');
    expect(problemOf(buf('{"model":""}'))).toBe('no_model');
    expect(problemOf(buf('{"model":7}'))).toBe('no_model');
  });
});

describe('withModel', () => {
  it('returns the very same bytes when model does not change', () => {
    const raw = buf('{ "model" : "m",   "max_tokens": 5 }');
    expect(withModel(readRequestBody(raw), 'm')).toBe(raw);
  });

  it('sets model in its place and keeps every other field as it was', () => {
    const body = { messages: [{ role: 'user', content: 'Hi ✓ "quoted" \\ back' }], model: 'gpt-4o', temperature: 0.25 };
    const out = withModel(readRequestBody(buf(JSON.stringify(body))), 'qwen3_4b_q4km').toString('utf8');
    expect(JSON.parse(out)).toEqual({ ...body, model: 'qwen3_4b_q4km' });
    expect(Object.keys(JSON.parse(out) as object)).toEqual(['messages', 'model', 'temperature']);
  });

  it('keeps one model key when the body had duplicates (the last one counted, as JSON.parse does)', () => {
    const sut = readRequestBody(buf('{"model":"a","x":1,"model":"b"}'));
    expect(sut.model).toBe('b');
    expect(withModel(sut, 'c').toString()).toBe('{"model":"c","x":1}');
  });
});
