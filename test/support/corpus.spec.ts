import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GgufHeader, GgufParseError, parseGgufHeader } from '../../src/registry/gguf/gguf-reader';
import { deriveModelInfo, ModelInfo } from '../../src/registry/gguf/model-info';
import { planScan } from '../../src/registry/scan-plan';
import {
  BROKEN,
  Corpus,
  corpusFiles,
  EXPECTED,
  generateCorpus,
  hparam,
  modelFiles,
  MODELS,
  modelTensors,
  PROJECTORS,
  projectorTensors,
  useMoreBits,
} from './corpus';
import { ModelFacts } from './corpus-table';
import { ggmlTensorBytes, GgmlType, GgufTensorSpec, openByteSource, tensorElements } from './gguf-writer';

const byFile = (file: string): ModelFacts => {
  const m = MODELS.find((x) => x.file === file || modelFiles(x).some((f) => f.file === file));
  if (!m) throw new Error(`${file} is not in the table`);
  return m;
};

/** Type name → tensor count, over the tensors whose name matches. */
function typeCounts(tensors: GgufTensorSpec[], match: RegExp): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of tensors) if (match.test(t.name)) out[GgmlType[t.type]] = (out[GgmlType[t.type]] ?? 0) + 1;
  return out;
}

const dataBytes = (tensors: GgufTensorSpec[]): number =>
  tensors.reduce((n, t) => n + Math.ceil(ggmlTensorBytes(t) / 32) * 32, 0);

describe('generated GGUF corpus', () => {
  let corpus: Corpus;
  let elapsedMs: number;
  const headers = new Map<string, GgufHeader>();

  async function read(file: string): Promise<GgufHeader> {
    const src = await openByteSource(corpus.path(file));
    try {
      return await parseGgufHeader(src);
    } finally {
      await src.close();
    }
  }

  beforeAll(async () => {
    const started = performance.now();
    corpus = await generateCorpus(mkdtempSync(join(tmpdir(), 'gguf-corpus-spec-')));
    elapsedMs = performance.now() - started;
    const broken = new Set(BROKEN.map((b) => b.file));
    for (const f of corpus.files) if (!broken.has(f)) headers.set(f, await read(f));
  }, 60_000);

  afterAll(() => {
    if (corpus) rmSync(corpus.dir, { recursive: true, force: true });
  });

  it('writes the whole corpus in a few seconds at most', () => {
    expect(elapsedMs).toBeLessThan(5000);
    expect(corpus.files.sort()).toEqual(
      corpusFiles()
        .map((f) => f.file)
        .sort(),
    );
  });

  it('lists in the expected table exactly the models, projectors and broken files it writes', () => {
    const listed = [
      ...EXPECTED.models.flatMap((m) => m.split?.files ?? [m.file]),
      ...EXPECTED.projectors,
      ...EXPECTED.broken.map((b) => b.file),
    ];
    expect(listed.sort()).toEqual([...corpus.files].sort());
  });

  it('writes the same bytes every time', async () => {
    const again = await generateCorpus(mkdtempSync(join(tmpdir(), 'gguf-corpus-spec-')), {
      only: ['Qwen3-4B-Q4_K_M.gguf', 'huge-string.gguf'],
    });
    try {
      const hash = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
      for (const f of again.files) expect(hash(again.path(f))).toBe(hash(corpus.path(f)));
    } finally {
      rmSync(again.dir, { recursive: true, force: true });
    }
  });

  describe.each(EXPECTED.models.map((e) => [e.file, e] as const))('%s', (_file, e) => {
    const files = e.split?.files ?? [e.file];
    const shards = () => files.map((f) => headers.get(f)!);
    const info = (): ModelInfo => deriveModelInfo(headers.get(e.file)!, e.file);

    it('reads back, with the project reader, to the real parameter count (within 2%) and tensor count', () => {
      const params = shards().reduce((n, h) => n + h.parameterCount, 0);
      expect(Math.abs(params - e.parameterCount) / e.parameterCount).toBeLessThan(0.02);
      expect(shards().reduce((n, h) => n + h.tensorCount, 0)).toBe(e.tensorCount);
    });

    it('reads back to the architecture, quantization, context length, size label and thinking of the table', () => {
      expect(info()).toMatchObject({
        architecture: e.architecture,
        quantization: e.quantization,
        contextLength: e.contextLength,
        sizeLabel: e.sizeLabel,
        displayName: e.name,
        isThinkingModel: e.isThinkingModel,
        isProjector: false,
      });
      expect(e.familyAlternatives).toContain(info().family);
    });

    it('carries the hyperparameters a memory estimate needs', () => {
      const md = headers.get(e.file)!.metadata;
      const a = e.architecture;
      expect(md).toMatchObject({
        [`${a}.block_count`]: e.blockCount,
        [`${a}.embedding_length`]: e.embeddingLength,
        'general.file_type': e.fileType,
        'tokenizer.ggml.tokens': { type: 'string', length: e.vocabSize },
      });
      for (const key of ['feed_forward_length', 'attention.head_count', 'attention.head_count_kv', 'rope.freq_base']) {
        expect({ key, value: typeof md[`${a}.${key}`] }).toEqual({ key, value: 'number' });
      }
      expect(md[`${a}.expert_count`] ?? null).toBe(e.expertCount);
      expect(md[`${a}.expert_used_count`] ?? null).toBe(e.expertUsedCount);
    });

    it('has tensors whose types add up to the real file size (within 1%)', () => {
      const tensors = modelTensors(byFile(e.file));
      expect(Math.abs(dataBytes(tensors) - e.tensorDataBytes) / e.tensorDataBytes).toBeLessThan(0.01);
      expect(tensors.reduce((n, t) => n + tensorElements(t), 0)).toBe(
        shards().reduce((n, h) => n + h.parameterCount, 0),
      );
    });

    it('ends each file right after the header padding', () => {
      for (const f of files) expect(statSync(corpus.path(f)).size).toBe(headers.get(f)!.headerBytes);
    });

    if (e.split) {
      it(`is split in ${e.split.count} shards as gguf-split writes them`, () => {
        const [first, ...later] = shards();
        expect(first.metadata).toMatchObject({ 'split.no': 0, 'split.count': e.split!.count });
        later.forEach((h, i) =>
          expect(h.metadata).toEqual({
            'split.no': i + 1,
            'split.count': e.split!.count,
            'split.tensors.count': e.tensorCount,
          }),
        );
        expect(shards().map((h) => h.tensorCount > 0)).toEqual(files.map(() => true));
        expect(files.map((f) => deriveModelInfo(headers.get(f)!, f).split?.fileNames)).toEqual(
          files.map(() => e.split!.files),
        );
      });
    } else {
      it('is a single file', () => {
        expect(info().split).toBeNull();
        expect(info().sizeParams).toBe(e.sizeParams);
      });
    }
  });

  describe('tensor lists', () => {
    it('names and shapes the tensors of a layer as the real Qwen3 has them', () => {
      const tensors = modelTensors(byFile('Qwen3-4B-Q4_K_M.gguf'));
      const blk0 = tensors.filter((t) => t.name.startsWith('blk.0.')).map((t) => [t.name, t.dims]);

      expect(tensors[0]).toEqual({ name: 'token_embd.weight', dims: [2560, 151936], type: GgmlType.Q6_K });
      expect(blk0).toEqual([
        ['blk.0.attn_norm.weight', [2560]],
        ['blk.0.attn_q.weight', [2560, 4096]],
        ['blk.0.attn_k.weight', [2560, 1024]],
        ['blk.0.attn_v.weight', [2560, 1024]],
        ['blk.0.attn_q_norm.weight', [128]],
        ['blk.0.attn_k_norm.weight', [128]],
        ['blk.0.attn_output.weight', [4096, 2560]],
        ['blk.0.ffn_norm.weight', [2560]],
        ['blk.0.ffn_gate.weight', [2560, 9728]],
        ['blk.0.ffn_up.weight', [2560, 9728]],
        ['blk.0.ffn_down.weight', [9728, 2560]],
      ]);
      // Tied embeddings: no output.weight.
      expect(tensors[tensors.length - 1].name).toBe('output_norm.weight');
    });

    it('gives the MoE model 3-D expert tensors, an F32 router and no dense FFN', () => {
      const m = byFile('Qwen3-30B-A3B-Q4_K_M.gguf');
      const blk = modelTensors(m).filter((t) => t.name.startsWith('blk.7.'));
      const byName = (s: string) => blk.find((t) => t.name === `blk.7.${s}.weight`);

      expect(byName('ffn_gate_inp')).toEqual({
        name: 'blk.7.ffn_gate_inp.weight',
        dims: [2048, 128],
        type: GgmlType.F32,
      });
      expect(byName('ffn_gate_exps')?.dims).toEqual([2048, 768, 128]);
      expect(byName('ffn_up_exps')?.dims).toEqual([2048, 768, 128]);
      expect(byName('ffn_down_exps')?.dims).toEqual([768, 2048, 128]);
      expect(byName('ffn_gate')).toBeUndefined();
      expect(byName('attn_k')?.dims).toEqual([2048, 4 * 128]);
      expect(hparam(m, 'expert_used_count')).toBe(8);
    });

    it('types a Q4_K_M model as llama.cpp does: Q6_K for the output and for attn_v / ffn_down on the use_more_bits layers', () => {
      const m = byFile('DeepSeek-R1-Distill-Llama-8B-Q4_K_M.gguf');
      const tensors = modelTensors(m);
      const q6Layers = (kind: string) =>
        tensors
          .filter((t) => t.name.endsWith(`.${kind}.weight`) && t.type === GgmlType.Q6_K)
          .map((t) => Number(t.name.split('.')[1]));
      const expected = Array.from({ length: 32 }, (_, i) => i).filter((i) => useMoreBits(i, 32));

      expect(expected).toEqual([0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]);
      expect(q6Layers('attn_v')).toEqual(expected);
      expect(q6Layers('ffn_down')).toEqual(expected);
      expect(typeCounts(tensors, /./)).toEqual({ F32: 66, Q4_K: 193, Q6_K: 33 });
      expect(tensors.find((t) => t.name === 'output.weight')?.type).toBe(GgmlType.Q6_K);
    });

    it('keeps every weight of a Q8_0 model in Q8_0 and every norm in F32', () => {
      const tensors = modelTensors(byFile('Meta-Llama-3.1-8B-Instruct-Q8_0.gguf'));
      expect(typeCounts(tensors, /./)).toEqual({ F32: 66, Q8_0: 226 });
    });

    it('gives the 70B llama Q5_K instead of Q4_K for the remaining attn_v, and phi3 a Q5_K attn_qkv', () => {
      expect(typeCounts(modelTensors(byFile('Llama-3.3-70B-Instruct-Q4_K_M.gguf')), /attn_v/)).toEqual({
        Q5_K: 40,
        Q6_K: 40,
      });
      expect(typeCounts(modelTensors(byFile('phi-4-Q4_K_M.gguf')), /attn_qkv/)).toEqual({ Q5_K: 40 });
    });

    it('writes gemma3 sliding-window facts and the projector with its SigLIP tower', () => {
      const gemma = headers.get('gemma-3-12b-it-Q4_K_M.gguf')!.metadata;
      expect(gemma).toMatchObject({
        'gemma3.attention.sliding_window': 1024,
        'gemma3.attention.key_length': 256,
        'gemma3.attention.value_length': 256,
        'gemma3.attention.head_count_kv': 8,
      });
      expect(byFile('gemma-3-12b-it-Q4_K_M.gguf').slidingWindowPattern).toBe(6);

      const p = EXPECTED.projectorDetails[0];
      const tensors = projectorTensors(PROJECTORS[0]);
      expect(tensors).toHaveLength(p.tensorCount);
      expect(dataBytes(tensors)).toBe(p.tensorDataBytes);
      expect(deriveModelInfo(headers.get(p.file)!, p.file)).toMatchObject({
        architecture: 'clip',
        isProjector: true,
        quantization: p.quantization,
        parameterCount: p.parameterCount,
        sizeParams: p.sizeParams,
      });
      expect(headers.get(p.file)!.metadata['clip.projector_type']).toBe(p.projectorType);
    });
  });

  describe('as the scanner sees it', () => {
    it('pairs the projector with its model and groups the shards into one model', () => {
      const files = [...headers].map(([f, h]) => ({
        path: corpus.path(f),
        size: statSync(corpus.path(f)).size,
        info: { ...deriveModelInfo(h, f), name: deriveModelInfo(h, f).displayName, idBase: '' },
      }));
      const plan = planScan(files);

      expect(plan.errors).toEqual([]);
      expect(plan.models.map((m) => m.filePath.split('/').pop()).sort()).toEqual(
        EXPECTED.models.map((m) => m.file).sort(),
      );
      for (const e of EXPECTED.models) {
        const m = plan.models.find((x) => x.filePath === corpus.path(e.file))!;
        expect({ file: e.file, mmproj: m.mmprojPath?.split('/').pop() ?? null }).toEqual({
          file: e.file,
          mmproj: e.mmproj,
        });
        expect({ file: e.file, params: m.parameterCount }).toEqual({ file: e.file, params: e.parameterCount });
      }
    });
  });

  describe('broken files', () => {
    it.each(BROKEN.map((b) => [b.file, b] as const))('%s is refused by the reader', async (file, b) => {
      const err = await read(file).then(
        () => undefined,
        (e: unknown) => e,
      );

      expect(err).toBeInstanceOf(GgufParseError);
      if (b.recipe.kind === 'truncated') expect(statSync(corpus.path(file)).size).toBe(b.recipe.at);
      if (b.recipe.kind === 'empty') expect(statSync(corpus.path(file)).size).toBe(0);
    });
  });
});
