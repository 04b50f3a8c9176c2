/**
 * GET /v1/models over real HTTP (API.md §7) in each source mode — litellm, cache, fallback,
 * fleet — with the LiteLLM fixture's hit counts for the cache, and a fleet of llama-server
 * stand-ins for the fleet's own models.
 */
import request from 'supertest';
import { createTestApp, TestApp } from '../support/create-test-app';
import { waitFor } from '../support/fixtures';
import { startLiteLlmFixture, type LiteLlmFixture } from '../fixtures/litellm-fixture';
import { FleetApp, idOf, startFleetApp, waitForServers } from './fleet.helpers';

jest.setTimeout(60000);

const LITELLM_IDS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet'];

function expectOpenAiList(body: any): string[] {
  expect(body.object).toBe('list');
  expect(Array.isArray(body.data)).toBe(true);
  for (const m of body.data) {
    // `status` only on fleet models (API.md §9).
    expect(
      Object.keys(m)
        .filter((k) => k !== 'status')
        .sort(),
    ).toEqual(['created', 'id', 'object', 'owned_by']);
    expect(m.object).toBe('model');
    expect(Number.isInteger(m.created)).toBe(true);
    expect(typeof m.owned_by).toBe('string');
  }
  const ids = body.data.map((m: { id: string }) => m.id);
  expect(new Set(ids).size).toBe(ids.length);
  return ids;
}

describe('with LiteLLM', () => {
  let litellm: LiteLlmFixture;
  const apps: TestApp[] = [];
  beforeEach(async () => {
    litellm = await startLiteLlmFixture({ delayMs: 200 });
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
    await litellm.close();
  });
  const boot = async (env: Record<string, string>): Promise<TestApp> => {
    const t = await createTestApp({ env: { LITELLM_BASE_URL: litellm.url, LITELLM_API_KEY: litellm.apiKey, ...env } });
    apps.push(t);
    return t;
  };

  it("proxies LiteLLM's list with its bearer key, then answers from the cache", async () => {
    const t = await boot({ LITELLM_BASE_URL: `${litellm.url}/v1/` });
    const first = await request(t.url).get('/v1/models').expect(200);
    expect(first.headers['x-models-source']).toBe('litellm');
    expect(expectOpenAiList(first.body)).toEqual(LITELLM_IDS);
    expect(first.body.data[0]).toEqual({ id: 'gpt-4o', object: 'model', created: 1677610602, owned_by: 'openai' });
    expect(litellm.requests[0].headers.authorization).toBe(`Bearer ${litellm.apiKey}`);
    expect(litellm.requests[0].path).toBe('/v1/models');

    const second = await request(t.url).get('/v1/models').expect(200);
    expect(second.headers['x-models-source']).toBe('cache');
    expect(second.body).toEqual(first.body);
    expect(litellm.hits['/v1/models']).toBe(1);
  });

  it('shares one upstream call among 20 concurrent callers', async () => {
    await litellm.setMode('slow');
    const t = await boot({});
    litellm.reset();
    const res = await Promise.all(Array.from({ length: 20 }, () => request(t.url).get('/v1/models')));
    for (const r of res) {
      expect(r.status).toBe(200);
      expect(expectOpenAiList(r.body)).toEqual(LITELLM_IDS);
    }
    expect(litellm.hits['/v1/models']).toBe(1);
    expect(res.filter((r) => r.headers['x-models-source'] === 'litellm').length).toBeGreaterThan(0);
  }, 20000);

  it('asks LiteLLM again once MODELS_CACHE_TTL has passed', async () => {
    const t = await boot({ MODELS_CACHE_TTL: '0.3' });
    await request(t.url).get('/v1/models').expect(200);
    await request(t.url).get('/v1/models').expect('x-models-source', 'cache');
    expect(litellm.hits['/v1/models']).toBe(1);
    await new Promise((r) => setTimeout(r, 400));
    await request(t.url).get('/v1/models').expect('x-models-source', 'litellm');
    expect(litellm.hits['/v1/models']).toBe(2);
  });

  it('keeps answering the last good list when LiteLLM fails later', async () => {
    const t = await boot({ MODELS_CACHE_TTL: '0.2' });
    const good = await request(t.url).get('/v1/models').expect(200);
    for (const mode of ['error', 'html', 'hang', 'down'] as const) {
      await litellm.setMode(mode);
      await new Promise((r) => setTimeout(r, 250));
      const r = await request(t.url).get('/v1/models').expect(200);
      expect(r.headers['x-models-source']).toBe('cache');
      expect(r.body).toEqual(good.body);
    }
  });

  it('falls back to FALLBACK_MODELS when LiteLLM never answered', async () => {
    const t = await boot({ LITELLM_API_KEY: 'sk-wrong-litellm-key', FALLBACK_MODELS: 'gpt-4o, local-default' });
    const r = await request(t.url).get('/v1/models').expect(200);
    expect(r.headers['x-models-source']).toBe('fallback');
    expect(expectOpenAiList(r.body)).toEqual(['gpt-4o', 'local-default']);
    expect(litellm.hits['/v1/models']).toBe(1); // it was asked, and refused the key
    expect(JSON.stringify(r.body)).not.toContain('sk-wrong');
  });

  it('falls back within one timeout when LiteLLM hangs', async () => {
    await litellm.setMode('hang');
    const t = await boot({ PROVIDER_TIMEOUT_MS: '300' });
    const started = Date.now();
    const r = await request(t.url).get('/v1/models').expect(200);
    expect(Date.now() - started).toBeLessThan(900);
    expect(r.headers['x-models-source']).toBe('fallback');
    expect(expectOpenAiList(r.body)).toEqual(['gpt-4o', 'gpt-4o-mini']);
  });

  it('needs an API_TOKENS bearer and answers 401 in OpenAI shape without one', async () => {
    const t = await boot({ API_TOKENS: 'magi-token' });
    const no = await request(t.url).get('/v1/models').expect(401);
    expect(no.headers['www-authenticate']).toBe('Bearer');
    expect(no.body).toEqual({
      error: { message: expect.any(String), type: 'invalid_request_error', param: null, code: 'invalid_api_key' },
    });
    await request(t.url).get('/v1/models').set('Authorization', 'Bearer nope').expect(401);
    expect(litellm.hits['/v1/models'] ?? 0).toBe(0);
    const ok = await request(t.url).get('/v1/models').set('Authorization', 'Bearer magi-token').expect(200);
    expect(expectOpenAiList(ok.body)).toEqual(LITELLM_IDS);
    // MAGI's token is not LiteLLM's key: LiteLLM still gets its own.
    expect(litellm.requests[0].headers.authorization).toBe(`Bearer ${litellm.apiKey}`);
  });
});

describe('with a fleet', () => {
  const A = idOf('alpha');
  const B = idOf('bravo');

  describe('and no LiteLLM', () => {
    let app: FleetApp;
    beforeAll(async () => {
      app = await startFleetApp({ models: ['alpha', 'bravo'] });
    });
    afterAll(async () => app?.close());

    it("lists the fleet's models, the active profile's aliases and the tiers with a ready server", async () => {
      await waitForServers(app, (b) => b.readyServers === 2, 20000, 'both ready');
      const put = await app.send('PUT', '/api/models/profiles/development', {
        name: 'development',
        enabledModels: [A, B],
        aliases: { 'gpt-4o-mini': A, 'my-fast': 'fast' },
      });
      expect(put.status).toBe(200);
      const body = await waitFor(
        async () => {
          const r = await request(app.url).get('/v1/models').expect(200);
          return r.body.data.some((m: { id: string }) => m.id === 'my-fast') ? r : null;
        },
        5000,
        50,
        'aliases listed',
      );
      expect(body.headers['x-models-source']).toBe('fleet');
      const ids = expectOpenAiList(body.body);
      expect(ids.sort()).toEqual([A, B, 'fast', 'gpt-4o-mini', 'my-fast'].sort());
      expect(body.body.data.every((m: { owned_by: string }) => m.owned_by === 'magi')).toBe(true);
      // Fleet models say whether they are loaded; aliases and tiers do not.
      const status = Object.fromEntries(body.body.data.map((m: { id: string; status?: string }) => [m.id, m.status]));
      expect(status[A]).toMatch(/^(loaded|loading)$/);
      expect(status['my-fast']).toBeUndefined();
      expect(status.fast).toBeUndefined();
    });
  });

  describe('and LiteLLM', () => {
    let app: FleetApp;
    let litellm: LiteLlmFixture;
    beforeAll(async () => {
      litellm = await startLiteLlmFixture();
      await litellm.setMode('down');
      app = await startFleetApp({
        models: ['alpha', 'bravo'],
        enabledModels: [A],
        env: {
          LITELLM_BASE_URL: litellm.url,
          LITELLM_API_KEY: litellm.apiKey,
          MODELS_CACHE_TTL: '0.5',
          FALLBACK_MODELS: 'gpt-4o,fallback-x',
        },
      });
    });
    afterAll(async () => {
      await app?.close();
      await litellm.close();
    });

    it("falls back to the fleet's ready models plus FALLBACK_MODELS, then takes LiteLLM's list when it is back", async () => {
      await waitForServers(app, (b) => b.readyServers === 1, 20000, 'alpha ready');
      const fb = await request(app.url).get('/v1/models').expect(200);
      expect(fb.headers['x-models-source']).toBe('fallback');
      expect(expectOpenAiList(fb.body)).toEqual([A, 'gpt-4o', 'fallback-x']);

      await litellm.setMode('up');
      const back = await waitFor(
        async () => {
          const r = await request(app.url).get('/v1/models').expect(200);
          return r.headers['x-models-source'] === 'litellm' ? r : null;
        },
        10000,
        100,
        'LiteLLM asked again',
      );
      expect(expectOpenAiList(back.body)).toEqual(LITELLM_IDS);
    });
  });
});
