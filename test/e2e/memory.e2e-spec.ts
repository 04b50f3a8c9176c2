/**
 * Memory estimates over real HTTP (API.md §9 "Memory estimate"): every model of the generated
 * GGUF corpus gets `memoryEstimate` for the active profile's server settings, and
 * `GET /api/models/registry/{modelId}/memory` estimates other settings. Expected figures are
 * worked out from the corpus table (tensor shapes, hyperparameters) and llama.cpp's rules
 * (docs/memory-estimate.md).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { createTestApp, makeTestDirs, TestApp, TestDirs } from '../support/create-test-app';
import {
  EXPECTED,
  generateCorpus,
  hparam,
  MODELS,
  modelFiles,
  modelTensors,
  PROJECTORS,
  projectorTensors,
} from '../support/corpus';
import { GgmlType, ggmlTensorBytes, GgufTensorSpec, writeGgufFile } from '../support/gguf-writer';
import { isErrorShape, nonCamelKeys } from '../support/json';
import { GgufType } from '../../src/registry/gguf/gguf-reader';

type Model = Record<string, any>;

const sumBytes = (tensors: GgufTensorSpec[]): number => tensors.reduce((n, t) => n + ggmlTensorBytes(t), 0);
const pad256 = (n: number): number => Math.ceil(n / 256) * 256;
/** Bytes of 1,024 cache elements in each cache type (a q8_0 block: 32 elements in 34 bytes). */
const F16_PER_ELEMENT = 2;
const Q8_0_PER_32 = 34;

/** A llama-shaped header of `layers` layers, `heads` heads of `headDim` (no KV grouping). */
function smallLlama(name: string, headDim: number, extra: Array<{ key: string; value: number }> = []) {
  const heads = 4;
  const embd = heads * headDim;
  return {
    architecture: 'llama',
    name,
    sizeLabel: '1B',
    fileType: 1,
    contextLength: 4096,
    vocabSize: 1000,
    extra: [
      { key: 'llama.block_count', value: 2 },
      { key: 'llama.embedding_length', value: embd },
      { key: 'llama.attention.head_count', value: heads },
      ...extra,
    ].map((e) => ({ ...e, type: GgufType.UINT32 })),
    tensors: [{ name: 'token_embd.weight', dims: [embd, 1000], type: GgmlType.F16 }],
  };
}

/** The corpus plus, in their own folder, a model of 80-wide heads (no q8_0 cache) and one the estimate cannot read. */
async function prepare(dirs: TestDirs): Promise<void> {
  await generateCorpus(dirs.models);
  mkdirSync(join(dirs.models, 'odd'));
  await writeGgufFile(join(dirs.models, 'odd', 'Heads80-1B-F16.gguf'), smallLlama('Heads80', 80));
  // An architecture the estimate does not list, with a layout key it cannot interpret.
  await writeGgufFile(join(dirs.models, 'odd', 'Unknowable-1B-F16.gguf'), {
    ...smallLlama('Unknowable', 64),
    architecture: 'newarch',
    extra: ['block_count', 'embedding_length', 'attention.head_count', 'attention.sliding_window'].map((k, i) => ({
      key: `newarch.${k}`,
      type: GgufType.UINT32,
      value: [2, 256, 4, 512][i],
    })),
  });
}

describe('Memory estimates over HTTP (GGUF corpus)', () => {
  let t: TestApp;
  let dirs: TestDirs;

  beforeAll(async () => {
    dirs = makeTestDirs('magi-memory-');
    await prepare(dirs);
    t = await createTestApp({ dirs });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    rmSync(dirs.root, { recursive: true, force: true });
  });

  const registry = async (): Promise<Record<string, Model>> =>
    (await request(t.url).get('/api/models/registry').expect(200)).body.models;
  const byFile = (models: Record<string, Model>, file: string): Model => {
    const m = Object.values(models).find((x) => x.filename === file);
    if (!m) throw new Error(`${file} not listed`);
    return m;
  };
  const idOf = async (file: string): Promise<string> => byFile(await registry(), file).modelId;
  const memory = (id: string, query = '') => request(t.url).get(`/api/models/registry/${id}/memory${query}`);

  /** Creates a profile with these server settings and makes it the active one. */
  async function activate(name: string, server: Record<string, unknown>): Promise<void> {
    const created = await request(t.url)
      .post('/api/models/profiles')
      .send({ name, enabledModels: [], server })
      .expect(201);
    await request(t.url).post(`/api/models/profiles/${created.body.profileName}/activate`).expect(200);
  }

  /** Llama 3.1 8B: 32 layers, K and V of 8 KV heads × 128 per cell and layer. */
  const llama8b = MODELS.find((m) => m.file === 'Meta-Llama-3.1-8B-Instruct-Q8_0.gguf')!;
  const kvWidth =
    (hparam(llama8b, 'embedding_length') / hparam(llama8b, 'attention.head_count')) *
    hparam(llama8b, 'attention.head_count_kv');
  const layers = hparam(llama8b, 'block_count');

  describe('GET /api/models/registry: memoryEstimate', () => {
    it('gives every corpus model the tensor data of its files as weights, for llama-server’s defaults', async () => {
      const models = await registry();
      for (const e of EXPECTED.models) {
        const m = byFile(models, e.file);
        const facts = MODELS.find((x) => modelFiles(x)[0].file === e.file)!;
        const est = m.memoryEstimate;
        expect({ file: e.file, weightsBytes: est?.weightsBytes }).toEqual({
          file: e.file,
          weightsBytes: sumBytes(modelTensors(facts)),
        });
        // The table's figure is the real file's data section (tensors padded to 32 bytes; Qwen3-30B-A3B's roughly).
        expect(Math.abs(est.weightsBytes - e.tensorDataBytes) / e.tensorDataBytes).toBeLessThan(
          e.file.startsWith('Qwen3-30B') ? 0.05 : 0.0001,
        );
        expect(est.totalBytes).toBe(est.weightsBytes + est.kvCacheBytes + est.computeBytes + est.projectorBytes);
        // No active profile file: --parallel auto (4 slots sharing one cache), each the training context.
        expect([e.file, est.parallel, est.ctxSize]).toEqual([e.file, 4, pad256(4 * e.contextLength)]);
        expect(est.kvCacheBytes).toBeGreaterThan(0);
        expect(est.computeBytes).toBeGreaterThan(0);
      }
    });

    it('counts all three shards of the split model', async () => {
      const split = EXPECTED.models.find((e) => e.split)!;
      const facts = MODELS.find((m) => modelFiles(m)[0].file === split.file)!;
      const shards = modelFiles(facts);
      expect(shards).toHaveLength(3);
      const first = sumBytes([...shards[0].layout!.tensors]);

      const est = byFile(await registry(), split.file).memoryEstimate;

      expect(est.weightsBytes).toBe(sumBytes(shards.flatMap((s) => [...s.layout!.tensors])));
      expect(est.weightsBytes).toBeGreaterThan(2 * first);
    });

    it('counts the attached projector of the Gemma model, and none elsewhere', async () => {
      const models = await registry();
      for (const e of EXPECTED.models) {
        const est = byFile(models, e.file).memoryEstimate;
        const projector = PROJECTORS.find((p) => p.file === e.mmproj);
        expect([e.file, est.projectorBytes]).toEqual([e.file, projector ? sumBytes(projectorTensors(projector)) : 0]);
      }
      expect(byFile(models, 'gemma-3-12b-it-Q4_K_M.gguf').memoryEstimate.projectorBytes).toBeGreaterThan(0);
    });

    it('is null for a model whose header cannot tell', async () => {
      const models = await registry();
      expect(byFile(models, 'Unknowable-1B-F16.gguf').memoryEstimate).toBeNull();
      expect(byFile(models, 'Heads80-1B-F16.gguf').memoryEstimate).not.toBeNull();
    });

    it('follows the active profile: its ctxSize, parallel and cache types, and another activation', async () => {
      await activate('mem-8k-2', { ctxSize: 8192, parallel: 2 });
      let models = await registry();
      let est = byFile(models, llama8b.file).memoryEstimate;
      // Two slots of 4,096 cells each, one K and one V of 1,024 f16 elements per layer and cell.
      expect(est).toMatchObject({ ctxSize: 8192, parallel: 2 });
      expect(est.kvCacheBytes).toBe(8192 * layers * 2 * kvWidth * F16_PER_ELEMENT);
      expect(est.kvCacheBytes).toBe(1024 ** 3);
      expect(est.weightsBytes).toBe(sumBytes(modelTensors(llama8b)));

      await activate('mem-4k-q8', {
        ctxSize: 4096,
        parallel: 1,
        extraArgs: ['-ctk', 'q8_0', '--cache-type-v', 'q8_0'],
      });
      models = await registry();
      est = byFile(models, llama8b.file).memoryEstimate;
      expect(est).toMatchObject({ ctxSize: 4096, parallel: 1 });
      expect(est.kvCacheBytes).toBe(4096 * layers * 2 * (kvWidth / 32) * Q8_0_PER_32);
      // llama-server would refuse a q8_0 cache for heads of 80: no estimate for it under this profile.
      expect(byFile(models, 'Heads80-1B-F16.gguf').memoryEstimate).toBeNull();
      expect(
        (await request(t.url).get(`/api/models/registry/${byFile(models, llama8b.file).modelId}`)).body.memoryEstimate,
      ).toEqual(est);
    });
  });

  describe('GET /api/models/registry/{modelId}/memory', () => {
    beforeAll(async () => activate('mem-route', { ctxSize: 8192, parallel: 2 }));

    it('answers the model’s memoryEstimate without query parameters', async () => {
      const m = byFile(await registry(), llama8b.file);
      const res = await memory(m.modelId).expect(200);
      expect(res.body).toEqual(m.memoryEstimate);
      expect(nonCamelKeys(res.body)).toEqual([]);
    });

    it('estimates the settings asked for; each one not given is the active profile’s', async () => {
      const id = await idOf(llama8b.file);
      let res = await memory(id, '?ctxSize=16384&parallel=4&cacheType=q8_0').expect(200);
      expect(res.body).toMatchObject({ ctxSize: 16384, parallel: 4 });
      expect(res.body.kvCacheBytes).toBe(16384 * layers * 2 * (kvWidth / 32) * Q8_0_PER_32);

      res = await memory(id, '?cacheType=f32').expect(200);
      expect(res.body).toMatchObject({ ctxSize: 8192, parallel: 2 });
      expect(res.body.kvCacheBytes).toBe(8192 * layers * 2 * kvWidth * 4);

      // 0: llama-server's default context, the training context for each slot.
      res = await memory(id, '?ctxSize=0&parallel=1').expect(200);
      expect(res.body).toMatchObject({ ctxSize: hparam(llama8b, 'context_length'), parallel: 1 });
      expect(res.body.weightsBytes).toBe(sumBytes(modelTensors(llama8b)));
    });

    it.each([
      ['ctxSize', '?ctxSize=-1'],
      ['ctxSize', '?ctxSize=10000001'],
      ['ctxSize', '?ctxSize=1.5'],
      ['ctxSize', '?ctxSize=big'],
      ['ctxSize', '?ctxSize='],
      ['ctxSize', '?ctxSize=1&ctxSize=2'],
      ['parallel', '?parallel=0'],
      ['parallel', '?parallel=257'],
      ['parallel', '?parallel=two'],
      ['cacheType', '?cacheType=q4_K'],
      ['cacheType', '?cacheType=Q8_0'],
      ['cacheType', '?cacheType='],
      ['unknown', '?unknown=1'],
    ])('answers 400 ValidationFailed naming %s for %s', async (field, query) => {
      const res = await memory(await idOf(llama8b.file), query).expect(400);
      expect(res.body.error).toBe('ValidationFailed');
      expect(isErrorShape(res.body)).toBe(true);
      expect(Object.keys(res.body.details.fields)).toEqual([field]);
    });

    it('answers 404 ModelNotFound for an unknown model', async () => {
      const res = await memory('nope', '?ctxSize=4096').expect(404);
      expect(res.body).toEqual({
        error: 'ModelNotFound',
        message: "Model 'nope' not found",
        details: { modelId: 'nope' },
      });
    });

    it('answers 400 InvalidMemorySettings for settings llama-server refuses, with its reason', async () => {
      const id = await idOf('Heads80-1B-F16.gguf');
      await memory(id, '?cacheType=f16').expect(200);
      const res = await memory(id, '?cacheType=q8_0').expect(400);
      expect(res.body).toEqual({
        error: 'InvalidMemorySettings',
        message: `llama-server would refuse these settings for model '${id}': K cache type q8_0 with block size 32 does not divide the head size 80`,
        details: {
          modelId: id,
          reason: 'K cache type q8_0 with block size 32 does not divide the head size 80',
          settings: { ctxSize: 8192, parallel: 2, cacheTypeK: 'q8_0', cacheTypeV: 'q8_0' },
        },
      });
    });

    it('answers 422 MemoryEstimateUnavailable for a model whose header cannot tell', async () => {
      const id = await idOf('Unknowable-1B-F16.gguf');
      const res = await memory(id, '?ctxSize=4096').expect(422);
      expect(res.body.error).toBe('MemoryEstimateUnavailable');
      expect(res.body.details).toMatchObject({ modelId: id, architecture: 'newarch', reason: expect.any(String) });
      expect(isErrorShape(res.body)).toBe(true);
    });
  });
});

describe('Memory facts in the registry file', () => {
  it('keeps them with each model, reads no unchanged file again, and re-reads files of an older registry file', async () => {
    const dirs = makeTestDirs('magi-memory-file-');
    await generateCorpus(dirs.models, {
      only: ['gemma-3-12b-it-Q4_K_M.gguf', 'mmproj-gemma-3-12b-it-f16.gguf', 'phi-4-Q4_K_M.gguf'],
    });
    const registryFile = join(dirs.data, 'model_registry.json');
    let t = await createTestApp({ dirs });
    const before = (await request(t.url).get('/api/models/registry').expect(200)).body.models;
    const onDisk = readFileSync(registryFile, 'utf8');
    const saved = JSON.parse(onDisk);
    for (const m of Object.values<Model>(saved.models))
      expect(m.memoryFacts).toEqual(expect.objectContaining({ weightsBytes: expect.any(Number) }));
    for (const f of Object.values<Model>(saved.files))
      expect(f.info.memory).toEqual(expect.objectContaining({ tensorBytes: expect.any(Number) }));

    // Nothing changed: no header is read again, so the file is not even rewritten.
    await request(t.url).post('/api/models/rescan').expect(200);
    expect(readFileSync(registryFile, 'utf8')).toBe(onDisk);
    await t.close({ keepDirs: true });

    // A registry file from before the memory estimate: no facts anywhere.
    for (const m of Object.values<Model>(saved.models)) delete m.memoryFacts;
    for (const f of Object.values<Model>(saved.files)) delete f.info.memory;
    writeFileSync(registryFile, JSON.stringify(saved));
    t = await createTestApp({ dirs });
    const after = (await request(t.url).get('/api/models/registry').expect(200)).body.models;
    expect(after).toEqual(before);
    expect(Object.values<Model>(after).every((m) => m.memoryEstimate !== null)).toBe(true);
    expect(JSON.parse(readFileSync(registryFile, 'utf8')).models).toEqual(JSON.parse(onDisk).models);
    await t.close();
    rmSync(dirs.root, { recursive: true, force: true });
  });
});
