/**
 * The llamacpp provider with MAGI's own fleet (API.md §3): the fleet's ready llama-server
 * stand-ins count, next to (or instead of) an external llama-server.
 */
import request from 'supertest';
import { startLlamaStandin, stopAllStandins, type RunningStandin } from '../support/fixtures';
import { FleetApp, idOf, startFleetApp, waitForServers } from './fleet.helpers';

jest.setTimeout(60000);

const A = idOf('alpha');
const B = idOf('bravo');

describe('llama.cpp provider with the fleet', () => {
  let app: FleetApp;
  afterEach(async () => {
    await app?.close();
    await stopAllStandins();
  });

  it("is connected through the fleet's ready servers when no external llama-server answers", async () => {
    app = await startFleetApp({
      models: ['alpha', 'bravo'],
      env: { LLM_PROVIDER: 'llamacpp', PROVIDER_CACHE_MS: '0' },
    });
    await waitForServers(app, (b) => b.readyServers === 2, 20000, 'both ready');
    const s = await request(app.url).get('/api/llm-status').expect(200);
    expect(s.body).toMatchObject({ provider: 'llamacpp', connected: true, modelName: A, error: null });
    expect(s.body.metadata.state).toBe('down');
    expect(s.body.metadata.fleetServers.map((f: { modelId: string }) => f.modelId)).toEqual([A, B]);
    for (const f of s.body.metadata.fleetServers) expect(f.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const m = await request(app.url).get('/api/models').expect(200);
    expect(m.body).toEqual({
      provider: 'llamacpp',
      models: [A, B].map((id) => ({ id, name: id, provider: 'llamacpp', size: null, modifiedAt: null })),
    });
    const auto = await request(app.url).get('/api/models/providers').expect(200);
    expect(auto.body.providers.find((p: { name: string }) => p.name === 'llamacpp')).toMatchObject({
      connected: true,
      model: A,
    });
  });

  it('lists an external llama-server and the fleet together, and says when the fleet is still starting', async () => {
    const external: RunningStandin = await startLlamaStandin({ alias: 'external_one', env: { STANDIN_LOAD_MS: '0' } });
    app = await startFleetApp({
      models: ['alpha'],
      standin: { '*': { LOAD_MS: 1500 } },
      env: { LLM_PROVIDER: 'llamacpp', PROVIDER_CACHE_MS: '0', LLAMACPP_BASE_URL: external.url },
    });
    const m = await request(app.url).get('/api/models').expect(200);
    expect(m.body.models.map((x: { id: string }) => x.id)).toEqual(['external_one']);
    await external.stop(500);
    const loading = await request(app.url).get('/api/llm-status').expect(200);
    expect(loading.body.connected).toBe(false);
    expect(loading.body.error).toMatch(/connection refused .*; MAGI's fleet has no ready server yet \(1 starting\)/);
    await waitForServers(app, (b) => b.readyServers === 1, 20000, 'alpha ready');
    const ready = await request(app.url).get('/api/llm-status').expect(200);
    expect(ready.body).toMatchObject({ connected: true, modelName: A });

    const again = await startLlamaStandin({
      alias: 'external_one',
      port: external.port,
      env: { STANDIN_LOAD_MS: '0' },
    });
    const both = await request(app.url).get('/api/models').expect(200);
    expect(both.body.models.map((x: { id: string }) => x.id)).toEqual(['external_one', A]);
    await again.stop(500);
  });
});
