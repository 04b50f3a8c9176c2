import { contract } from '../../test/fixtures/http-fixture';
import { HTML_PAGE, MALFORMED_JSON } from '../../test/fixtures/http-fixture';
import {
  describeBody,
  readLiteLlmModels,
  readLlamaHealth,
  readLlamaModels,
  readLmStudioModels,
  readLmStudioNative,
  readOllamaTags,
  readOllamaVersion,
  readOpenAiModels,
} from './provider-answers';

/** An answer as the HTTP port hands it over, from a contract exchange. */
function answer(name: string): { status: number; json: unknown; text: string; headers: Record<string, string> } {
  const ex = contract(name);
  const text = typeof ex.response.body === 'string' ? ex.response.body : JSON.stringify(ex.response.body ?? '');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: ex.response.status, json, text, headers: { 'content-type': ex.response.headers['content-type'] } };
}

const html = { json: undefined, text: HTML_PAGE, headers: { 'content-type': 'text/html; charset=utf-8' } };
const malformed = {
  json: undefined,
  text: MALFORMED_JSON,
  headers: { 'content-type': 'application/json; charset=utf-8' },
};

describe('describeBody', () => {
  it('tells an HTML page, malformed JSON, text and other JSON apart', () => {
    expect(describeBody(html)).toBe('an HTML page');
    expect(describeBody(malformed)).toBe('malformed JSON');
    expect(
      describeBody({ json: undefined, text: 'Ollama is running', headers: { 'content-type': 'text/plain' } }),
    ).toBe('text that is not JSON');
    expect(describeBody({ json: { a: 1 }, text: '{"a":1}', headers: {} })).toBe('JSON of another shape');
    expect(describeBody({ json: undefined, text: '', headers: {} })).toBe('an empty body');
  });
});

describe('readOllamaTags / readOllamaVersion', () => {
  it("reads Ollama's tags and version", () => {
    const tags = readOllamaTags(answer('ollama/tags'));
    expect(tags).toEqual({
      ok: true,
      value: [
        { name: 'llama3.2:latest', size: 2019393189, modifiedAt: '2025-05-04T17:37:44.706015396-07:00' },
        { name: 'qwen3:8b', size: 5225388164, modifiedAt: '2025-06-11T09:12:01.118273311Z' },
      ],
    });
    expect(readOllamaVersion(answer('ollama/version'))).toEqual({ ok: true, value: '0.12.6' });
  });

  it("refuses llama-server's /api/tags (an OpenAI list beside the models) and its 404", () => {
    const llama = readOllamaTags(answer('llama-server/v1-models'));
    expect(llama).toEqual({ ok: false, reason: "llama.cpp's model list, not Ollama's" });
    expect(readOllamaVersion(answer('llama-server/unknown-route')).ok).toBe(false);
  });

  it('refuses HTML, malformed JSON and other lists', () => {
    expect(readOllamaTags(html)).toEqual({ ok: false, reason: "an HTML page, not Ollama's model list" });
    expect(readOllamaTags(malformed).ok).toBe(false);
    expect(readOllamaTags(answer('lmstudio/v1-models')).ok).toBe(false);
    expect(readOllamaTags({ json: { models: [{ name: 'x', size: '' }] }, text: '', headers: {} }).ok).toBe(false);
  });
});

describe('readLmStudioModels / readLmStudioNative', () => {
  it("reads LM Studio's list (owned_by organization_owner)", () => {
    const r = readLmStudioModels(answer('lmstudio/v1-models'));
    expect(r.ok && r.value?.map((m) => m.id)).toEqual(['qwen2.5-7b-instruct', 'text-embedding-nomic-embed-text-v1.5']);
  });

  it('says an empty list proves nothing, and reads the native list then', () => {
    expect(readLmStudioModels({ json: { data: [], object: 'list' }, text: '', headers: {} })).toEqual({
      ok: true,
      value: null,
    });
    const native = readLmStudioNative(answer('lmstudio/api-v0-models'));
    expect(native.ok && native.value).toEqual([
      { id: 'qwen2.5-7b-instruct', state: 'loaded' },
      { id: 'meta-llama-3.1-8b-instruct', state: 'not-loaded' },
    ]);
    expect(readLmStudioNative(answer('ollama/tags')).ok).toBe(false);
  });

  it('names the server that answered instead', () => {
    expect(readLmStudioModels(answer('ollama/v1-models'))).toEqual({
      ok: false,
      reason: "Ollama's model list, not LM Studio's",
    });
    expect(readLmStudioModels(answer('llama-server/v1-models'))).toEqual({
      ok: false,
      reason: "llama.cpp's model list, not LM Studio's",
    });
    expect(readLmStudioModels(answer('openai/v1-models'))).toEqual({
      ok: false,
      reason: "another server's model list, not LM Studio's",
    });
  });

  it("passes on LM Studio's own error for a wrong route", () => {
    const r = readLmStudioModels({
      json: { error: 'Unexpected endpoint or method. (GET /models)' },
      text: '',
      headers: {},
    });
    expect(r).toEqual({ ok: false, reason: 'LM Studio said: Unexpected endpoint or method. (GET /models)' });
  });
});

describe('readLlamaHealth / readLlamaModels', () => {
  it('reads ready and loading', () => {
    const ready = answer('llama-server/health-ready');
    const loading = answer('llama-server/health-loading');
    expect(readLlamaHealth(ready.status, ready)).toEqual({ ok: true, value: { state: 'ready' } });
    expect(readLlamaHealth(loading.status, loading)).toEqual({ ok: true, value: { state: 'loading' } });
  });

  it('refuses a 404, an HTML page and a 200 of another shape', () => {
    const nope = answer('llama-server/unknown-route');
    expect(readLlamaHealth(nope.status, nope).ok).toBe(false);
    expect(readLlamaHealth(200, html)).toEqual({
      ok: false,
      reason: "HTTP 200 with an HTML page, not llama.cpp's health answer",
    });
    expect(readLlamaHealth(200, answer('ollama/tags')).ok).toBe(false);
  });

  it("reads llama-server's models with their sizes and refuses others", () => {
    const r = readLlamaModels(answer('llama-server/v1-models'));
    expect(r).toEqual({
      ok: true,
      value: [{ id: 'tinyllama_a', ownedBy: 'llamacpp', created: 1795390905, size: 16680192 }],
    });
    expect(readLlamaModels(answer('lmstudio/v1-models'))).toEqual({
      ok: false,
      reason: "LM Studio's model list, not llama.cpp's",
    });
    expect(readLlamaModels({ json: { object: 'list', data: [] }, text: '', headers: {} }).ok).toBe(false);
  });
});

describe('readOpenAiModels / readLiteLlmModels', () => {
  it("reads OpenAI's list and refuses local servers' lists", () => {
    const r = readOpenAiModels(answer('openai/v1-models'));
    expect(r.ok && r.value.map((m) => m.id)).toEqual(['gpt-4o-mini', 'gpt-4o']);
    expect(readOpenAiModels(answer('lmstudio/v1-models')).ok).toBe(false);
    expect(readOpenAiModels(answer('llama-server/v1-models')).ok).toBe(false);
    expect(readOpenAiModels(malformed).ok).toBe(false);
  });

  it("reads LiteLLM's list and refuses its 401 body", () => {
    const r = readLiteLlmModels(answer('litellm/v1-models'));
    expect(r.ok && r.value).toEqual([
      { id: 'gpt-4o', created: 1677610602, ownedBy: 'openai' },
      { id: 'gpt-4o-mini', created: 1677610602, ownedBy: 'openai' },
      { id: 'claude-sonnet', created: 1677610602, ownedBy: 'openai' },
    ]);
    expect(readLiteLlmModels(answer('litellm/v1-models-no-key')).ok).toBe(false);
  });
});
