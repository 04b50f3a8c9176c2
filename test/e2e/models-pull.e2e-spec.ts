/**
 * POST /api/models/pull/{modelName} over real HTTP against the Ollama fixture (API.md §3):
 * plain requests, SSE read by a real SSE client (fetch + eventsource-parser), errors before
 * and inside Ollama's NDJSON stream, and cancellation reaching Ollama.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import request from 'supertest';
import { createTestApp, TestApp } from '../support/create-test-app';
import { waitFor } from '../support/fixtures';
import { isErrorShape } from '../support/json';
import { startLmStudioFixture, type LmStudioFixture } from '../fixtures/lmstudio-fixture';
import { startOllamaFixture, type OllamaFixture } from '../fixtures/ollama-fixture';

interface SseResult {
  status: number;
  contentType: string | null;
  events: EventSourceMessage[];
  /** Parsed data of each event. */
  data: Array<Record<string, unknown>>;
  body: string;
}

/** POSTs a pull as an SSE client would and reads every event until the server ends the stream. */
async function ssePull(
  base: string,
  modelPath: string,
  opts: { signal?: AbortSignal; onEvent?: (e: EventSourceMessage) => void; headers?: Record<string, string> } = {},
): Promise<SseResult> {
  const res = await fetch(`${base}/api/models/pull/${modelPath}`, {
    method: 'POST',
    headers: { Accept: 'text/event-stream', ...opts.headers },
    signal: opts.signal,
  });
  const events: EventSourceMessage[] = [];
  let body = '';
  const parser = createParser({
    onEvent: (e) => {
      events.push(e);
      opts.onEvent?.(e);
    },
  });
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const text = decoder.decode(chunk, { stream: true });
    body += text;
    parser.feed(text);
  }
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    events,
    data: events.map((e) => JSON.parse(e.data) as Record<string, unknown>),
    body,
  };
}

const PROGRESS_KEYS = ['completed', 'digest', 'percent', 'status', 'total'];

let ollama: OllamaFixture;
let t: TestApp;

beforeAll(async () => {
  ollama = await startOllamaFixture({ pullDelayMs: 5 });
  t = await createTestApp({ env: { LLM_PROVIDER: 'ollama', OLLAMA_BASE_URL: ollama.url } });
});
afterAll(async () => {
  await t.close();
  await ollama.close();
});
afterEach(async () => {
  await ollama.setMode('up');
  ollama.setPullDelay(5);
});

describe('POST /api/models/pull/{modelName} as SSE', () => {
  it('streams each progress step as an unnamed event, then exactly one done event', async () => {
    const r = await ssePull(t.url, 'library/llama3.2:1b');
    expect(r.status).toBe(200);
    expect(r.contentType).toMatch(/^text\/event-stream/);
    const progress = r.events.filter((e) => !e.event);
    const closing = r.events.filter((e) => e.event);
    expect(closing).toHaveLength(1);
    expect(r.events[r.events.length - 1]).toBe(closing[0]);
    expect(closing[0].event).toBe('done');
    expect(JSON.parse(closing[0].data)).toEqual({ status: 'success', model: 'library/llama3.2:1b' });

    // The contract's stream has 8 lines; the last one (success) becomes the done event.
    expect(progress).toHaveLength(7);
    const steps = progress.map((e) => JSON.parse(e.data));
    for (const s of steps) expect(Object.keys(s).sort()).toEqual(PROGRESS_KEYS);
    expect(steps[0]).toEqual({ status: 'pulling manifest', digest: null, total: null, completed: null, percent: null });
    expect(steps[1]).toMatchObject({ total: 1321082688, completed: null, percent: 0 });
    expect(steps[2].percent).toBeGreaterThanOrEqual(0);
    expect(steps[2].percent).toBeLessThan(1);
    expect(steps[3]).toMatchObject({ completed: 1321082688, percent: 100 });
    expect(steps[3].digest).toMatch(/^sha256:/);
    expect(steps.map((s) => s.status)).toContain('verifying sha256 digest');

    const sent = ollama.requests.filter((q) => q.path === '/api/pull').pop()!;
    expect(sent.body).toEqual({ model: 'library/llama3.2:1b', stream: true });
    const models = await request(t.url).get('/api/models').expect(200);
    expect(models.body.models.map((m: { id: string }) => m.id)).toContain('library/llama3.2:1b');
  });

  it('ends with an error event, never done, when Ollama sends an error line mid-stream', async () => {
    const r = await ssePull(t.url, 'broken-model:1b');
    expect(r.status).toBe(200);
    expect(r.events.filter((e) => e.event === 'done')).toHaveLength(0);
    const last = r.events[r.events.length - 1];
    expect(last.event).toBe('error');
    expect(r.events.filter((e) => e.event === 'error')).toHaveLength(1);
    const data = JSON.parse(last.data);
    expect(Object.keys(data).sort()).toEqual(['error', 'message']);
    expect(data.error).toBe('UpstreamError');
    expect(data.message).toContain('max retries exceeded: unexpected EOF');
    expect(r.events.filter((e) => !e.event).length).toBeGreaterThan(0);
  });

  it("ends with an error event carrying Ollama's text for an unknown model", async () => {
    const r = await ssePull(t.url, 'no-such-model');
    expect(r.events).toHaveLength(1);
    expect(r.events[0].event).toBe('error');
    expect(JSON.parse(r.events[0].data)).toMatchObject({
      error: 'UpstreamError',
      message: expect.stringContaining('pull model manifest: file does not exist'),
    });
  });

  it('ends with an error event when Ollama cannot be reached', async () => {
    await ollama.setMode('down');
    const r = await ssePull(t.url, 'llama3.2:1b');
    expect(r.events).toHaveLength(1);
    expect(r.events[0].event).toBe('error');
    expect(JSON.parse(r.events[0].data)).toMatchObject({
      error: 'ProviderUnavailable',
      message: expect.stringMatching(/connection refused/),
    });
  });

  it('closes the request to Ollama when the client disconnects', async () => {
    ollama.setPullDelay(300);
    const before = ollama.pullAborted;
    const ctrl = new AbortController();
    const got: EventSourceMessage[] = [];
    await expect(
      ssePull(t.url, 'llama3.2:1b', {
        signal: ctrl.signal,
        onEvent: (e) => {
          got.push(e);
          ctrl.abort();
        },
      }),
    ).rejects.toThrow();
    expect(got).toHaveLength(1);
    await waitFor(() => ollama.pullAborted === before + 1, 5000, 20, 'Ollama sees the pull closed');
    await waitFor(() => ollama.pullsInFlight === 0, 5000, 20, 'no pull left open');
  });
});

describe('POST /api/models/pull/{modelName} as a plain request', () => {
  it('waits for the end and answers 200 success', async () => {
    const r = await request(t.url).post('/api/models/pull/library/qwen3:0.6b').expect(200);
    expect(r.body).toEqual({
      status: 'success',
      model: 'library/qwen3:0.6b',
      message: expect.stringContaining('library/qwen3:0.6b'),
    });
    expect(ollama.models.map((m) => m.name)).toContain('library/qwen3:0.6b');
  });

  it('takes a name with an encoded slash and colon as the same name', async () => {
    const r = await request(t.url).post('/api/models/pull/library%2Fgemma3%3A1b').expect(200);
    expect(r.body.model).toBe('library/gemma3:1b');
  });

  it('answers 502 UpstreamError, not success, for an error line after the 200', async () => {
    const r = await request(t.url).post('/api/models/pull/broken-thing').expect(502);
    expect(isErrorShape(r.body)).toBe(true);
    expect(r.body.error).toBe('UpstreamError');
    expect(r.body.message).toContain('max retries exceeded: unexpected EOF');
  });

  it("answers 502 with Ollama's own text when Ollama refuses", async () => {
    const r = await request(t.url).post('/api/models/pull/no-such-model:7b').expect(502);
    expect(r.body).toMatchObject({ error: 'UpstreamError', details: { upstreamStatus: 500 } });
    expect(r.body.message).toContain('pull model manifest: file does not exist');
  });

  it('answers 503 ProviderUnavailable when Ollama cannot be reached', async () => {
    await ollama.setMode('down');
    const r = await request(t.url).post('/api/models/pull/llama3.2:1b').expect(503);
    expect(r.body).toMatchObject({ error: 'ProviderUnavailable', details: { provider: 'ollama' } });
  });

  it('closes the request to Ollama when the client disconnects', async () => {
    ollama.setPullDelay(300);
    const before = ollama.pullAborted;
    const ctrl = new AbortController();
    const pending = fetch(`${t.url}/api/models/pull/llama3.2:3b`, { method: 'POST', signal: ctrl.signal });
    await waitFor(() => ollama.pullsInFlight === 1, 5000, 10, 'pull reached Ollama');
    ctrl.abort();
    await expect(pending).rejects.toThrow();
    await waitFor(() => ollama.pullAborted === before + 1, 5000, 20, 'Ollama sees the pull closed');
  });

  it('rejects a name that is not an Ollama model name', async () => {
    const r = await request(t.url).post('/api/models/pull/bad%20name!').expect(400);
    expect(r.body.error).toBe('ValidationFailed');
    expect(ollama.requests.some((q) => q.rawBody.includes('bad name'))).toBe(false);
  });
});

describe('providers other than Ollama', () => {
  let lmstudio: LmStudioFixture;
  const apps: TestApp[] = [];
  beforeAll(async () => {
    lmstudio = await startLmStudioFixture();
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await lmstudio.close();
  });

  it.each(['openai', 'lmstudio', 'llamacpp'])(
    'LLM_PROVIDER=%s → 400 UnsupportedProvider, also for SSE',
    async (provider) => {
      const app = await createTestApp({ env: { LLM_PROVIDER: provider, OLLAMA_BASE_URL: ollama.url } });
      apps.push(app);
      const before = ollama.hits['/api/pull'] ?? 0;
      const r = await request(app.url).post('/api/models/pull/llama3.2:1b').expect(400);
      expect(r.body).toMatchObject({ error: 'UnsupportedProvider', details: { provider, supported: ['ollama'] } });
      const s = await request(app.url)
        .post('/api/models/pull/llama3.2:1b')
        .set('Accept', 'text/event-stream')
        .expect(400);
      expect(s.headers['content-type']).toMatch(/json/);
      expect(s.body.error).toBe('UnsupportedProvider');
      expect(ollama.hits['/api/pull'] ?? 0).toBe(before);
    },
  );

  it('with auto: pulls when auto picks Ollama, 400 when it picks another, 503 when none is up', async () => {
    const toOllama = await createTestApp({ env: { LLM_PROVIDER: 'auto', OLLAMA_BASE_URL: ollama.url } });
    const toLmStudio = await createTestApp({
      env: { LLM_PROVIDER: 'auto', OLLAMA_BASE_URL: ollama.url, LMSTUDIO_BASE_URL: `${lmstudio.url}/v1` },
    });
    const toNone = await createTestApp({ env: { LLM_PROVIDER: 'auto' } });
    apps.push(toOllama, toLmStudio, toNone);
    await request(toOllama.url).post('/api/models/pull/llama3.2:1b').expect(200);
    const b = await request(toLmStudio.url).post('/api/models/pull/llama3.2:1b').expect(400);
    expect(b.body).toMatchObject({ error: 'UnsupportedProvider', details: { provider: 'lmstudio' } });
    const n = await request(toNone.url).post('/api/models/pull/llama3.2:1b').expect(503);
    expect(n.body).toMatchObject({
      error: 'ProviderUnavailable',
      message: expect.stringContaining('No providers available'),
    });
  });
});
