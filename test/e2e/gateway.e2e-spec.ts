/**
 * The OpenAI-compatible gateway over real HTTP (API.md §8): the real app on a fleet of
 * llama-server stand-ins (LLAMA_SERVER_PATH), a profile with aliases and a strategy,
 * and the LiteLLM fixture for the fallback. The official `openai` client drives the same
 * flows at the end.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import OpenAI from 'openai';
import { Forwarder } from '../../src/gateway/forwarder';
import { startLiteLlmFixture, type LiteLlmFixture } from '../fixtures/litellm-fixture';
import { TestApp, TestDirs, createTestApp, makeTestDirs } from '../support/create-test-app';
import { STANDIN_PATH, freePortRange, httpRequest, waitFor } from '../support/fixtures';
import { writeGgufFile } from '../support/gguf-writer';

const TOKEN = 'gw-test-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };

// ---------------------------------------------------------------- helpers

interface Model {
  name: string;
  billions: number;
}

const idOf = (m: Model): string => `${m.name}_${m.billions}b_q4km`;

async function writeModels(dirs: TestDirs, models: Model[]): Promise<void> {
  for (const m of models) {
    await writeGgufFile(join(dirs.models, `${m.name}-${m.billions}B-Q4_K_M.gguf`), {
      architecture: 'llama',
      name: `${m.name} ${m.billions}B`,
      basename: m.name,
      sizeLabel: `${m.billions}B`,
      fileType: 15,
      vocabSize: 0,
      parameterCount: m.billions * 1e9,
    });
  }
}

interface ProfileDoc {
  name: string;
  enabledModels: string[];
  loadBalancing?: { enabled: boolean; strategy: string; healthCheckInterval: number };
  server?: Record<string, unknown>;
  aliases?: Record<string, string>;
}

interface Env {
  t: TestApp;
  url: string;
  events(): string[];
  close(): Promise<void>;
}

/** Boots the app on stand-ins: `standin` switches by alias (STANDIN_CONFIG), events in a file. */
async function startGatewayApp(opts: {
  models: Model[];
  profile: ProfileDoc;
  standin?: Record<string, Record<string, string | number>>;
  env?: Record<string, string>;
}): Promise<Env> {
  const dirs = makeTestDirs('magi-gateway-');
  await writeModels(dirs, opts.models);
  writeFileSync(join(dirs.profiles, 'gateway.yaml'), yaml.dump(opts.profile));
  const stateFile = join(dirs.root, 'standin-events.log');
  const configFile = join(dirs.root, 'standin-config.json');
  writeFileSync(stateFile, '');
  writeFileSync(configFile, JSON.stringify(opts.standin ?? {}));
  // The fleet's children inherit this process's environment.
  process.env.STANDIN_STATE_FILE = stateFile;
  process.env.STANDIN_CONFIG = configFile;
  const ports = await freePortRange(opts.models.length + 4);
  const t = await createTestApp({
    dirs,
    env: {
      LLAMA_SERVER_PATH: STANDIN_PATH,
      ACTIVE_PROFILE: 'gateway',
      PORT_RANGE: `${ports[0]}-${ports[1]}`,
      READINESS_CHECK_INTERVAL: '0.1',
      MAX_STARTUP_TIME: '120',
      FLEET_BACKOFF_INITIAL_MS: '30000',
      FLEET_BACKOFF_MAX_MS: '60000',
      FLEET_STOP_GRACE_SECONDS: '2',
      API_TOKENS: TOKEN,
      ...opts.env,
    },
  });
  return {
    t,
    url: t.url,
    events: () => readFileSync(stateFile, 'utf8').split('\n').filter(Boolean),
    async close() {
      await t.close();
      delete process.env.STANDIN_STATE_FILE;
      delete process.env.STANDIN_CONFIG;
    },
  };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json<T = any>(): T;
}

function post(url: string, body: unknown, headers: Record<string, string> = AUTH): Promise<Answer> {
  return httpRequest(url, { method: 'POST', body, headers, timeoutMs: 30000 });
}

function get(url: string, headers: Record<string, string> = AUTH): Promise<Answer> {
  return httpRequest(url, { method: 'GET', headers, timeoutMs: 10000 });
}

const chat = (model: string, extra: Record<string, unknown> = {}) => ({
  model,
  messages: [{ role: 'user', content: 'Say hello.' }],
  max_tokens: 0,
  ...extra,
});

/** An SSE request whose chunks are recorded with their arrival time as they come. */
interface OpenStream {
  res: Promise<http.IncomingMessage>;
  chunks: Array<{ at: number; text: string }>;
  /** Resolves with the first `data:` event that carries generated content. */
  firstContent: Promise<{ at: number; text: string }>;
  done: Promise<string>;
  destroy(): void;
}

function openStream(url: string, body: unknown): OpenStream {
  const payload = JSON.stringify(body);
  const chunks: Array<{ at: number; text: string }> = [];
  let onFirst!: (c: { at: number; text: string }) => void;
  const firstContent = new Promise<{ at: number; text: string }>((r) => (onFirst = r));
  let onRes!: (r: http.IncomingMessage) => void;
  let onDone!: (s: string) => void;
  let onErr!: (e: Error) => void;
  const res = new Promise<http.IncomingMessage>((r, j) => {
    onRes = r;
    onErr = j;
  });
  const done = new Promise<string>((r) => (onDone = r));
  const req = http.request(
    url,
    {
      method: 'POST',
      agent: false,
      headers: { ...AUTH, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) },
    },
    (r) => {
      onRes(r);
      r.setEncoding('utf8');
      let all = '';
      r.on('data', (text: string) => {
        const c = { at: Date.now(), text };
        chunks.push(c);
        all += text;
        if (/"content":"[^"]+"|"text":"[^"]+"/.test(text)) onFirst(c);
      });
      r.on('end', () => onDone(all));
      r.on('error', () => onDone(all));
      r.on('close', () => onDone(all));
    },
  );
  req.on('error', (e) => {
    onErr(e);
    onDone('');
  });
  req.end(payload);
  return { res, chunks, firstContent, done, destroy: () => req.destroy() };
}

/** `data:` payloads of an SSE body, `[DONE]` included. */
function sseData(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => l.slice(6));
}

function isOpenAiError(body: unknown, code: string): boolean {
  const e = (body as { error?: Record<string, unknown> })?.error;
  return !!e && typeof e.message === 'string' && typeof e.type === 'string' && 'param' in e && e.code === code;
}

/** Sum of a Prometheus series' samples whose labels include all of `labels`. */
async function metric(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = (await get(`${url}/metrics`, {})).body;
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.split(' ').pop());
  }
  return sum;
}

async function servers(url: string): Promise<Array<{ modelId: string; port: number; pid: number; state: string }>> {
  return (await get(`${url}/api/models/servers`)).json().servers;
}

function countBy<T>(items: T[]): Map<T, number> {
  const m = new Map<T, number>();
  for (const i of items) m.set(i, (m.get(i) ?? 0) + 1);
  return m;
}

// ---------------------------------------------------------------- the fleet

const FAST = [
  { name: 'alpha', billions: 1 },
  { name: 'bravo', billions: 1 },
  { name: 'charlie', billions: 1 },
];
const DELTA = { name: 'delta', billions: 8 }; // balanced, slow chunks (streaming tests)
const GOLF = { name: 'golf', billions: 9 }; // balanced, resets every generation request
const INDIA = { name: 'india', billions: 20 }; // powerful, never finishes loading
const KILO = { name: 'kilo', billions: 2 }; // in the registry, not in the profile
const RUNNING = [...FAST, DELTA, GOLF, INDIA];

function profileDoc(strategy: string): ProfileDoc {
  return {
    name: 'gateway',
    enabledModels: RUNNING.map(idOf),
    loadBalancing: { enabled: true, strategy, healthCheckInterval: 30 },
    server: { parallel: 2 },
    aliases: { 'gpt-4o-mini': idOf(FAST[0]), 'gpt-4o': 'balanced' },
  };
}

describe('OpenAI-compatible gateway on a fleet of stand-ins', () => {
  let env: Env;
  let url: string;
  const ports = new Map<string, number>();
  const modelOfPort = (port: string | string[] | undefined): string => {
    for (const [id, p] of ports) if (String(p) === String(port)) return id;
    return `?${String(port)}`;
  };
  const setStrategy = async (strategy: string): Promise<void> => {
    const res = await httpRequest(`${url}/api/models/profiles/gateway`, {
      method: 'PUT',
      body: profileDoc(strategy),
      headers: AUTH,
    });
    expect(res.status).toBe(200);
  };

  beforeAll(async () => {
    env = await startGatewayApp({
      models: [...RUNNING, KILO],
      profile: profileDoc('round_robin'),
      standin: {
        '*': { LOAD_MS: 50, CHUNK_DELAY_MS: 20, CHUNKS: 5 },
        [idOf(FAST[0])]: { ECHO: 1, CHUNKS: 100 },
        // closes each connection 5 ms after a stream: long enough for a reuse to meet it
        [idOf(FAST[1])]: { STREAM_CLOSE_MS: 5 },
        [idOf(DELTA)]: { CHUNK_DELAY_MS: 300, CHUNKS: 5 },
        [idOf(GOLF)]: { CLOSE_CONNECTIONS: 1 },
        [idOf(INDIA)]: { LOAD_MS: 600000 },
      },
      env: { GATEWAY_QUEUE_TIMEOUT: '0.5', GATEWAY_MAX_BODY_MB: '1' },
    });
    url = env.url;
    await waitFor(
      async () => (await servers(url)).filter((s) => s.state === 'ready').length === 5,
      20000,
      50,
      'five ready servers',
    );
    for (const s of await servers(url)) ports.set(s.modelId, s.port);
  }, 40000);

  afterAll(async () => env?.close());

  describe('routing', () => {
    it('routes a model id to its server, with the model replaced by the server alias', async () => {
      const res = await post(`${url}/v1/chat/completions`, chat(idOf(FAST[1])));
      expect(res.status).toBe(200);
      expect(res.headers['x-magi-model']).toBe(idOf(FAST[1]));
      expect(res.headers['x-magi-upstream']).toBe(String(ports.get(idOf(FAST[1]))));
      expect(res.headers['x-standin-port']).toBe(res.headers['x-magi-upstream']);
      expect(res.json()).toMatchObject({ object: 'chat.completion', model: idOf(FAST[1]) });
    });

    it('routes an alias of the active profile to the model id it names', async () => {
      const res = await post(`${url}/v1/chat/completions`, chat('gpt-4o-mini'));
      expect([res.status, res.headers['x-magi-model']]).toEqual([200, idOf(FAST[0])]);
    });

    it('routes an alias naming a tier, and a tier, to a ready server of that tier', async () => {
      const byAlias = await post(`${url}/v1/chat/completions`, chat('gpt-4o'));
      expect([byAlias.status, byAlias.headers['x-magi-model']]).toEqual([200, idOf(DELTA)]);
      const byTier = await post(`${url}/v1/completions`, { model: 'fast', prompt: 'Once', max_tokens: 2 });
      expect(byTier.status).toBe(200);
      expect(FAST.map(idOf)).toContain(byTier.headers['x-magi-model']);
      expect(byTier.json()).toMatchObject({ object: 'text_completion', model: byTier.headers['x-magi-model'] });
    });

    it('sends the body through unchanged except model', async () => {
      const body = {
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Hi ✓' }],
        max_tokens: 1,
        temperature: 0.25,
        seed: 7,
        custom_field: { a: [1, 2] },
      };
      const res = await post(`${url}/v1/chat/completions`, body);
      expect(res.status).toBe(200);
      // alpha's stand-in echoes what it received (STANDIN_ECHO)
      expect(res.json().standin_request).toEqual({ ...body, model: idOf(FAST[0]) });
    });
  });

  describe('strategies over three servers of a tier', () => {
    afterAll(() => setStrategy('round_robin'));

    it('round_robin: exactly even', async () => {
      await setStrategy('round_robin');
      const served: string[] = [];
      for (let i = 0; i < 9; i++) {
        const res = await post(`${url}/v1/chat/completions`, chat('fast'));
        expect(res.status).toBe(200);
        served.push(String(res.headers['x-magi-model']));
      }
      expect([...countBy(served).entries()].sort()).toEqual(FAST.map((m) => [idOf(m), 3]));
      // in turn: each window of three has all three
      for (let i = 0; i < 9; i += 3) expect(new Set(served.slice(i, i + 3)).size).toBe(3);
    });

    it('least_loaded: never the server held busy by a slow streaming request, the others in turn', async () => {
      await setStrategy('least_loaded');
      const busy = idOf(FAST[0]);
      // 100 tokens 20 ms apart: busy for two seconds
      const stream = openStream(`${url}/v1/chat/completions`, chat(busy, { stream: true, max_tokens: 100 }));
      await stream.firstContent;
      const served: string[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await post(`${url}/v1/chat/completions`, chat('fast'));
        expect(res.status).toBe(200);
        served.push(String(res.headers['x-magi-model']));
      }
      const ended = stream.chunks.some((c) => c.text.includes('[DONE]'));
      stream.destroy();
      await stream.done;
      expect(ended).toBe(false); // the stream was still running during all six
      expect([...countBy(served).entries()].sort()).toEqual([
        [idOf(FAST[1]), 3],
        [idOf(FAST[2]), 3],
      ]);
    });

    it('random: roughly even', async () => {
      await setStrategy('random');
      const served: string[] = [];
      for (let i = 0; i < 60; i++) {
        const res = await post(`${url}/v1/chat/completions`, chat('fast'));
        expect(res.status).toBe(200);
        served.push(String(res.headers['x-magi-model']));
      }
      const counts = countBy(served);
      for (const m of FAST) {
        // 60 draws over 3: expected 20, sd ≈ 3.7
        expect(counts.get(idOf(m)) ?? 0).toBeGreaterThanOrEqual(7);
        expect(counts.get(idOf(m)) ?? 0).toBeLessThanOrEqual(33);
      }
    });
  });

  describe('streaming', () => {
    it('passes each chunk through as the server writes it (first chunk before the last is written)', async () => {
      const doneEvents = () => env.events().filter((l) => l.startsWith('done ') && l.includes(`alias=${idOf(DELTA)}`));
      const doneBefore = doneEvents().length;
      const stream = openStream(`${url}/v1/chat/completions`, chat(idOf(DELTA), { stream: true, max_tokens: 5 }));
      const res = await stream.res;
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
      expect(res.headers['x-magi-model']).toBe(idOf(DELTA));
      const first = await stream.firstContent;
      // At that moment the stand-in is still generating: its slot is busy and it has not finished.
      const slots = (await get(`http://127.0.0.1:${ports.get(idOf(DELTA))}/slots`, {})).json();
      expect(slots.some((s: { is_processing: boolean }) => s.is_processing)).toBe(true);
      const body = await stream.done;
      // The stand-in records `done` once its answer is written, which may be just after the client saw the end.
      await waitFor(async () => doneEvents().length > doneBefore, 5000, 10, 'the done event of this request');
      const doneEvent = doneEvents()[doneBefore];
      const doneAt = Number(/ t=(\d+)/.exec(doneEvent)![1]);
      expect(first.at).toBeLessThan(doneAt);
      // Chunks arrived separately, over time — not as one buffered block at the end.
      const contentChunks = stream.chunks.filter((c) => c.text.includes('"content":"'));
      expect(contentChunks.length).toBeGreaterThanOrEqual(4);
      expect(contentChunks[contentChunks.length - 1].at).toBeGreaterThan(contentChunks[0].at);
      const data = sseData(body);
      expect(data[data.length - 1]).toBe('[DONE]');
      expect(JSON.parse(data[1])).toMatchObject({ object: 'chat.completion.chunk', model: idOf(DELTA) });
    });

    it('aborts the upstream request when the client disconnects, freeing the slot at once', async () => {
      const port = ports.get(idOf(DELTA));
      const stream = openStream(`${url}/v1/chat/completions`, chat(idOf(DELTA), { stream: true, max_tokens: 5 }));
      await stream.firstContent;
      const busy = (await get(`http://127.0.0.1:${port}/slots`, {})).json();
      expect(busy.some((s: { is_processing: boolean }) => s.is_processing)).toBe(true);
      const before = env.events().filter((l) => l.startsWith('disconnect ') && l.includes(`port=${port}`)).length;
      stream.destroy();
      // 300 ms between chunks: freed well before the next one would have been written.
      await waitFor(
        async () =>
          (await get(`http://127.0.0.1:${port}/slots`, {}))
            .json()
            .every((s: { is_processing: boolean }) => !s.is_processing),
        2000,
        10,
        'slot freed',
      );
      expect(env.events().filter((l) => l.startsWith('disconnect ') && l.includes(`port=${port}`)).length).toBe(
        before + 1,
      );
      await waitFor(
        async () => (await metric(url, 'magi_gateway_requests_in_flight', { model: idOf(DELTA) })) === 0,
        2000,
        20,
        'in-flight 0',
      );
    });

    it('never sends a request on a connection the server closes after each stream (as llama-server does): no retry, no error', async () => {
      const model = idOf(FAST[1]);
      const retriesBefore = await metric(url, 'magi_gateway_retries_total', { model });
      // 4 clients, each starting its next stream the moment the last one ended: the
      // moment a reused connection would be the one the server is closing.
      const statuses = await Promise.all(
        Array.from({ length: 4 }, async () => {
          const seen: number[] = [];
          for (let i = 0; i < 12; i++)
            seen.push((await post(`${url}/v1/chat/completions`, chat(model, { stream: true, max_tokens: 1 }))).status);
          return seen;
        }),
      );
      expect(statuses.flat()).toEqual(Array(48).fill(200));
      expect(await metric(url, 'magi_gateway_retries_total', { model })).toBe(retriesBefore);
    });

    it('counts prompt and completion tokens from the final usage chunk of a stream', async () => {
      const model = idOf(FAST[2]);
      const before = await metric(url, 'magi_gateway_completion_tokens_total', { model });
      const res = await post(
        `${url}/v1/chat/completions`,
        chat(model, { stream: true, max_tokens: 3, stream_options: { include_usage: true } }),
      );
      expect(res.status).toBe(200);
      expect(sseData(res.body).some((d) => d.includes('"usage"'))).toBe(true);
      expect(await metric(url, 'magi_gateway_completion_tokens_total', { model })).toBe(before + 3);
    });
  });

  describe('failures', () => {
    it('retries a reset connection once on another ready server of the target', async () => {
      const retriesBefore = await metric(url, 'magi_gateway_retries_total', { model: idOf(GOLF) });
      const served: string[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await post(`${url}/v1/chat/completions`, chat('balanced'));
        expect(res.status).toBe(200);
        served.push(String(res.headers['x-magi-model']));
      }
      expect(new Set(served)).toEqual(new Set([idOf(DELTA)]));
      expect(await metric(url, 'magi_gateway_retries_total', { model: idOf(GOLF) })).toBe(retriesBefore + 2);
    });

    it('is 502 upstream_unavailable in OpenAI shape when no server of the target can be reached', async () => {
      const res = await post(`${url}/v1/chat/completions`, chat(idOf(GOLF)));
      expect(res.status).toBe(502);
      expect(isOpenAiError(res.json(), 'upstream_unavailable')).toBe(true);
      expect(res.headers['x-magi-model']).toBe(idOf(GOLF));
      expect(res.headers['x-magi-upstream']).toBe(String(ports.get(idOf(GOLF))));
    });

    it('routes around a server whose process was killed between two requests', async () => {
      const victim = (await servers(url)).find((s) => s.modelId === idOf(FAST[1]))!;
      process.kill(victim.pid, 'SIGKILL');
      const served: string[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await post(`${url}/v1/chat/completions`, chat('fast'));
        expect(res.status).toBe(200);
        served.push(String(res.headers['x-magi-model']));
      }
      expect(served).not.toContain(victim.modelId);
      expect(new Set(served)).toEqual(new Set([idOf(FAST[0]), idOf(FAST[2])]));
      // its keep-alive pool is closed once the fleet sees it go
      const forwarder = env.t.app.get(Forwarder);
      await waitFor(() => !forwarder.origins().includes(`http://127.0.0.1:${victim.port}`), 2000, 20, 'pool dropped');
      expect(forwarder.origins()).toContain(`http://127.0.0.1:${ports.get(idOf(FAST[0]))}`);
    });

    it('retries a refused connection on another ready server (a port that stopped listening)', async () => {
      const victim = idOf(FAST[2]);
      const port = ports.get(victim)!;
      expect((await httpRequest(`http://127.0.0.1:${port}/standin/unlisten`, { method: 'POST' })).status).toBe(200);
      await waitFor(
        () =>
          httpRequest(`http://127.0.0.1:${port}/health`, { timeoutMs: 500 }).then(
            () => false,
            (e) => e.code === 'ECONNREFUSED',
          ),
        2000,
        20,
        'port refuses',
      );
      const before = await metric(url, 'magi_gateway_retries_total', { model: victim });
      const upstreams: string[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await post(`${url}/v1/chat/completions`, chat('fast'));
        expect(res.status).toBe(200);
        upstreams.push(modelOfPort(res.headers['x-magi-upstream']));
      }
      // The fleet still lists it as ready; every request that picked it went elsewhere.
      expect((await servers(url)).find((s) => s.modelId === victim)!.state).toBe('ready');
      expect(upstreams).not.toContain(victim);
      expect(await metric(url, 'magi_gateway_retries_total', { model: victim })).toBeGreaterThanOrEqual(before + 1);
      const direct = await post(`${url}/v1/chat/completions`, chat(victim));
      expect([direct.status, isOpenAiError(direct.json(), 'upstream_unavailable')]).toEqual([502, true]);
    });

    it('is 503 with Retry-After when every server of the target is still starting', async () => {
      const res = await post(`${url}/v1/chat/completions`, chat('powerful'));
      expect(res.status).toBe(503);
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(isOpenAiError(res.json(), 'model_not_ready')).toBe(true);
      const byId = await post(`${url}/v1/chat/completions`, chat(idOf(INDIA)));
      expect([byId.status, byId.headers['retry-after']]).toEqual([503, expect.any(String)]);
    });

    it('is 503 model_not_running for a known model that does not run', async () => {
      const res = await post(`${url}/v1/chat/completions`, chat(idOf(KILO)));
      expect(res.status).toBe(503);
      expect(isOpenAiError(res.json(), 'model_not_running')).toBe(true);
      expect(res.json().error.message).toContain('not in the active profile');
      const emb = await post(`${url}/v1/embeddings`, { model: idOf(FAST[0]), input: 'x' });
      expect([emb.status, isOpenAiError(emb.json(), 'model_not_running')]).toEqual([503, true]);
    });

    it('is 404 model_not_found in OpenAI shape for an unknown model', async () => {
      const res = await post(`${url}/v1/chat/completions`, chat('gpt-5-turbo'));
      expect(res.status).toBe(404);
      expect(isOpenAiError(res.json(), 'model_not_found')).toBe(true);
      expect(res.json().error.type).toBe('invalid_request_error');
    });

    it('is 401 invalid_api_key in OpenAI shape without a token', async () => {
      const res = await post(`${url}/v1/chat/completions`, chat('fast'), {});
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(isOpenAiError(res.json(), 'invalid_api_key')).toBe(true);
    });

    it('is 400 for a body that is not JSON or names no model, and 413 above GATEWAY_MAX_BODY_MB', async () => {
      const bad = await post(`${url}/v1/chat/completions`, '{"model": ', {
        ...AUTH,
        'content-type': 'application/json',
      });
      expect(bad.status).toBe(400);
      expect(bad.json().error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_json' });
      const noModel = await post(`${url}/v1/chat/completions`, { messages: [] });
      expect([noModel.status, noModel.json().error.type]).toEqual([400, 'invalid_request_error']);
      const big = await post(`${url}/v1/chat/completions`, chat('fast', { pad: 'x'.repeat(1_200_000) }));
      expect(big.status).toBe(413);
      expect(isOpenAiError(big.json(), 'payload_too_large')).toBe(true);
    });

    it("passes the upstream's own 4xx through with its status and body", async () => {
      const res = await post(`${url}/v1/chat/completions`, { model: idOf(FAST[0]) });
      expect(res.status).toBe(400);
      expect(res.json()).toEqual({
        error: { code: 400, message: "'messages' is required", type: 'invalid_request_error' },
      });
      expect(res.headers['x-magi-model']).toBe(idOf(FAST[0]));
    });
  });

  describe('the gateway routes over HTTP', () => {
    /** Sends `chunks` one write at a time with chunked transfer encoding (no Content-Length). */
    const sendChunked = (path: string, chunks: Buffer[], headers: Record<string, string>): Promise<Answer> =>
      new Promise((resolve, reject) => {
        const req = http.request(
          `${url}${path}`,
          { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json', ...headers } },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (body += d));
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) }),
            );
          },
        );
        req.on('error', reject);
        for (const c of chunks) req.write(c);
        req.end();
      });
    /** A fast-tier model whose server is ready now (the failure tests above kill and unlisten some). */
    const readyFast = async (): Promise<string> => {
      let id = '';
      await waitFor(
        async () => {
          const ready = (await servers(url)).filter(
            (s) => s.state === 'ready' && FAST.some((f) => idOf(f) === s.modelId),
          );
          for (const s of ready) {
            if ((await post(`${url}/v1/chat/completions`, chat(s.modelId))).status === 200) {
              id = s.modelId;
              return true;
            }
          }
          return false;
        },
        20000,
        100,
        'a ready fast server',
      );
      return id;
    };

    it('serves the routes with a query string and in their other spellings the same way', async () => {
      const model = await readyFast();
      for (const path of ['/v1/chat/completions?trace=1', '/v1/chat/completions/', '/V1/Chat/Completions']) {
        const res = await post(`${url}${path}`, chat(model));
        expect([path, res.status, res.headers['x-magi-model'], res.json().object]).toEqual([
          path,
          200,
          model,
          'chat.completion',
        ]);
        const denied = await post(`${url}${path}`, chat(model), {});
        expect([path, denied.status, isOpenAiError(denied.json(), 'invalid_api_key')]).toEqual([path, 401, true]);
      }
    });

    it('reads a chunked body of many writes whole, and answers 413 once a chunked body passes the limit', async () => {
      const model = await readyFast();
      const body = Buffer.from(JSON.stringify(chat(model, { user: 'u'.repeat(200_000) })));
      const parts = Array.from({ length: 50 }, (_, i) =>
        body.subarray(Math.floor((i * body.length) / 50), Math.floor(((i + 1) * body.length) / 50)),
      );
      const ok = await sendChunked('/v1/chat/completions', parts, {});
      expect([ok.status, ok.headers['x-magi-model']]).toEqual([200, model]);
      const big = await sendChunked(
        '/v1/chat/completions',
        Array.from({ length: 12 }, () => Buffer.alloc(100_000, 0x20)),
        {},
      );
      expect(big.status).toBe(413);
      expect(isOpenAiError(big.json(), 'payload_too_large')).toBe(true);
      // the connection's next request is still answered
      expect((await post(`${url}/v1/chat/completions`, chat(model))).status).toBe(200);
    });

    it('forwards nothing for a client that leaves halfway through its body, and keeps serving', async () => {
      const model = await readyFast();
      const requests = await metric(url, 'magi_gateway_requests_total', { model });
      const body = Buffer.from(JSON.stringify(chat(model)));
      const { port } = new URL(url);
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => {
          socket.write(
            `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: ${AUTH.authorization}\r\n` +
              `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
          );
          socket.write(body.subarray(0, body.length >> 1), () => setTimeout(() => socket.destroy(), 100));
        });
        socket.on('close', () => resolve());
        socket.on('error', reject);
      });
      await new Promise((r) => setTimeout(r, 200));
      // not forwarded, not counted as a request (it never became one), and MAGI still answers
      expect(await metric(url, 'magi_gateway_requests_total', { model })).toBe(requests);
      const res = await post(`${url}/v1/chat/completions`, chat(model));
      expect([res.status, res.headers['x-magi-model']]).toEqual([200, model]);
      expect(await metric(url, 'magi_gateway_requests_total', { model })).toBe(requests + 1);
    });

    it('is 415 for a compressed body, which it does not inflate', async () => {
      const res = await sendChunked('/v1/chat/completions', [Buffer.from('not really gzip')], {
        'content-encoding': 'gzip',
      });
      expect(res.status).toBe(415);
      expect(isOpenAiError(res.json(), 'unsupported_content_encoding')).toBe(true);
    });

    it('counts its requests in magi_http_request_duration_seconds under the route template', async () => {
      const model = await readyFast();
      const labels = { method: 'POST', route: '/v1/chat/completions', status: '200' };
      const before = await metric(url, 'magi_http_request_duration_seconds_count', labels);
      for (let i = 0; i < 3; i++)
        expect((await post(`${url}/v1/chat/completions?i=${i}`, chat(model))).status).toBe(200);
      expect(await metric(url, 'magi_http_request_duration_seconds_count', labels)).toBe(before + 3);
      // Every spelling is answered by the gateway listener, never by Express (which would
      // label a 401 refused before routing `unmatched`).
      const unauthorized = { ...labels, status: '401' };
      const denied = await metric(url, 'magi_http_request_duration_seconds_count', unauthorized);
      for (const path of ['/v1/chat/completions', '/v1/chat/completions/', '/V1/Chat/Completions?x=1'])
        await post(`${url}${path}`, chat(model), {});
      expect(await metric(url, 'magi_http_request_duration_seconds_count', unauthorized)).toBe(denied + 3);
    });
  });

  describe('metrics', () => {
    it('has requests, errors, in-flight, latency and tokens per model in /metrics', async () => {
      const model = idOf(FAST[0]);
      const requests = await metric(url, 'magi_gateway_requests_total', { model, endpoint: 'chat', status: '200' });
      const prompt = await metric(url, 'magi_gateway_prompt_tokens_total', { model });
      const latency = await metric(url, 'magi_gateway_request_duration_seconds_count', { model });
      const res = await post(`${url}/v1/chat/completions`, chat(model, { max_tokens: 2 }));
      expect(res.status).toBe(200);
      const usage = res.json().usage;
      expect(await metric(url, 'magi_gateway_requests_total', { model, endpoint: 'chat', status: '200' })).toBe(
        requests + 1,
      );
      expect(await metric(url, 'magi_gateway_prompt_tokens_total', { model })).toBe(prompt + usage.prompt_tokens);
      expect(await metric(url, 'magi_gateway_completion_tokens_total', { model })).toBeGreaterThanOrEqual(2);
      expect(await metric(url, 'magi_gateway_request_duration_seconds_count', { model })).toBe(latency + 1);
      expect(await metric(url, 'magi_gateway_errors_total', { code: 'model_not_found' })).toBeGreaterThanOrEqual(1);
      expect(await metric(url, 'magi_gateway_errors_total', { code: 'upstream_error', model })).toBeGreaterThanOrEqual(
        1,
      );
      const text = (await get(`${url}/metrics`, {})).body;
      expect(text).toContain(`magi_gateway_requests_in_flight{model="${model}"} 0`);
      // A slow stream (300 ms between chunks) is in flight while it runs, and counted once when done.
      const slow = idOf(DELTA);
      const slowDone = await metric(url, 'magi_gateway_requests_total', {
        model: slow,
        endpoint: 'chat',
        status: '200',
      });
      const stream = openStream(`${url}/v1/chat/completions`, chat(slow, { stream: true, max_tokens: 3 }));
      await stream.firstContent;
      expect(await metric(url, 'magi_gateway_requests_in_flight', { model: slow })).toBe(1);
      await stream.done;
      await waitFor(
        async () => (await metric(url, 'magi_gateway_requests_in_flight', { model: slow })) === 0,
        2000,
        20,
        'in-flight back to 0',
      );
      expect(await metric(url, 'magi_gateway_requests_total', { model: slow, endpoint: 'chat', status: '200' })).toBe(
        slowDone + 1,
      );
      expect(text).not.toContain('gpt-5-turbo'); // labels are model ids, never raw requested names
    });
  });

  describe('OpenAPI document', () => {
    it('documents the three routes under the openai tag with request and answer examples', async () => {
      const doc = (await get(`${url}/docs-json`, {})).json();
      for (const path of ['/v1/chat/completions', '/v1/completions', '/v1/embeddings']) {
        const op = doc.paths[path].post;
        expect(op.tags).toEqual(['openai']);
        expect(Object.keys(op.requestBody.content['application/json'].examples ?? {}).length).toBeGreaterThan(0);
        expect(op.responses['200'].content['application/json'].example).toBeDefined();
        expect(op.responses['200'].headers).toHaveProperty('X-Magi-Model');
        for (const status of ['401', '404', '502', '503']) expect(op.responses[status]).toBeDefined();
      }
      expect(doc.paths['/v1/chat/completions'].post.responses['200'].content['text/event-stream'].example).toContain(
        'data: [DONE]',
      );
      expect(doc.components.schemas.ChatCompletionRequestDto.properties).toHaveProperty('messages');
    });
  });

  describe('with the official openai client', () => {
    let client: OpenAI;
    beforeAll(() => {
      client = new OpenAI({ baseURL: `${url}/v1`, apiKey: TOKEN, maxRetries: 0, timeout: 20000 });
    });

    it('creates a chat completion by alias', async () => {
      const completion = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Hi' }],
        max_tokens: 3,
      });
      expect(completion.model).toBe(idOf(FAST[0]));
      expect(completion.choices[0].message.content).toBe(' The quick brown');
      expect(completion.usage?.completion_tokens).toBe(3);
    });

    it('streams a chat completion by tier', async () => {
      const stream = await client.chat.completions.create({
        model: 'balanced',
        messages: [{ role: 'user', content: 'Hi' }],
        max_tokens: 3,
        stream: true,
      });
      let text = '';
      let chunks = 0;
      for await (const chunk of stream) {
        chunks++;
        text += chunk.choices[0]?.delta?.content ?? '';
      }
      expect(text).toBe(' The quick brown');
      expect(chunks).toBeGreaterThanOrEqual(4);
    });

    it('creates a completion by model id', async () => {
      const completion = await client.completions.create({ model: idOf(FAST[0]), prompt: 'Once upon', max_tokens: 2 });
      expect(completion.choices[0].text).toBe(' The quick');
    });

    it('surfaces a 404 as NotFoundError with the message and code', async () => {
      const err = await client.chat.completions
        .create({ model: 'no-such-model', messages: [{ role: 'user', content: 'Hi' }] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
      expect((err as Error).message).toContain("'no-such-model'");
    });

    it('surfaces a missing key as AuthenticationError', async () => {
      const anon = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'wrong', maxRetries: 0 });
      await expect(
        anon.chat.completions.create({ model: 'fast', messages: [{ role: 'user', content: 'Hi' }] }),
      ).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    });
  });
});

describe('gateway fallback to LiteLLM, and embeddings', () => {
  const LIMA = { name: 'lima', billions: 1 };
  let env: Env;
  let url: string;
  let litellm: LiteLlmFixture;

  beforeAll(async () => {
    litellm = await startLiteLlmFixture();
    env = await startGatewayApp({
      models: [LIMA],
      profile: {
        name: 'gateway',
        enabledModels: [idOf(LIMA)],
        server: { embeddings: true },
        aliases: { 'text-embedding-3-small': idOf(LIMA), sonnet: 'claude-sonnet' },
      },
      standin: { '*': { LOAD_MS: 50 } },
      env: { LITELLM_BASE_URL: `${litellm.url}/v1`, LITELLM_API_KEY: litellm.apiKey },
    });
    url = env.url;
    await waitFor(async () => (await servers(url)).every((s) => s.state === 'ready'), 20000, 50, 'lima ready');
  }, 40000);

  afterAll(async () => {
    await env?.close();
    await litellm?.close();
  });

  it('forwards an unknown model to LiteLLM unchanged, with its key instead of the client token', async () => {
    litellm.reset();
    const raw = '{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}],  "max_tokens":5}';
    const res = await post(`${url}/v1/chat/completions`, raw, { ...AUTH, 'content-type': 'application/json' });
    expect(res.status).toBe(200);
    expect(res.headers['x-fixture']).toBe('litellm');
    expect(res.headers['x-magi-upstream']).toBe('litellm');
    expect(res.headers['x-magi-model']).toBe('gpt-4o');
    const seen = litellm.requests.find((r) => r.path === '/v1/chat/completions')!;
    expect(seen.rawBody).toBe(raw);
    expect(seen.headers.authorization).toBe(`Bearer ${litellm.apiKey}`);
  });

  it('streams LiteLLM answers through', async () => {
    const res = await post(`${url}/v1/chat/completions`, {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(sseData(res.body).pop()).toBe('[DONE]');
  });

  it('sends an alias naming a LiteLLM model there under that name, and passes LiteLLM errors through', async () => {
    litellm.reset();
    const res = await post(`${url}/v1/chat/completions`, {
      model: 'sonnet',
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(res.status).toBe(200);
    expect((litellm.requests[0].body as { model: string }).model).toBe('claude-sonnet');
    const unknown = await post(`${url}/v1/chat/completions`, { model: 'not-at-litellm', messages: [] });
    expect(unknown.status).toBe(400);
    expect(unknown.json().error.message).toContain('Invalid model name');
  });

  it('routes embeddings to a server of a profile with embeddings: true, and not chat', async () => {
    const res = await post(`${url}/v1/embeddings`, { model: 'text-embedding-3-small', input: ['a', 'b'] });
    expect(res.status).toBe(200);
    expect(res.headers['x-magi-model']).toBe(idOf(LIMA));
    expect(res.json().data).toHaveLength(2);
    const chatRes = await post(`${url}/v1/chat/completions`, chat(idOf(LIMA)));
    expect([chatRes.status, isOpenAiError(chatRes.json(), 'model_not_running')]).toEqual([503, true]);
  });

  it('is 502 upstream_unavailable when LiteLLM cannot be reached', async () => {
    await litellm.setMode('down');
    try {
      const res = await post(`${url}/v1/chat/completions`, { model: 'gpt-4o', messages: [] });
      expect(res.status).toBe(502);
      expect(isOpenAiError(res.json(), 'upstream_unavailable')).toBe(true);
    } finally {
      await litellm.setMode('up');
    }
  });
});

describe('gateway queue', () => {
  const MIKE = { name: 'mike', billions: 1 };
  let env: Env | undefined;

  afterAll(async () => env?.close());

  it('holds a request for a server that is still starting and answers it from that server once it is ready', async () => {
    env = await startGatewayApp({
      models: [MIKE],
      profile: { name: 'gateway', enabledModels: [idOf(MIKE)] },
      standin: { '*': { LOAD_MS: 2000 } },
      env: { GATEWAY_QUEUE_TIMEOUT: '30' },
    });
    expect((await servers(env.url)).map((s) => s.state)).toEqual(['starting']);
    const res = await post(`${env.url}/v1/chat/completions`, chat(idOf(MIKE)));
    const [server] = await servers(env.url);
    expect(server.state).toBe('ready');
    expect([res.status, res.headers['x-magi-model'], res.headers['x-magi-upstream'], res.json().object]).toEqual([
      200,
      idOf(MIKE),
      String(server.port),
      'chat.completion',
    ]);
  }, 40000);
});
