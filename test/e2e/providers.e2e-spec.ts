/**
 * The provider routes over real HTTP (API.md §3): /api/llm-status, /api/models,
 * /api/models/providers, /api/models/health, for every LLM_PROVIDER mode, against the
 * fixture servers and the llama-server stand-in on loopback.
 */
import request from 'supertest';
import { createTestApp, TestApp } from '../support/create-test-app';
import {
  createModelFile,
  freePort,
  spawnStandin,
  startLlamaStandin,
  stopAllStandins,
  type RunningStandin,
} from '../support/fixtures';
import { isErrorShape, nonCamelKeys } from '../support/json';
import { startLmStudioFixture, type LmStudioFixture } from '../fixtures/lmstudio-fixture';
import { startOllamaFixture, type OllamaFixture } from '../fixtures/ollama-fixture';
import { startOpenAiFixture, type OpenAiFixture } from '../fixtures/openai-fixture';
import type { Fixture } from '../fixtures/http-fixture';

const PROVIDERS = ['openai', 'lmstudio', 'ollama', 'llamacpp'];

let ollama: OllamaFixture;
let lmstudio: LmStudioFixture;
let openai: OpenAiFixture;
let llama: RunningStandin;
const apps: TestApp[] = [];

beforeAll(async () => {
  [ollama, lmstudio, openai, llama] = await Promise.all([
    startOllamaFixture(),
    startLmStudioFixture(),
    startOpenAiFixture(),
    startLlamaStandin({ alias: 'standin_a', env: { STANDIN_LOAD_MS: '0' } }),
  ]);
});
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await Promise.all([ollama.close(), lmstudio.close(), openai.close()]);
  await stopAllStandins();
});

/** Env with every provider pointed at its fixture. */
function allUp(): Record<string, string> {
  return {
    LMSTUDIO_BASE_URL: `${lmstudio.url}/v1`,
    OLLAMA_BASE_URL: ollama.url,
    LLAMACPP_BASE_URL: llama.url,
    OPENAI_BASE_URL: `${openai.url}/v1`,
    OPENAI_API_KEY: openai.apiKey,
  };
}

async function boot(env: Record<string, string>): Promise<TestApp> {
  const t = await createTestApp({ env });
  apps.push(t);
  return t;
}

async function getAll(t: TestApp) {
  const [status, models, providers, health] = await Promise.all([
    request(t.url).get('/api/llm-status'),
    request(t.url).get('/api/models'),
    request(t.url).get('/api/models/providers'),
    request(t.url).get('/api/models/health'),
  ]);
  for (const r of [status, models, providers, health]) expect(nonCamelKeys(r.body)).toEqual([]);
  return { status, models, providers, health };
}

const EXPECTED: Record<string, { model: string; ids: string[] }> = {
  openai: { model: 'gpt-4o-mini', ids: ['gpt-4o-mini', 'gpt-4o'] },
  lmstudio: { model: 'qwen2.5-7b-instruct', ids: ['qwen2.5-7b-instruct', 'text-embedding-nomic-embed-text-v1.5'] },
  ollama: { model: 'llama3.2:latest', ids: ['llama3.2:latest', 'qwen3:8b'] },
  llamacpp: { model: 'standin_a', ids: ['standin_a'] },
};

describe.each(PROVIDERS)('LLM_PROVIDER=%s with every provider up', (name) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await boot({ ...allUp(), LLM_PROVIDER: name });
  });

  it('reports that provider connected in every route', async () => {
    const { status, models, providers, health } = await getAll(t);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({
      provider: name,
      connected: true,
      modelName: EXPECTED[name].model,
      error: null,
    });
    expect(status.body.availableProviders).toEqual(PROVIDERS);
    expect(typeof status.body.metadata).toBe('object');

    expect(models.status).toBe(200);
    expect(models.body.provider).toBe(name);
    expect(models.body.models.map((m: { id: string }) => m.id)).toEqual(EXPECTED[name].ids);
    for (const m of models.body.models)
      expect(Object.keys(m).sort()).toEqual(['id', 'modifiedAt', 'name', 'provider', 'size']);
    expect(models.body.models.every((m: { provider: string }) => m.provider === name)).toBe(true);

    expect(providers.status).toBe(200);
    expect(providers.body.activeProvider).toBe(name);
    expect(providers.body.providers.map((p: { name: string }) => p.name)).toEqual(PROVIDERS);
    for (const p of providers.body.providers) {
      expect(Object.keys(p).sort()).toEqual(['baseUrl', 'connected', 'error', 'latencyMs', 'model', 'name']);
      expect(p).toMatchObject({ connected: true, error: null, model: EXPECTED[p.name].model });
    }

    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ provider: name, healthy: true, model: EXPECTED[name].model, error: null });
  });
});

describe('model details per provider', () => {
  it("carries Ollama's sizes and dates, its version in metadata", async () => {
    const t = await boot({ ...allUp(), LLM_PROVIDER: 'ollama' });
    const models = await request(t.url).get('/api/models').expect(200);
    expect(models.body.models[0]).toEqual({
      id: 'llama3.2:latest',
      name: 'llama3.2:latest',
      provider: 'ollama',
      size: 2019393189,
      modifiedAt: '2025-05-04T17:37:44.706015396-07:00',
    });
    const status = await request(t.url).get('/api/llm-status').expect(200);
    expect(status.body.metadata).toMatchObject({ version: '0.12.6', baseUrl: ollama.url });
  });
});

describe.each(PROVIDERS)('LLM_PROVIDER=%s with its provider unreachable', (name) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await boot({ LLM_PROVIDER: name });
  });

  it('reports it not connected without a 5xx, and /api/models is 503 ProviderUnavailable', async () => {
    const { status, models, providers, health } = await getAll(t);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ provider: name, connected: false, modelName: null });
    expect(status.body.error).toMatch(name === 'openai' ? /OPENAI_API_KEY is not set/ : /connection refused/);

    expect(models.status).toBe(503);
    expect(isErrorShape(models.body)).toBe(true);
    expect(models.body.error).toBe('ProviderUnavailable');
    expect(models.body.details.provider).toBe(name);

    expect(providers.status).toBe(200);
    expect(providers.body.activeProvider).toBe(name);
    expect(providers.body.providers).toHaveLength(4);
    expect(providers.body.providers.every((p: { connected: boolean }) => !p.connected)).toBe(true);

    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ provider: name, healthy: false, model: null });
    expect(health.body.error).toBe(status.body.error);
  });
});

describe('LLM_PROVIDER=auto', () => {
  it('picks OpenAI first when a key is set, LM Studio first without one', async () => {
    const withKey = await boot({ ...allUp(), LLM_PROVIDER: 'auto' });
    const a = await request(withKey.url).get('/api/llm-status').expect(200);
    expect(a.body).toMatchObject({ provider: 'openai', connected: true, modelName: 'gpt-4o-mini' });

    const { OPENAI_API_KEY: _, ...noKey } = allUp();
    const withoutKey = await boot({ ...noKey, LLM_PROVIDER: 'auto' });
    const b = await request(withoutKey.url).get('/api/llm-status').expect(200);
    expect(b.body).toMatchObject({ provider: 'lmstudio', connected: true, modelName: 'qwen2.5-7b-instruct' });
    const p = await request(withoutKey.url).get('/api/models/providers').expect(200);
    expect(p.body.activeProvider).toBe('lmstudio');
    expect(p.body.providers[0]).toMatchObject({ name: 'openai', connected: false, error: 'OPENAI_API_KEY is not set' });
  });

  describe('with providers going up and down', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await boot({ ...allUp(), LLM_PROVIDER: 'auto', OPENAI_VERIFY: 'true', PROVIDER_CACHE_MS: '0' });
    });
    afterEach(async () => {
      await Promise.all([openai.setMode('up'), lmstudio.setMode('up'), ollama.setMode('up')]);
    });

    const cases: Array<[string, Array<Fixture | 'openai' | 'lmstudio' | 'ollama'>, string, string]> = [
      ['all up', [], 'openai', 'gpt-4o'],
      ['OpenAI down', ['openai'], 'lmstudio', 'qwen2.5-7b-instruct'],
      ['OpenAI and LM Studio down', ['openai', 'lmstudio'], 'ollama', 'llama3.2:latest'],
      ['only llama.cpp up', ['openai', 'lmstudio', 'ollama'], 'llamacpp', 'standin_a'],
      ['LM Studio down only', ['lmstudio'], 'openai', 'gpt-4o'],
    ];
    it.each(cases)('%s → the first connected in the auto order', async (_, down, expected, firstModel) => {
      const fixtures = { openai, lmstudio, ollama } as Record<string, Fixture>;
      await Promise.all(down.map((d) => fixtures[d as string].setMode('down')));
      const { status, models, providers, health } = await getAll(t);
      expect(status.body).toMatchObject({ provider: expected, connected: true, error: null });
      expect(health.body).toMatchObject({ provider: expected, healthy: true });
      expect(providers.body.activeProvider).toBe(expected);
      for (const p of providers.body.providers) expect(p.connected).toBe(!down.includes(p.name));
      expect(models.status).toBe(200);
      expect(models.body.provider).toBe(expected);
      expect(models.body.models.map((m: { id: string }) => m.id)).toContain(firstModel);
    });
  });

  it('reports "No providers available" when nothing is up', async () => {
    const t = await boot({ LLM_PROVIDER: 'auto', OPENAI_API_KEY: 'sk-x', OPENAI_VERIFY: 'true' });
    const { status, models, providers, health } = await getAll(t);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({
      provider: 'auto',
      connected: false,
      modelName: null,
      error: 'No providers available',
    });
    expect(Object.keys(status.body.metadata.tried)).toEqual(PROVIDERS);
    expect(models.status).toBe(503);
    expect(models.body).toMatchObject({ error: 'ProviderUnavailable', details: { provider: 'auto' } });
    expect(models.body.message).toMatch(/No providers available/);
    expect(providers.body.activeProvider).toBe('auto');
    expect(providers.body.providers.map((p: { connected: boolean }) => p.connected)).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(health.body).toMatchObject({ provider: 'auto', healthy: false, error: 'No providers available' });
  });
});

describe('OpenAI', () => {
  it('is connected with a key without calling OpenAI unless OPENAI_VERIFY is set', async () => {
    openai.reset();
    const t = await boot({ ...allUp(), LLM_PROVIDER: 'openai' });
    const s = await request(t.url).get('/api/llm-status').expect(200);
    expect(s.body).toMatchObject({ connected: true, modelName: 'gpt-4o-mini', metadata: { verified: false } });
    expect(openai.hits['/v1/models'] ?? 0).toBe(0);
  });

  it('with OPENAI_VERIFY checks the key for real, and a wrong key is not connected', async () => {
    const good = await boot({ ...allUp(), LLM_PROVIDER: 'openai', OPENAI_VERIFY: 'true' });
    const s = await request(good.url).get('/api/llm-status').expect(200);
    expect(s.body).toMatchObject({ connected: true, metadata: { verified: true, modelAvailable: true } });

    const bad = await boot({
      ...allUp(),
      LLM_PROVIDER: 'openai',
      OPENAI_VERIFY: 'true',
      OPENAI_API_KEY: 'sk-wrong-key-0123456789',
    });
    const b = await request(bad.url).get('/api/llm-status').expect(200);
    expect(b.body.connected).toBe(false);
    expect(b.body.error).toMatch(/rejected the API key.*HTTP 401/);
    expect(JSON.stringify(b.body)).not.toContain('0123456789');
  });
});

describe('LM Studio', () => {
  it('is connected with no model when nothing is downloaded (native list as fingerprint)', async () => {
    const empty = await startLmStudioFixture({ v1Models: [], v0Models: [] });
    try {
      const t = await boot({ LLM_PROVIDER: 'lmstudio', LMSTUDIO_BASE_URL: `${empty.url}/v1` });
      const s = await request(t.url).get('/api/llm-status').expect(200);
      expect(s.body).toMatchObject({ provider: 'lmstudio', connected: true, modelName: null, error: null });
      expect(empty.hits['/api/v0/models']).toBe(1);
      const m = await request(t.url).get('/api/models').expect(200);
      expect(m.body).toEqual({ provider: 'lmstudio', models: [] });
    } finally {
      await empty.close();
    }
  });

  it('is not connected when an empty list comes from something that is not LM Studio', async () => {
    const emptyOllama = await startOllamaFixture({ models: [] }); // its /v1/models: {object: list, data: []}
    try {
      const t = await boot({ LLM_PROVIDER: 'lmstudio', LMSTUDIO_BASE_URL: `${emptyOllama.url}/v1` });
      const s = await request(t.url).get('/api/llm-status').expect(200);
      expect(s.body.connected).toBe(false);
      expect(s.body.error).toMatch(
        /unexpected answer .*an empty model list, and .*\/api\/v0\/models is not LM Studio's/,
      );
      expect(emptyOllama.hits['/api/v0/models']).toBe(1);
    } finally {
      await emptyOllama.close();
    }
  });
});

describe('llama.cpp', () => {
  it('is not connected while llama-server loads its model, with an error saying so', async () => {
    const port = await freePort();
    const model = createModelFile();
    const proc = spawnStandin(['-m', model, '--host', '127.0.0.1', '--port', String(port), '--alias', 'slow_loader'], {
      STANDIN_LOAD_MS: '60000',
    });
    await proc.waitForLine(/HTTP server is listening/);
    const t = await boot({ LLM_PROVIDER: 'llamacpp', LLAMACPP_BASE_URL: `http://127.0.0.1:${port}` });
    const { status, models, health } = await getAll(t);
    expect(status.body).toMatchObject({ provider: 'llamacpp', connected: false, modelName: null });
    expect(status.body.error).toMatch(/loading/i);
    expect(status.body.metadata.state).toBe('loading');
    expect(health.body.healthy).toBe(false);
    expect(models.status).toBe(503);
    expect(models.body.message).toMatch(/loading/i);
    await proc.stop(500);
  });

  it('accepts LLAMACPP_BASE_URL with a trailing /v1', async () => {
    const t = await boot({ LLM_PROVIDER: 'llamacpp', LLAMACPP_BASE_URL: `${llama.url}/v1/` });
    const s = await request(t.url).get('/api/llm-status').expect(200);
    expect(s.body).toMatchObject({ connected: true, modelName: 'standin_a' });
  });
});

describe('fingerprints: the wrong server or a web page is not connected', () => {
  it('rejects each provider URL pointing at another provider', async () => {
    const t = await boot({
      LLM_PROVIDER: 'auto',
      OPENAI_API_KEY: openai.apiKey,
      OPENAI_VERIFY: 'true',
      OPENAI_BASE_URL: `${lmstudio.url}/v1`, // LM Studio's list: owned_by organization_owner
      LMSTUDIO_BASE_URL: `${ollama.url}/v1`, // Ollama's OpenAI route: owned_by library
      OLLAMA_BASE_URL: llama.url, // llama-server answers /api/tags too
      LLAMACPP_BASE_URL: ollama.url,
    });
    const { status, providers } = await getAll(t);
    const byName = Object.fromEntries(providers.body.providers.map((p: { name: string }) => [p.name, p]));
    for (const name of PROVIDERS) {
      expect(byName[name].connected).toBe(false);
      expect(byName[name].error).toMatch(/unexpected answer/);
    }
    expect(byName.openai.error).toMatch(/LM Studio/);
    expect(byName.lmstudio.error).toMatch(/Ollama/);
    expect(byName.ollama.error).toMatch(/llama\.cpp/);
    expect(status.body).toMatchObject({ provider: 'auto', connected: false, error: 'No providers available' });
  });

  it.each([
    ['html', /HTML page/],
    ['malformed', /malformed JSON|not .*health/],
  ] as const)('rejects a server answering %s everywhere', async (mode, reason) => {
    const page = await startLmStudioFixture({ mode });
    try {
      const t = await boot({
        LLM_PROVIDER: 'auto',
        OPENAI_API_KEY: 'sk-anything',
        OPENAI_VERIFY: 'true',
        OPENAI_BASE_URL: `${page.url}/v1`,
        LMSTUDIO_BASE_URL: `${page.url}/v1`,
        OLLAMA_BASE_URL: page.url,
        LLAMACPP_BASE_URL: page.url,
      });
      const p = await request(t.url).get('/api/models/providers').expect(200);
      expect(p.body.activeProvider).toBe('auto');
      for (const prov of p.body.providers) {
        expect(prov.connected).toBe(false);
        expect(prov.error).toMatch(/unexpected answer/);
        expect(prov.error).toMatch(reason);
      }
      const m = await request(t.url).get('/api/models').expect(503);
      expect(m.body.error).toBe('ProviderUnavailable');
    } finally {
      await page.close();
    }
  });

  it('names the HTTP error an upstream answered with', async () => {
    const broken = await startOllamaFixture({ mode: 'error' });
    try {
      const t = await boot({ LLM_PROVIDER: 'ollama', OLLAMA_BASE_URL: broken.url });
      const s = await request(t.url).get('/api/llm-status').expect(200);
      expect(s.body.connected).toBe(false);
      expect(s.body.error).toMatch(/HTTP 500 .*internal server error/);
    } finally {
      await broken.close();
    }
  });
});

describe('timeouts', () => {
  it('answers /api/models/providers within about one timeout with every provider hanging', async () => {
    const hanging = await Promise.all([
      startOpenAiFixture(),
      startLmStudioFixture(),
      startOllamaFixture(),
      startLmStudioFixture(),
    ]);
    try {
      await Promise.all(hanging.map((f) => f.setMode('hang')));
      const [o, l, ol, ll] = hanging;
      const timeoutMs = 600;
      const t = await boot({
        LLM_PROVIDER: 'auto',
        PROVIDER_TIMEOUT_MS: String(timeoutMs),
        OPENAI_API_KEY: o.apiKey,
        OPENAI_VERIFY: 'true',
        OPENAI_BASE_URL: `${o.url}/v1`,
        LMSTUDIO_BASE_URL: `${l.url}/v1`,
        OLLAMA_BASE_URL: ol.url,
        LLAMACPP_BASE_URL: ll.url,
      });
      const started = Date.now();
      const p = await request(t.url).get('/api/models/providers').expect(200);
      const elapsed = Date.now() - started;
      expect(elapsed).toBeLessThan(3 * timeoutMs); // generous correctness bound; the precise ratio is in bench/
      expect(p.body.activeProvider).toBe('auto');
      for (const prov of p.body.providers) {
        expect(prov.connected).toBe(false);
        expect(prov.error).toMatch(/timed out after 600 ms/);
      }
      // The hanging requests were closed, not left open.
      const s = await request(t.url).get('/api/llm-status').expect(200);
      expect(s.body.error).toBe('No providers available');
    } finally {
      await Promise.all(hanging.map((f) => f.close()));
    }
  });
});

describe('timeouts of the model list', () => {
  it('answers /api/models with 503 once the listing times out', async () => {
    const hanging = await startOllamaFixture({ mode: 'hang' });
    try {
      const t = await boot({ LLM_PROVIDER: 'ollama', OLLAMA_BASE_URL: hanging.url, PROVIDER_TIMEOUT_MS: '400' });
      const started = Date.now();
      const r = await request(t.url).get('/api/models').expect(503);
      expect(Date.now() - started).toBeLessThan(1200);
      expect(r.body).toMatchObject({
        error: 'ProviderUnavailable',
        details: { provider: 'ollama', reason: 'listing models timed out after 400 ms' },
      });
    } finally {
      await hanging.close();
    }
  });
});

describe('cache and shared checks', () => {
  it('turns a burst of 20 concurrent calls into one upstream check per provider', async () => {
    const fx = await Promise.all([
      startOpenAiFixture({ delayMs: 300 }),
      startLmStudioFixture({ delayMs: 300 }),
      startOllamaFixture({ delayMs: 300 }),
    ]);
    const [o, l, ol] = fx;
    try {
      await Promise.all(fx.map((f) => f.setMode('slow')));
      const t = await boot({
        LLM_PROVIDER: 'auto',
        PROVIDER_CACHE_MS: '0', // no cache: only the in-flight sharing can merge the burst
        OPENAI_API_KEY: o.apiKey,
        OPENAI_VERIFY: 'true',
        OPENAI_BASE_URL: `${o.url}/v1`,
        LMSTUDIO_BASE_URL: `${l.url}/v1`,
        OLLAMA_BASE_URL: ol.url,
        LLAMACPP_BASE_URL: llama.url,
      });
      const routes = ['/api/models/providers', '/api/llm-status', '/api/models/health'];
      const res = await Promise.all(
        Array.from({ length: 20 }, (_, i) => request(t.url).get(routes[i % routes.length])),
      );
      expect(res.every((r) => r.status === 200)).toBe(true);
      expect(o.hits['/v1/models']).toBe(1);
      expect(l.hits['/v1/models']).toBe(1);
      expect(ol.hits['/api/tags']).toBe(1);
      expect(ol.hits['/api/version']).toBe(1);
    } finally {
      await Promise.all(fx.map((f) => f.close()));
    }
  });

  it('reuses a result for PROVIDER_CACHE_MS, then checks again', async () => {
    const f = await startOllamaFixture();
    try {
      const t = await boot({ LLM_PROVIDER: 'ollama', OLLAMA_BASE_URL: f.url, PROVIDER_CACHE_MS: '400' });
      for (let i = 0; i < 5; i++) await request(t.url).get('/api/llm-status').expect(200);
      expect(f.hits['/api/tags']).toBe(1);
      await new Promise((r) => setTimeout(r, 500));
      await request(t.url).get('/api/models/health').expect(200);
      expect(f.hits['/api/tags']).toBe(2);
    } finally {
      await f.close();
    }
  });
});

describe('auth', () => {
  it('needs a bearer token on every provider route when API_TOKENS is set', async () => {
    const t = await boot({ ...allUp(), LLM_PROVIDER: 'ollama', API_TOKENS: 'tok-a,tok-b' });
    for (const path of ['/api/llm-status', '/api/models', '/api/models/providers', '/api/models/health']) {
      const no = await request(t.url).get(path).expect(401);
      expect(no.body.error).toBe('Unauthorized');
      expect(no.headers['www-authenticate']).toBe('Bearer');
      await request(t.url).get(path).set('Authorization', 'Bearer wrong').expect(401);
      await request(t.url).get(path).set('Authorization', 'Bearer tok-b').expect(200);
    }
    const pull = await request(t.url).post('/api/models/pull/llama3.2:1b').expect(401);
    expect(pull.body.error).toBe('Unauthorized');
  });
});
