/**
 * The memory estimate, from header bytes to bytes of memory: every header here is written
 * by the project's GGUF writer (the corpus generator's layouts of real models, or
 * hand-made hyperparameters) and read back by the project's reader, then turned into
 * facts and estimated. Expected figures are worked out by hand from llama.cpp's rules
 * (see docs/memory-estimate.md); the compute-buffer ones were measured on the binary.
 */
import { GgufHeader, GgufParseOptions, GgufType, parseGgufHeader } from '../gguf/gguf-reader';
import {
  buildGgufFile,
  buildGgufHeader,
  ggmlTensorBytes,
  GgmlType,
  GgufTensorSpec,
  GgufWriteKv,
  GgufWriteOptions,
} from '../../../test/support/gguf-writer';
import {
  EXPECTED,
  MODELS,
  modelFiles,
  modelTensors,
  PROJECTORS,
  projectorFile,
  projectorTensors,
} from '../../../test/support/corpus';
import { loadableModelLayout, LoadableModelSpec } from '../../../test/real/loadable-models';
import { estimateMemory, MemorySettings, MemorySettingsError } from './memory-estimate';
import { MEMORY_PARSE_OPTIONS, ModelMemoryFacts, modelMemoryFacts } from './memory-facts';

const MIB = 1024 * 1024;

function parseBuilt(built: { chunks: Buffer[] }, opts: GgufParseOptions = MEMORY_PARSE_OPTIONS): Promise<GgufHeader> {
  const bytes = Buffer.concat(built.chunks);
  return parseGgufHeader(
    { size: bytes.length, read: (position, length) => Promise.resolve(bytes.subarray(position, position + length)) },
    opts,
  );
}

/** Facts of a header made from the writer's options (a 1,000-token vocabulary unless given). */
async function factsOf(opts: GgufWriteOptions): Promise<ModelMemoryFacts | null> {
  return modelMemoryFacts([await parseBuilt(buildGgufHeader({ vocabSize: 1000, ...opts }))]);
}

/** Facts of a corpus model (every shard) and, optionally, its projector. */
async function corpusFacts(file: string, projector?: string): Promise<ModelMemoryFacts> {
  const model = MODELS.find((m) => m.file === file)!;
  const shards = await Promise.all(modelFiles(model).map((f) => parseBuilt(buildGgufFile(f.layout!))));
  const p = projector ? PROJECTORS.find((x) => x.file === projector)! : null;
  const facts = modelMemoryFacts(shards, p ? await parseBuilt(buildGgufFile(projectorFile(p).layout!)) : null);
  if (!facts) throw new Error(`${file}: no facts`);
  return facts;
}

const kv = (key: string, type: GgufType, value: unknown, itemType?: GgufType): GgufWriteKv => ({
  key,
  type,
  value,
  itemType,
});
const u32 = (key: string, value: number): GgufWriteKv => kv(key, GgufType.UINT32, value);
const u32s = (key: string, value: number[]): GgufWriteKv => kv(key, GgufType.ARRAY, value, GgufType.UINT32);
const bools = (key: string, value: boolean[]): GgufWriteKv => kv(key, GgufType.ARRAY, value, GgufType.BOOL);
const prefixed = (arch: string, kvs: GgufWriteKv[]): GgufWriteKv[] =>
  kvs.map((e) => ({ ...e, key: `${arch}.${e.key}` }));

/** A token embedding: some tensor data for headers whose point is the hyperparameters. */
const EMBEDDING: GgufTensorSpec[] = [{ name: 'token_embd.weight', dims: [256, 1000], type: GgmlType.F16 }];

/** Facts of a model of `arch` with these `<arch>.*` keys (context_length 131072 unless given). */
function archFacts(arch: string, hparams: GgufWriteKv[], tensors = EMBEDDING): Promise<ModelMemoryFacts | null> {
  return factsOf({ architecture: arch, contextLength: 131072, tensors, extra: prefixed(arch, hparams) });
}

/** Granite 4.0 H Tiny-like hyperparameters, without head_count_kv (each test gives its own). */
const GRANITE_HYBRID = [
  u32('block_count', 40),
  u32('embedding_length', 1536),
  u32('feed_forward_length', 4096),
  u32('attention.head_count', 12),
  u32('ssm.conv_kernel', 4),
  u32('ssm.inner_size', 3072),
  u32('ssm.state_size', 128),
  u32('ssm.group_count', 1),
  u32('ssm.time_step_rank', 48),
];

const est = (facts: ModelMemoryFacts | null, settings: MemorySettings) => estimateMemory(facts, settings)!;

describe('parseGgufHeader with tensorInfos (what the facts are read from)', () => {
  it('returns every tensor info in file order, with its shape, ggml type and data offset', async () => {
    const tensors: GgufTensorSpec[] = [
      { name: 'token_embd.weight', dims: [4096, 1000], type: GgmlType.Q6_K },
      { name: 'blk.0.ffn_gate_exps.weight', dims: [2048, 768, 128], type: GgmlType.Q4_K },
      { name: 'output_norm.weight', dims: [4096], type: GgmlType.F32 },
    ];
    const header = await parseBuilt(buildGgufHeader({ vocabSize: 10, tensors }));
    const first = Math.ceil(ggmlTensorBytes(tensors[0]) / 32) * 32;

    expect(header.tensors).toEqual([
      { name: 'token_embd.weight', dims: [4096, 1000], type: GgmlType.Q6_K, offset: 0 },
      { name: 'blk.0.ffn_gate_exps.weight', dims: [2048, 768, 128], type: GgmlType.Q4_K, offset: first },
      { name: 'output_norm.weight', dims: [4096], type: GgmlType.F32, offset: first + ggmlTensorBytes(tensors[1]) },
    ]);
  });

  it('leaves them out unless asked, as before', async () => {
    const header = await parseBuilt(buildGgufHeader({ vocabSize: 10, parameterCount: 1e6 }), {
      tensorInfos: false,
      maxInlineArrayLength: 64,
    });
    expect(header.tensors).toBeUndefined();
    expect(header.parameterCount).toBe(1e6);
  });
});

describe('modelMemoryFacts', () => {
  describe('weights', () => {
    it('sums every tensor in its own ggml type: mixed K-quants, Q8_0, F32 norms, BF16 and 3-D expert tensors', async () => {
      const tensors: GgufTensorSpec[] = [
        { name: 'token_embd.weight', dims: [4096, 1000], type: GgmlType.Q6_K },
        { name: 'blk.0.attn_q.weight', dims: [4096, 4096], type: GgmlType.Q4_K },
        { name: 'blk.0.attn_k.weight', dims: [4096, 1024], type: GgmlType.Q8_0 },
        { name: 'blk.0.attn_norm.weight', dims: [4096], type: GgmlType.F32 },
        { name: 'blk.0.ffn_gate_exps.weight', dims: [4096, 1536, 8], type: GgmlType.IQ4_XS },
        { name: 'blk.0.ffn_down_exps.weight', dims: [1536, 4096, 8], type: GgmlType.MXFP4 },
        { name: 'output.weight', dims: [4096, 1000], type: GgmlType.BF16 },
      ];
      const facts = await archFacts(
        'llama',
        [u32('block_count', 1), u32('embedding_length', 4096), u32('attention.head_count', 32)],
        tensors,
      );

      // 16·210·1000 + 16·144·4096 + 128·34·1024 + 4·4096 + 16·136·1536·8 + 48·17·4096·8 + 2·4096·1000
      expect(facts!.weightsBytes).toBe(
        3_360_000 + 9_437_184 + 4_456_448 + 16_384 + 26_738_688 + 26_738_688 + 8_192_000,
      );
    });

    it.each(EXPECTED.models.map((m) => [m.file]))('sums %s as the corpus generator sized its tensors', async (file) => {
      const model = MODELS.find((m) => m.file === file || modelFiles(m)[0].file === file)!;
      const facts = await corpusFacts(model.file);
      const sum = modelTensors(model).reduce((n, t) => n + ggmlTensorBytes(t), 0);

      expect(facts.weightsBytes).toBe(sum);
      // The table's figure is the real file's data section: each tensor padded to 32 bytes
      // (Qwen3-30B-A3B's is the published file size, so only roughly).
      const expected = EXPECTED.models.find((m) => m.file === file)!.tensorDataBytes;
      expect(Math.abs(facts.weightsBytes - expected) / expected).toBeLessThan(
        file.startsWith('Qwen3-30B') ? 0.05 : 0.0001,
      );
    });

    it('adds up the three shards of a split model (Llama 3.3 70B), the later ones holding tensors only', async () => {
      const model = MODELS.find((m) => m.file === 'Llama-3.3-70B-Instruct-Q4_K_M.gguf')!;
      expect(modelFiles(model)).toHaveLength(3);
      const facts = await corpusFacts(model.file);

      expect(facts.weightsBytes).toBe(modelTensors(model).reduce((n, t) => n + ggmlTensorBytes(t), 0));
      expect(facts.kvLayers).toEqual([{ layers: 80, kWidth: 1024, vWidth: 1024, swa: false }]);
    });

    it('keeps the projector’s tensor data apart from the weights', async () => {
      const facts = await corpusFacts('gemma-3-12b-it-Q4_K_M.gguf', 'mmproj-gemma-3-12b-it-f16.gguf');
      const projector = PROJECTORS[0];

      expect(facts.projectorBytes).toBe(projectorTensors(projector).reduce((n, t) => n + ggmlTensorBytes(t), 0));
      expect(facts.projectorBytes).toBeGreaterThan(0.85e9);
      expect(facts.weightsBytes).toBe(
        modelTensors(MODELS.find((m) => m.architecture === 'gemma3')!).reduce((n, t) => n + ggmlTensorBytes(t), 0),
      );
    });
  });

  describe('attention layers', () => {
    it('reads Llama 3.1 8B: 32 layers of 8 KV heads × 128 and a 131,072 training context', async () => {
      const facts = await corpusFacts('Meta-Llama-3.1-8B-Instruct-Q8_0.gguf');

      expect(facts).toMatchObject({
        architecture: 'llama',
        contextLength: 131072,
        vocabSize: 128256,
        embeddingLength: 4096,
        blockCount: 32,
        feedForwardLength: 14336,
        queryWidth: 4096,
        headDimsK: [128],
        headDimsV: [128],
        mla: false,
        kvLayers: [{ layers: 32, kWidth: 1024, vWidth: 1024, swa: false }],
        slidingWindow: 0,
        recurrent: null,
      });
    });

    it('reads Gemma 3 12B: 5 of every 6 layers attend through a 1,024-token window (40 of 48)', async () => {
      const facts = await corpusFacts('gemma-3-12b-it-Q4_K_M.gguf');

      expect(facts.slidingWindow).toBe(1024);
      expect(facts.kvLayers).toEqual(
        expect.arrayContaining([
          { layers: 40, kWidth: 2048, vWidth: 2048, swa: true },
          { layers: 8, kWidth: 2048, vWidth: 2048, swa: false },
        ]),
      );
      expect(facts.headDimsK).toEqual([256]);
    });

    it('reads Qwen3-30B-A3B: experts in 3-D tensors, a KV cache like a dense model’s, no dense FFN', async () => {
      const facts = await corpusFacts('Qwen3-30B-A3B-Q4_K_M.gguf');

      expect(facts).toMatchObject({
        expertCount: 128,
        expertUsedCount: 8,
        expertFeedForwardLength: 768,
        feedForwardLength: 0,
        kvLayers: [{ layers: 48, kWidth: 512, vWidth: 512, swa: false }],
      });
    });

    it('reads Phi-4’s sliding_window of 0 as no window, and Mistral Small’s explicit head size of 128', async () => {
      const phi = await corpusFacts('phi-4-Q4_K_M.gguf');
      const mistral = await corpusFacts('Mistral-Small-24B-Instruct-2501-Q6_K.gguf');

      expect(phi.slidingWindow).toBe(0);
      expect(phi.kvLayers).toEqual([{ layers: 40, kWidth: 1280, vWidth: 1280, swa: false }]);
      expect(mistral.kvLayers).toEqual([{ layers: 40, kWidth: 1024, vWidth: 1024, swa: false }]);
      expect(mistral.queryWidth).toBe(4096);
    });

    it('reads gpt-oss: every other layer SWA, starting with the first', async () => {
      const facts = await archFacts('gpt-oss', [
        u32('block_count', 24),
        u32('embedding_length', 2880),
        u32('attention.head_count', 64),
        u32('attention.head_count_kv', 8),
        u32('attention.key_length', 64),
        u32('attention.value_length', 64),
        u32('attention.sliding_window', 128),
        u32('expert_count', 32),
        u32('expert_used_count', 4),
        u32('expert_feed_forward_length', 2880),
      ]);

      expect(facts!.slidingWindow).toBe(128);
      expect(facts!.kvLayers).toEqual([
        { layers: 12, kWidth: 512, vWidth: 512, swa: true },
        { layers: 12, kWidth: 512, vWidth: 512, swa: false },
      ]);
    });

    it('takes the per-layer pattern array when the header has one (sliding_window_pattern as bools)', async () => {
      const pattern = [true, true, false, true, false, false];
      const facts = await archFacts('gemma3', [
        u32('block_count', 6),
        u32('embedding_length', 1024),
        u32('attention.head_count', 4),
        u32('attention.head_count_kv', 1),
        u32('attention.key_length', 256),
        u32('attention.value_length', 256),
        u32('attention.sliding_window', 512),
        bools('attention.sliding_window_pattern', pattern),
      ]);

      expect(facts!.kvLayers).toEqual([
        { layers: 3, kWidth: 256, vWidth: 256, swa: true },
        { layers: 3, kWidth: 256, vWidth: 256, swa: false },
      ]);
    });

    it('reads Llama 4: chunked attention over 8,192 tokens on 3 of 4 layers, or none when sliding_window is 0', async () => {
      const base = [
        u32('block_count', 48),
        u32('embedding_length', 5120),
        u32('attention.head_count', 40),
        u32('attention.head_count_kv', 8),
      ];
      const chunked = await archFacts('llama4', base);
      const off = await archFacts('llama4', [...base, u32('attention.sliding_window', 0)]);

      expect(chunked!.slidingWindow).toBe(8192);
      expect(chunked!.kvLayers.find((g) => g.swa)!.layers).toBe(36);
      expect(off!.slidingWindow).toBe(0);
      expect(off!.kvLayers).toEqual([{ layers: 48, kWidth: 1024, vWidth: 1024, swa: false }]);
    });

    it('reads Gemma 3n: only the first 20 layers own a cache, the others reuse one', async () => {
      const facts = await archFacts('gemma3n', [
        u32('block_count', 30),
        u32('embedding_length', 2048),
        u32('attention.head_count', 8),
        u32('attention.head_count_kv', 2),
        u32('attention.key_length', 256),
        u32('attention.value_length', 256),
        u32('attention.sliding_window', 512),
      ]);

      // Pattern 5: layers 4, 9, 14, 19 are global among the first 20.
      expect(facts!.kvLayers).toEqual([
        { layers: 16, kWidth: 512, vWidth: 512, swa: true },
        { layers: 4, kWidth: 512, vWidth: 512, swa: false },
      ]);
    });

    it('reads DeepSeek-V3 converted with MLA: one compressed K of 576 per cell, no V, MTP layer left out', async () => {
      const facts = await archFacts('deepseek2', [
        u32('block_count', 62),
        u32('nextn_predict_layers', 1),
        u32('embedding_length', 7168),
        u32('feed_forward_length', 18432),
        u32('leading_dense_block_count', 3),
        u32('attention.head_count', 128),
        u32('attention.head_count_kv', 1),
        u32('attention.key_length', 576),
        u32('attention.value_length', 512),
        u32('attention.key_length_mla', 192),
        u32('attention.value_length_mla', 128),
        u32('expert_count', 256),
        u32('expert_used_count', 8),
        u32('expert_feed_forward_length', 2048),
      ]);

      expect(facts).toMatchObject({
        mla: true,
        blockCount: 61,
        feedForwardLength: 18432,
        kvLayers: [{ layers: 61, kWidth: 576, vWidth: 0, swa: false }],
      });
    });

    it('estimates an architecture it does not list as plain attention, when its header has no special layout keys', async () => {
      const facts = await archFacts('newarch', [
        u32('block_count', 10),
        u32('embedding_length', 1024),
        u32('attention.head_count', 16),
        u32('attention.head_count_kv', 4),
      ]);

      expect(facts!.kvLayers).toEqual([{ layers: 10, kWidth: 256, vWidth: 256, swa: false }]);
    });
  });

  describe('recurrent layers', () => {
    it('reads Mamba: every layer keeps a conv state of 3 × d_inner and an SSM state of d_state × d_inner, no KV cache', async () => {
      const facts = await archFacts('mamba', [
        u32('block_count', 64),
        u32('embedding_length', 2560),
        u32('ssm.conv_kernel', 4),
        u32('ssm.inner_size', 5120),
        u32('ssm.state_size', 16),
        u32('ssm.time_step_rank', 160),
      ]);

      expect(facts!.kvLayers).toEqual([]);
      expect(facts!.recurrent).toEqual({
        kind: 'ssm',
        layers: 64,
        rWidth: 15360,
        sWidth: 81920,
        innerSize: 5120,
        groupWidth: 0,
      });
    });

    it('reads a Granite 4 hybrid: layers with no KV heads are Mamba2, the rest attention', async () => {
      const kvHeads = Array.from({ length: 40 }, (_, i) => (i % 10 === 5 ? 4 : 0));
      const facts = await archFacts('granitehybrid', [...GRANITE_HYBRID, u32s('attention.head_count_kv', kvHeads)]);

      expect(facts!.kvLayers).toEqual([{ layers: 4, kWidth: 512, vWidth: 512, swa: false }]);
      // Conv: (4 − 1) × (3072 + 2·1·128); state: 128 × 3072.
      expect(facts!.recurrent).toEqual({
        kind: 'ssm',
        layers: 36,
        rWidth: 9984,
        sWidth: 393216,
        innerSize: 3072,
        groupWidth: 256,
      });
    });

    it('reads Qwen3-Next: every 4th layer attends, the rest are gated delta nets', async () => {
      const facts = await archFacts('qwen3next', [
        u32('block_count', 48),
        u32('embedding_length', 2048),
        u32('attention.head_count', 16),
        u32('attention.head_count_kv', 2),
        u32('attention.key_length', 256),
        u32('attention.value_length', 256),
        u32('ssm.conv_kernel', 4),
        u32('ssm.inner_size', 4096),
        u32('ssm.state_size', 128),
        u32('ssm.group_count', 16),
        u32('ssm.time_step_rank', 32),
        u32('full_attention_interval', 4),
      ]);

      expect(facts!.kvLayers).toEqual([{ layers: 12, kWidth: 512, vWidth: 512, swa: false }]);
      expect(facts!.recurrent).toMatchObject({ layers: 36, rWidth: 3 * (4096 + 2 * 16 * 128), sWidth: 128 * 4096 });
    });

    it('reads LFM2 with a window: its attention layers are the sliding-window ones', async () => {
      const kvHeads = [0, 0, 8, 0, 0, 8];
      const facts = await archFacts('lfm2', [
        u32('block_count', 6),
        u32('embedding_length', 1024),
        u32('attention.head_count', 16),
        u32s('attention.head_count_kv', kvHeads),
        u32('shortconv.l_cache', 3),
        u32('attention.sliding_window', 512),
      ]);

      expect(facts!.kvLayers).toEqual([{ layers: 2, kWidth: 512, vWidth: 512, swa: true }]);
      expect(facts!.recurrent).toMatchObject({ kind: 'shortconv', layers: 4, rWidth: 2048, sWidth: 0 });
    });

    it('gives an encoder no cache at all', async () => {
      const facts = await archFacts('bert', [
        u32('block_count', 12),
        u32('embedding_length', 768),
        u32('attention.head_count', 12),
      ]);

      expect(facts!.kvLayers).toEqual([]);
      expect(facts!.recurrent).toBeNull();
    });
  });

  describe('when the header cannot tell', () => {
    const plain = [u32('block_count', 4), u32('embedding_length', 512), u32('attention.head_count', 8)];

    it('is null for a header read without its tensor infos', async () => {
      const header = await parseBuilt(
        buildGgufHeader({
          architecture: 'llama',
          contextLength: 4096,
          vocabSize: 1000,
          tensors: EMBEDDING,
          extra: prefixed('llama', plain),
        }),
        { tensorInfos: false, maxInlineArrayLength: 64 },
      );
      expect(modelMemoryFacts([header])).toBeNull();
    });

    it('is null for an unlisted architecture with a sliding window or a state space', async () => {
      expect(await archFacts('newarch', [...plain, u32('attention.sliding_window', 4096)])).toBeNull();
      expect(await archFacts('newarch', [...plain, u32('ssm.state_size', 16)])).toBeNull();
    });

    it('is null for a projector given as the model, a missing context length, or a removed tensor type', async () => {
      const projector = PROJECTORS[0];
      expect(modelMemoryFacts([await parseBuilt(buildGgufFile(projectorFile(projector).layout!))])).toBeNull();
      expect(await factsOf({ architecture: 'llama', tensors: EMBEDDING, extra: prefixed('llama', plain) })).toBeNull();
      const header = await parseBuilt(
        buildGgufHeader({
          architecture: 'llama',
          contextLength: 4096,
          vocabSize: 1000,
          extra: prefixed('llama', plain),
        }),
      );
      // Q4_0_8_8 (31): a type ggml removed, which the writer refuses to write.
      expect(modelMemoryFacts([{ metadata: header.metadata, tensors: [{ dims: [64, 64], type: 31 }] }])).toBeNull();
    });

    it('is null for a per-layer array the reader kept only as a summary (parsed with the default inline limit)', async () => {
      const arch = 'granitehybrid';
      const kvHeads = Array.from({ length: 80 }, (_, i) => (i % 10 === 5 ? 4 : 0));
      const built = buildGgufHeader({
        architecture: arch,
        contextLength: 4096,
        vocabSize: 1000,
        tensors: EMBEDDING,
        extra: prefixed(arch, [
          ...GRANITE_HYBRID.filter((k) => k.key !== 'block_count'),
          u32('block_count', 80),
          u32s('attention.head_count_kv', kvHeads),
        ]),
      });
      expect(modelMemoryFacts([await parseBuilt(built, { tensorInfos: true, maxInlineArrayLength: 64 })])).toBeNull();
      expect(modelMemoryFacts([await parseBuilt(built)])!.kvLayers[0].layers).toBe(8);
    });

    it('is null for no headers at all', () => {
      expect(modelMemoryFacts([])).toBeNull();
    });
  });
});

describe('estimateMemory', () => {
  let llama8b: ModelMemoryFacts;
  let gemma12b: ModelMemoryFacts;
  beforeAll(async () => {
    llama8b = await corpusFacts('Meta-Llama-3.1-8B-Instruct-Q8_0.gguf');
    gemma12b = await corpusFacts('gemma-3-12b-it-Q4_K_M.gguf', 'mmproj-gemma-3-12b-it-f16.gguf');
  });

  it('is null when the facts are', () => {
    expect(estimateMemory(null, { ctxSize: 4096 })).toBeNull();
  });

  describe('a GQA model (Llama 3.1 8B: 32 layers × K and V of 8 heads × 128)', () => {
    // f16: 32 layers × (1024 + 1024) × 2 bytes = 131,072 bytes per cell.
    it.each<[string, MemorySettings, number, number]>([
      ['8,192 cells for one slot', { ctxSize: 8192, parallel: 1 }, 8192, 8192 * 131072],
      ['4 streams of 2,048 cells for 4 slots', { ctxSize: 8192, parallel: 4 }, 8192, 8192 * 131072],
      [
        'one unified stream of 8,192 cells for 4 slots',
        { ctxSize: 8192, parallel: 4, kvUnified: true },
        8192,
        8192 * 131072,
      ],
      [
        'q8_0: 34 bytes per 32 elements',
        { ctxSize: 32768, parallel: 1, cacheTypeK: 'q8_0', cacheTypeV: 'q8_0' },
        32768,
        32768 * 32 * 2 * 1088,
      ],
      [
        'q4_0: 18 bytes per 32 elements',
        { ctxSize: 4096, parallel: 2, cacheTypeK: 'q4_0', cacheTypeV: 'q4_0' },
        4096,
        4096 * 32 * 2 * 576,
      ],
      ['K q8_0 beside V f16', { ctxSize: 16384, parallel: 1, cacheTypeK: 'q8_0' }, 16384, 16384 * 32 * (1088 + 2048)],
      [
        'K f32 beside V bf16',
        { ctxSize: 16384, parallel: 1, cacheTypeK: 'f32', cacheTypeV: 'bf16' },
        16384,
        16384 * 32 * (4096 + 2048),
      ],
      ['a context padded up to 256', { ctxSize: 1000, parallel: 1 }, 1024, 1024 * 131072],
      ['5,000 over 3 slots: 1,792 cells each (pad256(5,120 / 3))', { ctxSize: 5000, parallel: 3 }, 5376, 5376 * 131072],
      ['a context past the training one, allocated whole', { ctxSize: 262144, parallel: 1 }, 262144, 262144 * 131072],
      ['defaults: 4 unified slots of the training context each (--fit)', {}, 524288, 524288 * 131072],
      [
        'no --ctx-size with --fit off: the training context shared by 2 slots',
        { parallel: 2, fit: false },
        131072,
        131072 * 131072,
      ],
      [
        'flash attention off (V transposed, same width)',
        { ctxSize: 8192, parallel: 1, flashAttention: 'off' },
        8192,
        8192 * 131072,
      ],
    ])('%s', (_what, settings, ctxSize, kvCacheBytes) => {
      const sut = est(llama8b, settings);

      expect(sut.ctxSize).toBe(ctxSize);
      expect(sut.kvCacheBytes).toBe(kvCacheBytes);
      expect(sut.weightsBytes).toBe(llama8b.weightsBytes);
      expect(sut.totalBytes).toBe(sut.weightsBytes + sut.kvCacheBytes + sut.computeBytes + sut.projectorBytes);
    });

    it('reports the slots: 4 when llama-server picks them, else as asked', () => {
      expect(est(llama8b, {}).parallel).toBe(4);
      expect(est(llama8b, { parallel: -1 }).parallel).toBe(4);
      expect(est(llama8b, { parallel: 2, ctxSize: 4096 }).parallel).toBe(2);
    });

    it('grows the output buffer by one logits row per slot, and by an embedding with --embeddings', () => {
      const one = est(llama8b, { ctxSize: 4096, parallel: 1 });
      const two = est(llama8b, { ctxSize: 4096, parallel: 2, kvUnified: true });
      const embd = est(llama8b, { ctxSize: 4096, parallel: 1, embeddings: true });

      expect(two.computeBytes - one.computeBytes).toBe(128256 * 4);
      expect(embd.computeBytes - one.computeBytes).toBe(4096 * 4);
    });
  });

  describe('sliding-window layers (Gemma 3 12B: 8 global and 40 SWA layers, window 1,024, 8,192 bytes per layer and cell)', () => {
    it.each<[string, MemorySettings, number]>([
      [
        'one slot: SWA layers hold pad256(1,024 + 512) = 1,536 cells',
        { ctxSize: 8192, parallel: 1 },
        8 * 8192 * 8192 + 40 * 1536 * 8192,
      ],
      [
        '4 slots, own streams: 1,536 SWA cells each',
        { ctxSize: 32768, parallel: 4 },
        4 * (8 * 8192 * 8192 + 40 * 1536 * 8192),
      ],
      [
        '4 slots, unified: pad256(4 × 1,024 + 512) = 4,608 SWA cells',
        { ctxSize: 32768, parallel: 4, kvUnified: true },
        8 * 32768 * 8192 + 40 * 4608 * 8192,
      ],
      ['--swa-full: every layer holds the context', { ctxSize: 8192, parallel: 1, swaFull: true }, 48 * 8192 * 8192],
      ['a context shorter than the window', { ctxSize: 1024, parallel: 1 }, 48 * 1024 * 8192],
      [
        'a 2,048-token ubatch widens the SWA cache',
        { ctxSize: 8192, parallel: 1, ubatchSize: 2048 },
        8 * 8192 * 8192 + 40 * 3072 * 8192,
      ],
    ])('%s', (_what, settings, kvCacheBytes) => {
      expect(est(gemma12b, settings).kvCacheBytes).toBe(kvCacheBytes);
    });

    it('adds the projector’s tensor data', () => {
      const sut = est(gemma12b, { ctxSize: 8192, parallel: 1 });
      expect(sut.projectorBytes).toBe(gemma12b.projectorBytes);
      expect(sut.totalBytes).toBe(sut.weightsBytes + sut.kvCacheBytes + sut.computeBytes + sut.projectorBytes);
    });
  });

  describe('MoE (Qwen3-30B-A3B: 48 layers × K and V of 4 heads × 128)', () => {
    it('sizes the cache like a dense model’s and counts every expert in the weights', async () => {
      const facts = await corpusFacts('Qwen3-30B-A3B-Q4_K_M.gguf');
      const sut = est(facts, { ctxSize: 40960, parallel: 1 });

      expect(sut.kvCacheBytes).toBe(40960 * 48 * 2048);
      expect(sut.weightsBytes).toBeGreaterThan(17e9);
    });
  });

  describe('recurrent and hybrid models', () => {
    it('gives Mamba one f32 state per slot whatever the context', async () => {
      const facts = await archFacts('mamba', [
        u32('block_count', 64),
        u32('embedding_length', 2560),
        u32('ssm.conv_kernel', 4),
        u32('ssm.inner_size', 5120),
        u32('ssm.state_size', 16),
        u32('ssm.time_step_rank', 160),
      ]);
      const perSlot = 64 * (15360 + 81920) * 4;

      expect(est(facts, { ctxSize: 2048, parallel: 1 }).kvCacheBytes).toBe(perSlot);
      expect(est(facts, { ctxSize: 131072, parallel: 1 }).kvCacheBytes).toBe(perSlot);
      expect(est(facts, { ctxSize: 8192, parallel: 2 }).kvCacheBytes).toBe(2 * perSlot);
    });

    it('gives a Granite 4 hybrid a KV cache for its 4 attention layers and states for its 36 Mamba2 layers', async () => {
      const kvHeads = Array.from({ length: 40 }, (_, i) => (i % 10 === 5 ? 4 : 0));
      const facts = await archFacts('granitehybrid', [...GRANITE_HYBRID, u32s('attention.head_count_kv', kvHeads)]);
      const states = 36 * (9984 + 393216) * 4;

      expect(est(facts, { ctxSize: 8192, parallel: 1 }).kvCacheBytes).toBe(8192 * 4 * 2048 + states);
      expect(est(facts, { ctxSize: 8192, parallel: 4 }).kvCacheBytes).toBe(8192 * 4 * 2048 + 4 * states);
    });
  });

  describe('cache types llama-server refuses', () => {
    let phi2Like: ModelMemoryFacts;
    beforeAll(async () => {
      // 2560 wide, 32 heads: head size 80, which no 32-element block divides.
      phi2Like = (await archFacts('phi2', [
        u32('block_count', 32),
        u32('embedding_length', 2560),
        u32('attention.head_count', 32),
      ]))!;
    });

    it.each(['q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'iq4_nl'])(
      'refuses a %s K cache when its block does not divide the head size',
      (type) => {
        expect(() => est(phi2Like, { ctxSize: 2048, cacheTypeK: type })).toThrow(
          new MemorySettingsError(`K cache type ${type} with block size 32 does not divide the head size 80`),
        );
        expect(() => est(phi2Like, { ctxSize: 2048, cacheTypeV: type })).toThrow(MemorySettingsError);
      },
    );

    it('accepts the unquantized types at any head size', () => {
      for (const type of ['f32', 'f16', 'bf16']) {
        expect(est(phi2Like, { ctxSize: 2048, cacheTypeK: type, cacheTypeV: type }).kvCacheBytes).toBeGreaterThan(0);
      }
    });

    it('refuses a quantized V cache without flash attention, as llama.cpp does (also for grok, where it forces it off)', async () => {
      expect(() => est(llama8b, { ctxSize: 2048, cacheTypeV: 'q8_0', flashAttention: 'off' })).toThrow(
        /requires flash attention/,
      );
      const grok = await archFacts('grok', [
        u32('block_count', 2),
        u32('embedding_length', 1024),
        u32('attention.head_count', 8),
      ]);
      expect(() => est(grok, { ctxSize: 2048, cacheTypeV: 'q8_0' })).toThrow(/requires flash attention/);
      expect(est(llama8b, { ctxSize: 2048, cacheTypeK: 'q8_0', flashAttention: 'off' }).kvCacheBytes).toBe(
        2048 * 32 * (1088 + 2048),
      );
    });

    it('refuses different K and V types for an MLA model', async () => {
      const facts = await archFacts('deepseek2', [
        u32('block_count', 61),
        u32('embedding_length', 7168),
        u32('attention.head_count', 128),
        u32('attention.head_count_kv', 1),
        u32('attention.key_length', 576),
        u32('attention.value_length', 512),
        u32('attention.key_length_mla', 192),
        u32('attention.value_length_mla', 128),
      ]);

      expect(() => est(facts, { ctxSize: 4096, cacheTypeK: 'q8_0' })).toThrow(/different K \(q8_0\) and V \(f16\)/);
      expect(est(facts, { ctxSize: 4096 }).kvCacheBytes).toBe(4096 * 61 * 576 * 2);
      expect(est(facts, { ctxSize: 4096, cacheTypeK: 'q8_0', cacheTypeV: 'q8_0' }).kvCacheBytes).toBe(
        4096 * 61 * 18 * 34,
      );
    });

    it('refuses an unknown cache type and slot counts llama-server refuses', () => {
      expect(() => est(llama8b, { cacheTypeK: 'q4_K' })).toThrow(/unsupported K cache type "q4_K"/);
      expect(() => est(llama8b, { parallel: 0 })).toThrow(MemorySettingsError);
      expect(() => est(llama8b, { parallel: 257 })).toThrow(/<= 256/);
      expect(() => est(llama8b, { ctxSize: -5 })).toThrow(MemorySettingsError);
    });
  });

  describe('compute and output buffers (calibrated on llama-server de3ff81, figures it printed)', () => {
    /** Layer shapes written as loadable models and started on the binary; compute + output buffer in MiB. */
    const MEASURED: Array<[string, LoadableModelSpec, MemorySettings, number]> = [
      ['Llama 3.1 8B layers', shape('llama', 4096, 14336, 32, 8, 128256), { ctxSize: 4096, parallel: 1 }, 120.5],
      ['Llama 3.1 8B layers, 32k', shape('llama', 4096, 14336, 32, 8, 128256), { ctxSize: 32768, parallel: 1 }, 148.5],
      [
        'Llama 3.1 8B layers, 4 slots',
        shape('llama', 4096, 14336, 32, 8, 128256),
        { ctxSize: 16384, parallel: 4 },
        121.97,
      ],
      [
        'Llama 3.1 8B layers, no flash attention',
        shape('llama', 4096, 14336, 32, 8, 128256),
        { ctxSize: 4096, parallel: 1, flashAttention: 'off' },
        308.5,
      ],
      [
        'Qwen3 4B layers',
        { ...shape('qwen3', 2560, 9728, 32, 8, 151936), headDim: 128 },
        { ctxSize: 4096, parallel: 1 },
        84.59,
      ],
      ['Qwen2.5 14B layers', shape('llama', 5120, 13824, 40, 8, 152064), { ctxSize: 4096, parallel: 1 }, 125.59],
      [
        'Mistral Small 24B layers',
        { ...shape('llama', 5120, 32768, 32, 8, 131072), headDim: 128 },
        { ctxSize: 4096, parallel: 1 },
        234.51,
      ],
      ['Llama 3.3 70B layers', shape('llama', 8192, 28672, 64, 8, 128256), { ctxSize: 4096, parallel: 1 }, 236.5],
      [
        'Gemma 3 12B layers',
        { ...shape('gemma3', 3840, 15360, 16, 8, 262144), layers: 6, headDim: 256, slidingWindow: 1024 },
        { ctxSize: 4096, parallel: 1 },
        127.02,
      ],
      [
        'Qwen3-30B-A3B layers',
        { ...shape('qwen3moe', 2048, 6144, 32, 4, 151936), headDim: 128, experts: 128, expertsUsed: 8, expertFf: 768 },
        { ctxSize: 4096, parallel: 1 },
        92.59,
      ],
      ['tiny llama (64 wide)', shape('llama', 64, 128, 4, 4, 32000), { ctxSize: 2048, parallel: 1 }, 3.13],
    ];

    function shape(
      architecture: LoadableModelSpec['architecture'],
      embd: number,
      ff: number,
      heads: number,
      kvHeads: number,
      vocab: number,
    ): LoadableModelSpec {
      return { architecture, name: 'shape', layers: 2, embd, ff, heads, kvHeads, vocab, contextLength: 131072 };
    }

    it.each(MEASURED)(
      '%s: within 10 % of what the binary allocated (within 1 % for the dense and MoE shapes)',
      async (name, spec, settings, mib) => {
        const facts = modelMemoryFacts([await parseBuilt(buildGgufFile(loadableModelLayout(spec)))]);
        const sut = est(facts, settings);
        const error = Math.abs(sut.computeBytes - mib * MIB) / (mib * MIB);

        expect(error).toBeLessThan(name.startsWith('tiny') ? 0.1 : 0.01);
      },
    );

    it('grows the compute buffer with the attention mask: 2 bytes per cell and ubatch token', () => {
      const small = est(llama8b, { ctxSize: 4096, parallel: 1 });
      const large = est(llama8b, { ctxSize: 8192, parallel: 1 });
      expect(large.computeBytes - small.computeBytes).toBe(4096 * 512 * 2);
    });
  });
});
