/**
 * Parsers of the providers' answers: each reads one provider's JSON and recognises it by its
 * fingerprint (test/fixtures/contracts/README.md, "Fingerprints"). A port that answers something
 * else — another provider, a captive portal's HTML page, truncated JSON — is "unexpected
 * answer", never a false "connected". Pure functions.
 */
import type { HttpResponse } from '../common/io/http-client';

export type Verdict<T> = { ok: true; value: T } | { ok: false; reason: string };

type Answer = Pick<HttpResponse, 'json' | 'text' | 'headers'>;
type Obj = Record<string, unknown>;

const ok = <T>(value: T): Verdict<T> => ({ ok: true, value });
const no = <T>(reason: string): Verdict<T> => ({ ok: false, reason });
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Owner names other servers put in `/v1/models`, to say who actually answered. */
const OWNERS: Record<string, string> = {
  llamacpp: 'llama.cpp',
  organization_owner: 'LM Studio',
  library: 'Ollama',
};

/** What the body is when it is not the expected JSON, for the error text. */
export function describeBody(res: Answer): string {
  const type = res.headers['content-type'] ?? '';
  const text = res.text.trimStart();
  if (/html/i.test(type) || /^<(!doctype|html)/i.test(text)) return 'an HTML page';
  if (!text) return 'an empty body';
  if (res.json === undefined) return /json/i.test(type) ? 'malformed JSON' : 'text that is not JSON';
  return 'JSON of another shape';
}

function otherOwner(data: unknown[]): string | null {
  for (const m of data) {
    const owner = isObj(m) ? m.owned_by : undefined;
    if (typeof owner === 'string' && OWNERS[owner]) return OWNERS[owner];
  }
  return null;
}

export interface OllamaTag {
  name: string;
  size: number | null;
  modifiedAt: string | null;
}

/** Ollama's `GET /api/tags`: `{models: [{name, size: <bytes>, modified_at, digest}]}` and nothing OpenAI-like beside it. */
export function readOllamaTags(res: Answer): Verdict<OllamaTag[]> {
  const j = res.json;
  if (!isObj(j) || !Array.isArray(j.models)) return no(`${describeBody(res)}, not Ollama's model list`);
  // llama-server answers /api/tags too, with an OpenAI `data` list beside `models` and empty sizes.
  if (Array.isArray(j.data)) return no(`${otherOwner(j.data) ?? 'another server'}'s model list, not Ollama's`);
  const out: OllamaTag[] = [];
  for (const m of j.models) {
    if (!isObj(m) || typeof m.name !== 'string' || typeof m.size !== 'number' || typeof m.digest !== 'string') {
      return no("a model list whose entries are not Ollama's");
    }
    out.push({
      name: m.name,
      size: m.size,
      modifiedAt: typeof m.modified_at === 'string' && m.modified_at ? m.modified_at : null,
    });
  }
  return ok(out);
}

/** Ollama's `GET /api/version`: `{version: "0.12.6"}`. */
export function readOllamaVersion(res: Answer): Verdict<string> {
  const j = res.json;
  if (isObj(j) && typeof j.version === 'string' && /^\d+\.\d+/.test(j.version)) return ok(j.version);
  return no(`${describeBody(res)}, not Ollama's version`);
}

export interface ListedModel {
  id: string;
  ownedBy: string | null;
  created: number | null;
  /** Bytes (llama.cpp's `meta.size`). */
  size: number | null;
}

function openAiList(res: Answer, who: string): Verdict<Obj[]> {
  const j = res.json;
  if (!isObj(j)) return no(`${describeBody(res)}, not ${who}'s model list`);
  if (typeof j.error === 'string') return no(`${who} said: ${j.error}`);
  if (!Array.isArray(j.data) || (j.object !== undefined && j.object !== 'list'))
    return no(`${describeBody(res)}, not ${who}'s model list`);
  if (!j.data.every((m) => isObj(m) && typeof m.id === 'string'))
    return no(`a model list whose entries are not ${who}'s`);
  return ok(j.data as Obj[]);
}

const toListed = (m: Obj): ListedModel => ({
  id: m.id as string,
  ownedBy: typeof m.owned_by === 'string' ? m.owned_by : null,
  created: typeof m.created === 'number' ? m.created : null,
  size: isObj(m.meta) && typeof m.meta.size === 'number' ? m.meta.size : null,
});

/**
 * LM Studio's OpenAI-compatible `GET /v1/models`: every entry `owned_by: "organization_owner"`.
 * An empty list carries no fingerprint (`value: null`); the caller then asks `/api/v0/models`.
 */
export function readLmStudioModels(res: Answer): Verdict<ListedModel[] | null> {
  const list = openAiList(res, 'LM Studio');
  if (!list.ok) return list;
  if (list.value.length === 0) return ok(null);
  if (list.value.every((m) => m.owned_by === 'organization_owner')) return ok(list.value.map(toListed));
  return no(`${otherOwner(list.value) ?? 'another server'}'s model list, not LM Studio's`);
}

/** LM Studio's native `GET /api/v0/models`: `{object: "list", data: [{id, state: loaded|not-loaded}]}`. */
export function readLmStudioNative(res: Answer): Verdict<Array<{ id: string; state: string }>> {
  const j = res.json;
  const isEntry = (m: unknown): boolean =>
    isObj(m) && typeof m.id === 'string' && (m.state === 'loaded' || m.state === 'not-loaded');
  if (isObj(j) && j.object === 'list' && Array.isArray(j.data) && j.data.every(isEntry)) {
    return ok((j.data as Obj[]).map((m) => ({ id: m.id as string, state: m.state as string })));
  }
  return no(`${describeBody(res)}, not LM Studio's native model list`);
}

/** llama-server's `GET /v1/models`: entries `owned_by: "llamacpp"`. */
export function readLlamaModels(res: Answer): Verdict<ListedModel[]> {
  const list = openAiList(res, 'llama.cpp');
  if (!list.ok) return list;
  if (list.value.length > 0 && list.value.every((m) => m.owned_by === 'llamacpp')) return ok(list.value.map(toListed));
  return no(`${otherOwner(list.value) ?? 'another server'}'s model list, not llama.cpp's`);
}

export type LlamaHealth = { state: 'ready' } | { state: 'loading' } | { state: 'unavailable'; message: string };

/** llama-server's `GET /health`: 200 `{status: "ok"}`, 503 `{error: {message: "Loading model", type: "unavailable_error"}}`. */
export function readLlamaHealth(status: number, res: Answer): Verdict<LlamaHealth> {
  const j = res.json;
  if (status === 200 && isObj(j) && j.status === 'ok') return ok({ state: 'ready' });
  if (isObj(j) && isObj(j.error) && typeof j.error.message === 'string' && typeof j.error.type === 'string') {
    if (status === 503 && /loading model/i.test(j.error.message)) return ok({ state: 'loading' });
    if (status === 503) return ok({ state: 'unavailable', message: j.error.message });
  }
  return no(`HTTP ${status} with ${describeBody(res)}, not llama.cpp's health answer`);
}

/** OpenAI's `GET /models`: `{object: "list", data: [{id, owned_by: "system"|"openai"|…}]}`. */
export function readOpenAiModels(res: Answer): Verdict<ListedModel[]> {
  const list = openAiList(res, 'OpenAI');
  if (!list.ok) return list;
  const other = otherOwner(list.value);
  if (other) return no(`${other}'s model list, not OpenAI's`);
  return ok(list.value.map(toListed));
}

/** LiteLLM's `GET /v1/models` (the models behind `/v1/models`): an OpenAI list, entries kept as LiteLLM sent them. */
export function readLiteLlmModels(
  res: Answer,
): Verdict<Array<{ id: string; created: number | null; ownedBy: string | null }>> {
  const list = openAiList(res, 'LiteLLM');
  if (!list.ok) return list;
  return ok(
    list.value.map((m) => ({ id: m.id as string, created: toListed(m).created, ownedBy: toListed(m).ownedBy })),
  );
}
