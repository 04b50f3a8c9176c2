/**
 * MAGI against a real llama-server, not the stand-in: the fleet's start, readiness, crash
 * restart, load failure and shutdown, and the gateway's routing, streaming, slot release
 * and token metrics, all on llama.cpp's own binary and output. Not part of `npm test`
 * (CI cannot build llama.cpp); run with `npm run test:real` and
 *
 *   LLAMA_SERVER_PATH=<llama-server binary>  LLAMA_TEST_MODEL=<a small .gguf that loads>
 *
 * (README "Against a real llama-server" says how to get both offline).
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import OpenAI from 'openai';
import { TestApp, createTestApp, makeTestDirs } from '../support/create-test-app';
import { freePortRange, httpRequest, isPidAlive, waitFor } from '../support/fixtures';
import { writeGgufFile } from '../support/gguf-writer';
import { BINARY, MODEL } from './real-binary';

interface Server {
  modelId: string;
  port: number | null;
  pid: number | null;
  state: string;
  restarts: number;
  lastError: string | null;
}

jest.setTimeout(120_000);

describe('MAGI on a real llama-server', () => {
  let t: TestApp;
  let modelId: string;
  let openai: OpenAI;

  const servers = async (): Promise<Server[]> =>
    (await httpRequest(`${t.url}/api/models/servers`)).json<{ servers: Server[] }>().servers;
  const server = async (id = modelId): Promise<Server> => (await servers()).find((s) => s.modelId === id)!;
  /** A gateway counter of this model in /metrics (0 before its first sample). */
  const counter = async (name: string): Promise<number> =>
    Number(
      new RegExp(`${name}\\{model="${modelId}"\\} (\\d+)`).exec((await httpRequest(`${t.url}/metrics`)).body)?.[1] ?? 0,
    );
  const slots = async (port: number): Promise<Array<{ id: number; is_processing: boolean }>> =>
    (await httpRequest(`http://127.0.0.1:${port}/slots`)).json();

  beforeAll(async () => {
    const dirs = makeTestDirs('magi-real-');
    copyFileSync(MODEL, join(dirs.models, basename(MODEL)));
    // A header that reads as a model but has no tensor data: llama-server must fail to load it.
    await writeGgufFile(join(dirs.models, 'broken-1B-Q4_K_M.gguf'), {
      architecture: 'llama',
      name: 'broken 1B',
      basename: 'broken',
      sizeLabel: '1B',
      fileType: 15,
      vocabSize: 0,
      parameterCount: 1e9,
    });
    writeFileSync(
      join(dirs.profiles, 'real.yaml'),
      "name: real\nenabledModels: ['*']\naliases: {gpt-4o-mini: fast}\n" +
        'loadBalancing: {enabled: true, strategy: round_robin, healthCheckInterval: 30}\nserver: {parallel: 2, ctxSize: 4096}\n',
    );
    const ports = await freePortRange(6);
    t = await createTestApp({
      dirs,
      env: {
        LLAMA_SERVER_PATH: BINARY,
        ACTIVE_PROFILE: 'real',
        PORT_RANGE: `${ports[0]}-${ports[1]}`,
        READINESS_CHECK_INTERVAL: '0.1',
        MAX_STARTUP_TIME: '60',
        FLEET_BACKOFF_INITIAL_MS: '200',
        FLEET_BACKOFF_MAX_MS: '1000',
        FLEET_STOP_GRACE_SECONDS: '5',
      },
    });
    openai = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const ready = await waitFor(
      async () => (await servers()).find((s) => s.state === 'ready'),
      60_000,
      100,
      'a ready server',
    );
    modelId = ready.modelId;
  });

  let closed = false;
  afterAll(async () => {
    if (!closed) await t?.close();
  });

  it('reports the model whose file does not load as failed, with llama-server’s reason', async () => {
    const broken = await waitFor(
      async () => {
        const s = (await servers()).find((x) => x.modelId.startsWith('broken'));
        return s && s.state === 'failed' ? s : null;
      },
      60_000,
      100,
      'broken model failed',
    );
    expect(broken.lastError).toMatch(/load/i);
    // The good one is unaffected.
    expect((await server()).state).toBe('ready');
  });

  it('answers chat by alias and by tier, and completions by id, through the openai client', async () => {
    const byAlias = await openai.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 })
      .withResponse();
    expect(byAlias.response.headers.get('x-magi-model')).toBe(modelId);
    expect(byAlias.data.usage?.completion_tokens).toBe(4);
    expect(typeof byAlias.data.choices[0].message.content).toBe('string');

    const stream = await openai.chat.completions.create({
      model: 'fast',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 6,
      stream: true,
      stream_options: { include_usage: true },
    });
    const deltas: string[] = [];
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta?.content) deltas.push(chunk.choices[0].delta.content);
      if (chunk.usage) usage = chunk.usage;
    }
    expect(deltas.length).toBeGreaterThan(1);
    expect(usage?.completion_tokens).toBe(6);

    const completion = await openai.completions.create({ model: modelId, prompt: 'Once upon a time', max_tokens: 3 });
    expect(completion.usage?.completion_tokens).toBe(3);

    expect(await counter('magi_gateway_completion_tokens_total')).toBe(4 + 6 + 3);
  });

  it('streams back to back with no retry and no error, though llama-server closes the connection after each stream', async () => {
    const before = await counter('magi_gateway_retries_total');
    const body = { model: modelId, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, stream: true };
    const statuses = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const seen: number[] = [];
        for (let i = 0; i < 25; i++)
          seen.push((await httpRequest(`${t.url}/v1/chat/completions`, { body, timeoutMs: 30_000 })).status);
        return seen;
      }),
    );
    expect(statuses.flat()).toEqual(Array(100).fill(200));
    expect(await counter('magi_gateway_retries_total')).toBe(before);
  });

  it('frees the llama-server slot as soon as a streaming client goes away', async () => {
    const { port } = await server();
    const abort = new AbortController();
    const stream = await openai.chat.completions.create(
      // long enough to still be generating when the client leaves
      {
        model: modelId,
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 2000,
        stream: true,
        ignore_eos: true,
      } as OpenAI.ChatCompletionCreateParamsStreaming,
      { signal: abort.signal },
    );
    let chunks = 0;
    let busyWhenLeaving = false;
    try {
      for await (const _ of stream) {
        if (++chunks === 5) {
          busyWhenLeaving = (await slots(port!)).some((s) => s.is_processing);
          abort.abort();
        }
      }
    } catch {
      // the abort, as the SDK reports it
    }
    expect(busyWhenLeaving).toBe(true);
    expect(chunks).toBeLessThan(2000);
    await waitFor(
      async () => (await slots(port!)).every((s) => !s.is_processing),
      200,
      10,
      'every slot idle within 200 ms',
    );
  });

  it('restarts a llama-server that is killed, and the gateway routes to the new one', async () => {
    const before = await server();
    process.kill(before.pid!, 'SIGKILL');
    const after = await waitFor(
      async () => {
        const s = await server();
        return s.state === 'ready' && s.pid !== before.pid ? s : null;
      },
      60_000,
      100,
      'restarted and ready',
    );
    expect(after.restarts).toBe(before.restarts + 1);
    const answer = await openai.chat.completions
      .create({ model: modelId, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 })
      .withResponse();
    expect(answer.response.headers.get('x-magi-upstream')).toBe(String(after.port));
  });

  it('stops every llama-server when MAGI shuts down', async () => {
    const pids = (await servers()).map((s) => s.pid).filter((p): p is number => p !== null);
    expect(pids.length).toBeGreaterThan(0);
    closed = true;
    await t.close();
    for (const pid of pids) expect(isPidAlive(pid)).toBe(false);
  });
});
