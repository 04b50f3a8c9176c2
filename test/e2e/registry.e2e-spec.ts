import { readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { createTestApp, makeTestDirs, TestApp } from '../support/create-test-app';
import { EXPECTED as expected, generateCorpus } from '../support/corpus';
import { isErrorShape, nonCamelKeys } from '../support/json';
import { writeGgufFile } from '../support/gguf-writer';

type Model = Record<string, any>;

describe('Registry over HTTP (GGUF corpus)', () => {
  let t: TestApp;
  let models: Record<string, Model>;

  beforeAll(async () => {
    const dirs = makeTestDirs();
    await generateCorpus(dirs.models);
    t = await createTestApp({ dirs });
    const res = await request(t.url).get('/api/models/registry').expect(200);
    models = res.body.models;
  });
  afterAll(async () => t.close());

  const byFile = (file: string): Model => {
    const m = Object.values(models).find((x) => x.filename === file);
    if (!m) throw new Error(`${file} not listed`);
    return m;
  };

  describe('GET /api/models/registry', () => {
    it('lists every corpus model with the values of the expected table', () => {
      expect(Object.keys(models)).toHaveLength(expected.models.length);
      for (const e of expected.models) {
        const m = byFile(e.file);
        expect({ file: e.file, architecture: m.architecture }).toEqual({ file: e.file, architecture: e.architecture });
        expect(Math.abs(m.parameterCount - e.parameterCount) / e.parameterCount).toBeLessThan(0.02);
        expect(m.sizeParams).toBeCloseTo(e.sizeParams, 1);
        expect(m.quantization).toBe(e.quantization);
        expect(m.contextLength).toBe(e.contextLength);
        expect(m.isThinkingModel).toBe(e.isThinkingModel);
        expect(e.familyAlternatives).toContain(m.family);
        expect(m.modelId).toMatch(/^[a-z0-9_]+$/);
      }
    });

    it('counts a split model once, with every shard in order and their sizes summed', () => {
      const split = expected.models.find((e) => e.split)!;
      const m = byFile(split.file);
      expect(m.splitFiles.map((p: string) => p.split('/').pop())).toEqual(split.split!.files);
      const total = split.split!.files.reduce((n, f) => n + statSync(join(t.dirs.models, f)).size, 0);
      expect(m.fileSizeBytes).toBe(total);
      expect(Object.values(models).filter((x) => x.filename.includes('-of-0000'))).toHaveLength(1);
    });

    it('attaches the projector to its model instead of listing it', () => {
      for (const e of expected.models) {
        const m = byFile(e.file);
        expect(m.mmprojPath ? m.mmprojPath.split('/').pop() : null).toBe(e.mmproj);
      }
      expect(Object.values(models).some((x) => x.filename.startsWith('mmproj'))).toBe(false);
    });

    it('reports every broken file in scanErrors', async () => {
      const res = await request(t.url).get('/api/models/registry').expect(200);
      const errored = res.body.scanErrors.map((e: { path: string }) => e.path.split('/').pop()).sort();
      expect(errored).toEqual(expected.broken.map((b) => b.file).sort());
      for (const e of res.body.scanErrors) expect(typeof e.error).toBe('string');
    });

    it('answers camelCase keys all the way down, with scan settings', async () => {
      const res = await request(t.url).get('/api/models/registry').expect(200);
      expect(nonCamelKeys(res.body, '$', (p) => /^\$\.models\.[a-z0-9_]+$/.test(p))).toEqual([]);
      expect(res.body.portRange).toEqual([8080, 8099]);
      expect(res.body.tierThresholds).toEqual({ powerfulMin: 14, fastMax: 7 });
      expect(typeof res.body.lastScan).toBe('string');
    });

    it('derives tiers from size and thinking', () => {
      expect(byFile('Qwen3-4B-Q4_K_M.gguf').effectiveTier).toBe('powerful'); // thinking
      expect(byFile('Meta-Llama-3.1-8B-Instruct-Q8_0.gguf').effectiveTier).toBe('balanced');
      expect(byFile('Mistral-Small-24B-Instruct-2501-Q6_K.gguf').effectiveTier).toBe('powerful');
    });
  });

  describe('GET /api/models/registry/:modelId', () => {
    it('answers one model', async () => {
      const id = byFile('phi-4-Q4_K_M.gguf').modelId;
      const res = await request(t.url).get(`/api/models/registry/${id}`).expect(200);
      expect(res.body.modelId).toBe(id);
    });
    it('answers 404 ModelNotFound for an unknown id', async () => {
      const res = await request(t.url).get('/api/models/registry/nope').expect(404);
      expect(res.body).toEqual({
        error: 'ModelNotFound',
        message: "Model 'nope' not found",
        details: { modelId: 'nope' },
      });
    });
  });

  describe('PUT /api/models/:modelId/tier', () => {
    it('sets and clears an override', async () => {
      const id = byFile('Meta-Llama-3.1-8B-Instruct-Q8_0.gguf').modelId;
      let res = await request(t.url).put(`/api/models/${id}/tier`).send({ tier: 'fast' }).expect(200);
      expect(res.body).toMatchObject({ modelId: id, tier: 'fast', override: true });
      expect(typeof res.body.message).toBe('string');
      res = await request(t.url).get('/api/models/tiers/fast').expect(200);
      expect(res.body.map((m: Model) => m.modelId)).toContain(id);
      res = await request(t.url).put(`/api/models/${id}/tier`).send({ tier: null }).expect(200);
      expect(res.body).toMatchObject({ modelId: id, tier: 'balanced', override: false });
    });
    it.each([['huge'], [3], [''], ['FAST']])('answers 400 InvalidTier for %p', async (tier) => {
      const id = byFile('phi-4-Q4_K_M.gguf').modelId;
      const res = await request(t.url).put(`/api/models/${id}/tier`).send({ tier }).expect(400);
      expect(res.body.error).toBe('InvalidTier');
    });
    it('answers 400 when tier is missing or extra keys are sent', async () => {
      const id = byFile('phi-4-Q4_K_M.gguf').modelId;
      expect((await request(t.url).put(`/api/models/${id}/tier`).send({}).expect(400)).body.error).toBe(
        'ValidationFailed',
      );
      const res = await request(t.url).put(`/api/models/${id}/tier`).send({ tier: 'fast', tierr: 1 }).expect(400);
      expect(res.body.error).toBe('ValidationFailed');
      expect(JSON.stringify(res.body.details)).toContain('tierr');
    });
    it('answers 404 for an unknown model', async () => {
      expect((await request(t.url).put('/api/models/nope/tier').send({ tier: 'fast' }).expect(404)).body.error).toBe(
        'ModelNotFound',
      );
    });
  });

  describe('PUT /api/models/:modelId/thinking', () => {
    it('moves a non-thinking model to powerful and back, reporting tierChanged', async () => {
      const id = byFile('Meta-Llama-3.1-8B-Instruct-Q8_0.gguf').modelId;
      let res = await request(t.url).put(`/api/models/${id}/thinking`).send({ thinking: true }).expect(200);
      expect(res.body).toMatchObject({ modelId: id, thinking: true, override: true, tierChanged: true });
      res = await request(t.url).put(`/api/models/${id}/thinking`).send({ thinking: true }).expect(200);
      expect(res.body.tierChanged).toBe(false);
      res = await request(t.url).put(`/api/models/${id}/thinking`).send({ thinking: null }).expect(200);
      expect(res.body).toMatchObject({ thinking: false, override: false, tierChanged: true });
    });
    it('answers 400 for a non-boolean', async () => {
      const id = byFile('phi-4-Q4_K_M.gguf').modelId;
      const res = await request(t.url).put(`/api/models/${id}/thinking`).send({ thinking: 'yes' }).expect(400);
      expect(isErrorShape(res.body)).toBe(true);
      expect(res.body.details.fields.thinking).toBeDefined();
    });
  });

  describe('PUT /api/models/:modelId/enabled', () => {
    it('disables and enables a model', async () => {
      const id = byFile('phi-4-Q4_K_M.gguf').modelId;
      const res = await request(t.url).put(`/api/models/${id}/enabled`).send({ enabled: false }).expect(200);
      expect(res.body).toMatchObject({ modelId: id, enabled: false });
      expect(typeof res.body.restartRequired).toBe('boolean');
      expect((await request(t.url).get(`/api/models/registry/${id}`)).body.enabled).toBe(false);
      await request(t.url).put(`/api/models/${id}/enabled`).send({ enabled: true }).expect(200);
    });
    it('answers 400 for a missing or non-boolean flag', async () => {
      const id = byFile('phi-4-Q4_K_M.gguf').modelId;
      await request(t.url).put(`/api/models/${id}/enabled`).send({}).expect(400);
      await request(t.url).put(`/api/models/${id}/enabled`).send({ enabled: 'false' }).expect(400);
    });
  });

  describe('GET /api/models/tiers/:tier', () => {
    it('answers 400 InvalidTier for an unknown tier', async () => {
      expect((await request(t.url).get('/api/models/tiers/huge').expect(400)).body.error).toBe('InvalidTier');
    });
    it('lists only models of that effective tier', async () => {
      const res = await request(t.url).get('/api/models/tiers/powerful').expect(200);
      expect(res.body.length).toBeGreaterThan(0);
      expect(res.body.every((m: Model) => m.effectiveTier === 'powerful')).toBe(true);
    });
  });

  describe('POST /api/models/rescan', () => {
    it('answers 200 with counts and reads nothing again when nothing changed', async () => {
      const res = await request(t.url).post('/api/models/rescan').expect(200);
      expect(res.body).toMatchObject({
        modelsFound: expected.models.length,
        modelsAdded: 0,
        modelsRemoved: 0,
        added: [],
        removed: [],
      });
      expect(typeof res.body.message).toBe('string');
      expect(typeof res.body.timestamp).toBe('string');
    });
    it('counts added and removed models as numbers and lists their ids', async () => {
      const file = join(t.dirs.models, 'Rescan-Probe-3B-Q4_K_M.gguf');
      await writeGgufFile(file, {
        name: 'Rescan Probe 3B',
        basename: 'rescan-probe',
        sizeLabel: '3B',
        fileType: 15,
        parameterCount: 3e9,
      });
      let res = await request(t.url).post('/api/models/rescan').expect(200);
      expect(res.body).toMatchObject({
        modelsFound: expected.models.length + 1,
        modelsAdded: 1,
        modelsRemoved: 0,
        removed: [],
      });
      expect(res.body.added).toHaveLength(1);
      const id: string = res.body.added[0];
      expect((await request(t.url).get(`/api/models/registry/${id}`).expect(200)).body.filename).toBe(
        'Rescan-Probe-3B-Q4_K_M.gguf',
      );
      rmSync(file);
      res = await request(t.url).post('/api/models/rescan').expect(200);
      expect(res.body).toMatchObject({
        modelsFound: expected.models.length,
        modelsAdded: 0,
        modelsRemoved: 1,
        added: [],
        removed: [id],
      });
      await request(t.url).get(`/api/models/registry/${id}`).expect(404);
    });
  });

  describe('unknown routes and bad bodies', () => {
    it('answers 404 RouteNotFound in the error shape', async () => {
      const res = await request(t.url).get('/api/nope').expect(404);
      expect(res.body.error).toBe('RouteNotFound');
      expect(isErrorShape(res.body)).toBe(true);
    });
    it('answers 400 for invalid JSON and 413 for a body over 1 MB', async () => {
      const id = byFile('phi-4-Q4_K_M.gguf').modelId;
      let res = await request(t.url)
        .put(`/api/models/${id}/tier`)
        .set('content-type', 'application/json')
        .send('{"tier":')
        .expect(400);
      expect(isErrorShape(res.body)).toBe(true);
      res = await request(t.url)
        .put(`/api/models/${id}/tier`)
        .set('content-type', 'application/json')
        .send(JSON.stringify({ tier: 'x'.repeat(1_100_000) }))
        .expect(413);
      expect(res.body.error).toBe('PayloadTooLarge');
    });
  });
});

describe('Registry persistence', () => {
  it('keeps overrides across a rescan and a restart, and ids stay with their files', async () => {
    const dirs = makeTestDirs();
    await generateCorpus(dirs.models, { only: ['Qwen3-4B-Q4_K_M.gguf', 'phi-4-Q4_K_M.gguf'] });
    let t = await createTestApp({ dirs });
    const ids = Object.keys((await request(t.url).get('/api/models/registry')).body.models).sort();
    const phi = ids.find((i) => i.startsWith('phi'))!;
    const qwen = ids.find((i) => i.startsWith('qwen'))!;
    await request(t.url).put(`/api/models/${phi}/tier`).send({ tier: 'fast' }).expect(200);
    await request(t.url).put(`/api/models/${qwen}/thinking`).send({ thinking: false }).expect(200);
    await request(t.url).put(`/api/models/${qwen}/enabled`).send({ enabled: false }).expect(200);
    await request(t.url).post('/api/models/rescan').expect(200);
    await t.close({ keepDirs: true });

    t = await createTestApp({ dirs });
    const after = (await request(t.url).get('/api/models/registry')).body.models;
    expect(Object.keys(after).sort()).toEqual(ids);
    expect(after[phi]).toMatchObject({ tierOverride: 'fast', effectiveTier: 'fast' });
    expect(after[qwen]).toMatchObject({ thinkingOverride: false, enabled: false });
    await t.close();
  });

  it('recovers from a corrupt registry file: moves it aside, uses the last good copy, still starts', async () => {
    const dirs = makeTestDirs();
    await generateCorpus(dirs.models, { only: ['phi-4-Q4_K_M.gguf'] });
    let t = await createTestApp({ dirs });
    const id = Object.keys((await request(t.url).get('/api/models/registry')).body.models)[0];
    await request(t.url).put(`/api/models/${id}/tier`).send({ tier: 'powerful' }).expect(200);
    await t.close({ keepDirs: true });
    t = await createTestApp({ dirs }); // loads cleanly: this copy becomes the last good one
    await t.close({ keepDirs: true });
    const registryFile = join(dirs.data, 'model_registry.json');
    writeFileSync(registryFile, '{"version":1,"models":{"trunc');

    t = await createTestApp({ dirs });
    await request(t.url).get('/health/live').expect(200);
    const m = (await request(t.url).get(`/api/models/registry/${id}`).expect(200)).body;
    expect(m.tierOverride).toBe('powerful');
    expect(readdirSync(dirs.data).some((f) => f.startsWith('model_registry.json.corrupt-'))).toBe(true);
    expect(() => JSON.parse(readFileSync(registryFile, 'utf8'))).not.toThrow();
    await t.close();
  });
});

describe('Concurrent overrides', () => {
  it('persists 50 concurrent PUTs on different models, every one of them', async () => {
    const dirs = makeTestDirs();
    for (let i = 0; i < 50; i++) {
      await writeGgufFile(join(dirs.models, `Model${i}-7B-Q4_K_M.gguf`), {
        architecture: 'llama',
        name: `Model${i} 7B`,
        basename: `Model${i}`,
        sizeLabel: '7B',
        fileType: 15,
        contextLength: 4096,
        vocabSize: 100,
        parameterCount: 7e9,
      });
    }
    let t = await createTestApp({ dirs });
    const ids = Object.keys((await request(t.url).get('/api/models/registry').expect(200)).body.models).sort();
    expect(ids).toHaveLength(50);
    const wanted = (i: number): string => ['fast', 'balanced', 'powerful'][i % 3];
    const answers = await Promise.all(
      ids.map((id, i) =>
        request(t.url)
          .put(`/api/models/${id}/tier`)
          .send({ tier: wanted(i) }),
      ),
    );
    expect(answers.map((r) => r.status)).toEqual(ids.map(() => 200));
    // What is on disk, as the next start reads it.
    const onDisk = JSON.parse(readFileSync(join(dirs.data, 'model_registry.json'), 'utf8')).models;
    expect(ids.map((id) => onDisk[id].tierOverride)).toEqual(ids.map((_, i) => wanted(i)));
    await t.close({ keepDirs: true });
    t = await createTestApp({ dirs });
    const after = (await request(t.url).get('/api/models/registry').expect(200)).body.models;
    expect(ids.map((id) => after[id].effectiveTier)).toEqual(ids.map((_, i) => wanted(i)));
    await t.close();
  });
});

describe('Auth', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { API_TOKENS: 'alpha-token,beta-token' } });
  });
  afterAll(async () => t.close());

  it.each([
    ['no header', undefined],
    ['a wrong token', 'Bearer nope'],
    ['a wrong scheme', 'Basic alpha-token'],
    ['a token prefix', 'Bearer alpha'],
  ])('answers 401 with WWW-Authenticate for %s', async (_name, header) => {
    const req = request(t.url).get('/api/models/registry');
    if (header) req.set('Authorization', header);
    const res = await req.expect(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.body.error).toBe('Unauthorized');
    expect(isErrorShape(res.body)).toBe(true);
  });

  it('accepts every configured token', async () => {
    await request(t.url).get('/api/models/registry').set('Authorization', 'Bearer alpha-token').expect(200);
    await request(t.url).get('/api/models/registry').set('Authorization', 'Bearer beta-token').expect(200);
  });

  it('answers 401 for unknown /api routes too, so routes do not leak', async () => {
    await request(t.url).get('/api/nope').expect(401);
  });

  it('protects the routes in any letter case, as Express matches them case-insensitively', async () => {
    for (const path of ['/API/models/registry', '/Api/Models/Registry', '/V1/models']) {
      const res = await request(t.url).get(path);
      expect([path, res.status]).toEqual([path, 401]);
    }
    const v1 = await request(t.url).post('/V1/Chat/Completions').send({ model: 'x' }).expect(401);
    expect(v1.body.error).toMatchObject({ code: 'invalid_api_key' });
  });

  it('keeps probes and docs open', async () => {
    await request(t.url).get('/health/live').expect(200);
    await request(t.url).get('/docs-json').expect(200);
  });

  it('answers /v1 401s in the OpenAI error shape', async () => {
    const res = await request(t.url).post('/v1/chat/completions').send({}).expect(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.body.error).toMatchObject({ code: 'invalid_api_key', type: 'invalid_request_error' });
  });
});
