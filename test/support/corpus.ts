/**
 * The GGUF test corpus, generated: header-only files of real models written from the
 * facts in `corpus-table.ts` by the project's own writer (`gguf-writer.ts`). Each model's
 * tensor infos are built per layer from its hyperparameters with the real tensor names
 * and shapes, and typed as llama.cpp's quantizer types them for the file type, so the
 * parameter count, the tensor sizes and the hyperparameters are the real file's.
 *
 * Tensor data is omitted by design: every file ends right after the header alignment
 * padding (tensor offsets point past the end of the file).
 *
 * `GGUF_CORPUS=<folder>` names an extra folder of real GGUF files some specs also read;
 * it is never needed.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GgufType } from '../../src/registry/gguf/gguf-reader';
import {
  BROKEN,
  BrokenFile,
  FILE_TYPE_NUMBER,
  FileTypeName,
  MODELS,
  ModelFacts,
  PROJECTORS,
  ProjectorFacts,
} from './corpus-table';
import {
  breakGguf,
  buildGgufFile,
  ggmlTensorBytes,
  GgmlType,
  GgufKvEntry,
  GgufLayout,
  GgufTensorSpec,
  GgufWriteKv,
} from './gguf-writer';

export { BROKEN, EXPECTED, MODELS, PROJECTORS } from './corpus-table';
export type { ExpectedCorpus, ExpectedModel, ExpectedProjector, ModelFacts, ProjectorFacts } from './corpus-table';

/** A generated corpus in `dir`. */
export interface Corpus {
  dir: string;
  /** Every file written, by name. */
  files: string[];
  /** Absolute path of one of the files. */
  path(file: string): string;
}

/** One file of the corpus as it will be written. */
export interface CorpusFile {
  file: string;
  /** The header; null for the files that are not GGUF at all (empty, plain text). */
  layout: GgufLayout | null;
  /** Damage done to the header bytes, or the raw bytes of a non-GGUF file. */
  broken?: BrokenFile;
}

// ---------------------------------------------------------------------------------------
// Hyperparameters

/** `<arch>.<key>` of a model's table entry; throws when the table lacks it. */
export function hparam(m: ModelFacts | ProjectorFacts, key: string): number {
  const v = hparamOrNull(m, key);
  if (v === null) throw new Error(`${m.file}: no ${key} in the table`);
  return v;
}

export function hparamOrNull(m: ModelFacts | ProjectorFacts, key: string): number | null {
  const all = m.kind === 'model' ? [...m.hparams, ...(m.hparamsAfterFileType ?? [])] : m.hparams;
  const kv = all.find((h) => h.key === key);
  return kv === undefined ? null : Number(kv.value);
}

/** The shapes that drive the tensor list of a text model. */
function dimensions(m: ModelFacts) {
  const embd = hparam(m, 'embedding_length');
  const heads = hparam(m, 'attention.head_count');
  const headDim = hparamOrNull(m, 'attention.key_length') ?? embd / heads;
  return {
    embd,
    layers: hparam(m, 'block_count'),
    ffn: hparam(m, 'feed_forward_length'),
    heads,
    kvHeads: hparam(m, 'attention.head_count_kv'),
    keyLength: headDim,
    valueLength: hparamOrNull(m, 'attention.value_length') ?? headDim,
    experts: hparamOrNull(m, 'expert_count'),
    expertFfn: hparamOrNull(m, 'expert_feed_forward_length'),
    vocab: m.tokenizer.vocabSize,
  };
}

// ---------------------------------------------------------------------------------------
// Per-tensor types: llama.cpp's llama_tensor_get_type (src/llama-quant.cpp) for the file
// types of the table. 1-D tensors and the MoE router stay F32; the output projection (or
// token_embd when the embeddings are tied) gets Q6_K in K-quant files; Q4_K_M / Q5_K_M
// give attn_v and ffn_down Q6_K on the first and last eighth of the layers and on every
// third layer between; a fused attn_qkv gets one step more; in a 70B llama (80 layers)
// the remaining attn_v go Q4_K -> Q5_K.

const BASE_TYPE: Readonly<Record<FileTypeName, GgmlType>> = {
  F16: GgmlType.F16,
  Q8_0: GgmlType.Q8_0,
  Q4_K_M: GgmlType.Q4_K,
  Q5_K_M: GgmlType.Q5_K,
  Q6_K: GgmlType.Q6_K,
};

/** llama.cpp's `use_more_bits(i_layer, n_layers)`. */
export function useMoreBits(layer: number, layers: number): boolean {
  const eighth = Math.trunc(layers / 8);
  return layer < eighth || layer >= Math.trunc((7 * layers) / 8) || (layer - eighth) % 3 === 2;
}

function tensorType(m: ModelFacts, name: string, dims: readonly number[], layer: number, layers: number): GgmlType {
  if (dims.length === 1 || name === 'rope_freqs.weight' || name.endsWith('.ffn_gate_inp.weight')) return GgmlType.F32;
  const base = BASE_TYPE[m.fileType];
  const mixed = m.fileType === 'Q4_K_M' || m.fileType === 'Q5_K_M';
  if (name === 'output.weight' || (name === 'token_embd.weight' && m.tiedEmbeddings)) {
    return base === GgmlType.Q8_0 || base === GgmlType.F16 ? base : GgmlType.Q6_K;
  }
  if (name.endsWith('.attn_v.weight')) {
    const t = mixed && useMoreBits(layer, layers) ? GgmlType.Q6_K : base;
    return m.architecture === 'llama' && layers === 80 && t === GgmlType.Q4_K ? GgmlType.Q5_K : t;
  }
  if (name.endsWith('.ffn_down.weight') || name.endsWith('.ffn_down_exps.weight')) {
    return mixed && useMoreBits(layer, layers) ? GgmlType.Q6_K : base;
  }
  if (name.endsWith('.attn_qkv.weight')) {
    if (m.fileType === 'Q4_K_M') return GgmlType.Q5_K;
    if (m.fileType === 'Q5_K_M') return GgmlType.Q6_K;
  }
  return base;
}

// ---------------------------------------------------------------------------------------
// Tensor lists

type Shape = [name: string, dims: number[]];

/** One layer's tensors (without the `blk.N.` prefix), in the order the converters write them. */
function blockShapes(m: ModelFacts): Shape[] {
  const d = dimensions(m);
  const q = d.heads * d.keyLength;
  const k = d.kvHeads * d.keyLength;
  const v = d.kvHeads * d.valueLength;
  const out = d.heads * d.valueLength;
  const norm = (name: string): Shape => [`${name}.weight`, [d.embd]];
  const w = (name: string, dims: number[]): Shape => [`${name}.weight`, dims];
  const dense: Shape[] = [w('ffn_gate', [d.embd, d.ffn]), w('ffn_up', [d.embd, d.ffn]), w('ffn_down', [d.ffn, d.embd])];
  switch (m.architecture) {
    case 'llama':
      return [
        norm('attn_norm'),
        w('attn_q', [d.embd, q]),
        w('attn_k', [d.embd, k]),
        w('attn_v', [d.embd, v]),
        w('attn_output', [out, d.embd]),
        norm('ffn_norm'),
        ...dense,
      ];
    case 'qwen2':
      return [
        norm('attn_norm'),
        w('attn_q', [d.embd, q]),
        ['attn_q.bias', [q]],
        w('attn_k', [d.embd, k]),
        ['attn_k.bias', [k]],
        w('attn_v', [d.embd, v]),
        ['attn_v.bias', [v]],
        w('attn_output', [out, d.embd]),
        norm('ffn_norm'),
        ...dense,
      ];
    case 'qwen3':
    case 'qwen3moe': {
      const attention: Shape[] = [
        norm('attn_norm'),
        w('attn_q', [d.embd, q]),
        w('attn_k', [d.embd, k]),
        w('attn_v', [d.embd, v]),
        w('attn_q_norm', [d.keyLength]),
        w('attn_k_norm', [d.keyLength]),
        w('attn_output', [out, d.embd]),
        norm('ffn_norm'),
      ];
      if (m.architecture === 'qwen3') return [...attention, ...dense];
      const experts = d.experts!;
      const ffn = d.expertFfn!;
      return [
        ...attention,
        w('ffn_gate_inp', [d.embd, experts]),
        w('ffn_gate_exps', [d.embd, ffn, experts]),
        w('ffn_up_exps', [d.embd, ffn, experts]),
        w('ffn_down_exps', [ffn, d.embd, experts]),
      ];
    }
    case 'gemma3':
      return [
        norm('attn_norm'),
        w('attn_q', [d.embd, q]),
        w('attn_k', [d.embd, k]),
        w('attn_v', [d.embd, v]),
        w('attn_q_norm', [d.keyLength]),
        w('attn_k_norm', [d.keyLength]),
        w('attn_output', [out, d.embd]),
        norm('post_attention_norm'),
        norm('ffn_norm'),
        ...dense,
        norm('post_ffw_norm'),
      ];
    case 'phi3':
      // Fused q|k|v and gate|up projections.
      return [
        norm('attn_norm'),
        w('attn_qkv', [d.embd, q + k + v]),
        w('attn_output', [out, d.embd]),
        norm('ffn_norm'),
        w('ffn_up', [d.embd, 2 * d.ffn]),
        w('ffn_down', [d.ffn, d.embd]),
      ];
  }
}

/** Every tensor info of a text model, in file order, with its ggml type. */
export function modelTensors(m: ModelFacts): GgufTensorSpec[] {
  const d = dimensions(m);
  const shapes: Array<[name: string, dims: number[], layer: number]> = [];
  if (m.ropeFreqsTensor) shapes.push(['rope_freqs.weight', [d.keyLength / 2], -1]);
  shapes.push(['token_embd.weight', [d.embd, d.vocab], -1]);
  const block = blockShapes(m);
  for (let layer = 0; layer < d.layers; layer++) {
    for (const [name, dims] of block) shapes.push([`blk.${layer}.${name}`, dims, layer]);
  }
  shapes.push(['output_norm.weight', [d.embd], -1]);
  if (!m.tiedEmbeddings) shapes.push(['output.weight', [d.embd, d.vocab], -1]);
  return shapes.map(([name, dims, layer]) => ({ name, dims, type: tensorType(m, name, dims, layer, d.layers) }));
}

/** The vision tower and projection of a clip projector, sorted by name as the mmproj converter writes them. */
export function projectorTensors(p: ProjectorFacts): GgufTensorSpec[] {
  const width = hparam(p, 'vision.embedding_length');
  const ffn = hparam(p, 'vision.feed_forward_length');
  const patch = hparam(p, 'vision.patch_size');
  const positions = (hparam(p, 'vision.image_size') / patch) ** 2;
  const weight = BASE_TYPE[p.fileType];
  const t = (name: string, dims: number[], type = dims.length === 1 ? GgmlType.F32 : weight): GgufTensorSpec => ({
    name,
    dims,
    type,
  });
  const out = [
    t('mm.input_projection.weight', [hparam(p, 'vision.projection_dim'), width]),
    t('mm.soft_emb_norm.weight', [width]),
    t('v.patch_embd.bias', [width]),
    // The convolution and the position table stay F32.
    t('v.patch_embd.weight', [patch, patch, 3, width], GgmlType.F32),
    t('v.position_embd.weight', [width, positions], GgmlType.F32),
  ];
  for (let i = 0; i < hparam(p, 'vision.block_count'); i++) {
    const b = `v.blk.${i}`;
    for (const x of ['attn_k', 'attn_out', 'attn_q', 'attn_v']) {
      out.push(t(`${b}.${x}.bias`, [width]), t(`${b}.${x}.weight`, [width, width]));
    }
    out.push(t(`${b}.ffn_down.bias`, [width]), t(`${b}.ffn_down.weight`, [ffn, width]));
    out.push(t(`${b}.ffn_up.bias`, [ffn]), t(`${b}.ffn_up.weight`, [width, ffn]));
    for (const x of ['ln1', 'ln2']) out.push(t(`${b}.${x}.bias`, [width]), t(`${b}.${x}.weight`, [width]));
  }
  out.push(t('v.post_ln.bias', [width]), t('v.post_ln.weight', [width]));
  return out;
}

// ---------------------------------------------------------------------------------------
// Headers

const kv = (key: string, type: GgufType, value: unknown): GgufWriteKv => ({ key, type, value });

function modelKvs(m: ModelFacts): GgufKvEntry[] {
  const t = m.tokenizer;
  const vocab: GgufKvEntry[] = [];
  if (!t.noVocabulary) {
    vocab.push({ vocab: 'tokens', count: t.vocabSize, thinkTokenId: t.thinkTokenId });
    if (t.scores) vocab.push({ vocab: 'scores', count: t.vocabSize });
    vocab.push({ vocab: 'token_type', count: t.vocabSize });
    if (t.merges) vocab.push({ vocab: 'merges', count: t.merges });
  }
  return [
    kv('general.architecture', GgufType.STRING, m.architecture),
    kv('general.type', GgufType.STRING, 'model'),
    ...m.general,
    ...m.hparams.map((h) => ({ ...h, key: `${m.architecture}.${h.key}` })),
    kv('general.file_type', GgufType.UINT32, FILE_TYPE_NUMBER[m.fileType]),
    ...(m.hparamsAfterFileType ?? []).map((h) => ({ ...h, key: `${m.architecture}.${h.key}` })),
    kv('tokenizer.ggml.model', GgufType.STRING, t.model),
    kv('tokenizer.ggml.pre', GgufType.STRING, t.pre),
    ...vocab,
    ...t.ids,
    kv('tokenizer.chat_template', GgufType.STRING, t.chatTemplate),
    kv('general.quantization_version', GgufType.UINT32, 2),
  ];
}

function projectorKvs(p: ProjectorFacts): GgufKvEntry[] {
  return [
    kv('general.architecture', GgufType.STRING, 'clip'),
    kv('general.type', GgufType.STRING, 'mmproj'),
    ...p.general,
    kv('general.file_type', GgufType.UINT32, FILE_TYPE_NUMBER[p.fileType]),
    ...p.hparams.map((h) => ({ ...h, key: `clip.${h.key}` })),
  ];
}

/**
 * gguf-split's `--split-max-size` layout: tensors in order, a new shard whenever the next
 * tensor's (padded) data would push the current one past `maxBytes`. Every shard carries
 * `split.no` / `split.count` / `split.tensors.count` (u16, u16, i32); only the first also
 * carries the model's KVs.
 */
export function splitLayout(kvs: GgufKvEntry[], tensors: GgufTensorSpec[], maxBytes: number): GgufLayout[] {
  const shards: GgufTensorSpec[][] = [[]];
  let size = 0;
  for (const t of tensors) {
    const bytes = Math.ceil(ggmlTensorBytes(t) / 32) * 32;
    if (size + bytes > maxBytes && shards[shards.length - 1].length > 0) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1].push(t);
    size += bytes;
  }
  return shards.map((part, no) => ({
    kvs: [
      ...(no === 0 ? kvs : []),
      kv('split.no', GgufType.UINT16, no),
      kv('split.count', GgufType.UINT16, shards.length),
      kv('split.tensors.count', GgufType.INT32, tensors.length),
    ],
    tensors: part,
  }));
}

/** `Name-Q4_K_M.gguf` → `Name-Q4_K_M-0000k-of-0000n.gguf`, as gguf-split names its output. */
export function shardName(file: string, no: number, count: number): string {
  const pad = (n: number) => String(n).padStart(5, '0');
  return file.replace(/\.gguf$/i, `-${pad(no + 1)}-of-${pad(count)}.gguf`);
}

/** The file(s) of one text model: one, or the shards of a split model. */
export function modelFiles(m: ModelFacts): CorpusFile[] {
  const kvs = modelKvs(m);
  const tensors = modelTensors(m);
  if (m.splitMaxBytes === undefined) return [{ file: m.file, layout: { kvs, tensors } }];
  const shards = splitLayout(kvs, tensors, m.splitMaxBytes);
  return shards.map((layout, no) => ({ file: shardName(m.file, no, shards.length), layout }));
}

export function projectorFile(p: ProjectorFacts): CorpusFile {
  return { file: p.file, layout: { kvs: projectorKvs(p), tensors: projectorTensors(p) } };
}

function brokenFile(b: BrokenFile): CorpusFile {
  const r = b.recipe;
  if (r.kind === 'empty' || r.kind === 'text') return { file: b.file, layout: null, broken: b };
  // A broken file is cut from a whole single-file header.
  return { file: b.file, layout: { kvs: modelKvs(r.base), tensors: modelTensors(r.base) }, broken: b };
}

/** Every file of the corpus: the models (and shards), the projectors, the broken files. */
export function corpusFiles(): CorpusFile[] {
  return [...MODELS.flatMap(modelFiles), ...PROJECTORS.map(projectorFile), ...BROKEN.map(brokenFile)];
}

function bytesOf(f: CorpusFile): Buffer | Buffer[] {
  const r = f.broken?.recipe;
  if (r?.kind === 'empty') return Buffer.alloc(0);
  if (r?.kind === 'text') return Buffer.from(r.text, 'utf8');
  const { chunks } = buildGgufFile(f.layout!);
  if (r === undefined) return chunks;
  const whole = Buffer.concat(chunks);
  switch (r.kind) {
    case 'truncated':
      return breakGguf(whole, { kind: 'truncated', at: r.at });
    case 'huge-string':
      return breakGguf(whole, { kind: 'huge-string', key: r.key });
    case 'huge-tensor-count':
      return breakGguf(whole, { kind: 'huge-tensor-count' });
  }
}

/**
 * Writes the corpus into `dir` (created when missing): every file, or only the files
 * named in `only`. Headers only: the whole corpus is about 60 MB and takes about half a
 * second, most of it building the vocabulary blocks (once per process, then reused).
 */
export async function generateCorpus(dir: string, opts: { only?: readonly string[] } = {}): Promise<Corpus> {
  mkdirSync(dir, { recursive: true });
  const all = corpusFiles();
  const wanted = opts.only ? all.filter((f) => opts.only!.includes(f.file)) : all;
  const missing = (opts.only ?? []).filter((f) => !all.some((x) => x.file === f));
  if (missing.length) throw new Error(`not in the corpus: ${missing.join(', ')}`);
  for (const f of wanted) await writeFile(join(dir, f.file), bytesOf(f));
  return { dir, files: wanted.map((f) => f.file), path: (file) => join(dir, file) };
}

/**
 * For a spec file: generates the whole corpus once into a temp folder before its tests
 * (`beforeAll`) and removes it after them (`afterAll`). The returned getter gives the
 * corpus inside the tests.
 */
export function useCorpus(): () => Corpus {
  let corpus: Corpus | undefined;
  beforeAll(async () => {
    corpus = await generateCorpus(mkdtempSync(join(tmpdir(), 'gguf-corpus-')));
  }, 60_000);
  afterAll(() => {
    if (corpus) rmSync(corpus.dir, { recursive: true, force: true });
  });
  return () => {
    if (!corpus) throw new Error('the corpus is generated in beforeAll: use it inside a test or hook');
    return corpus;
  };
}

/** `$GGUF_CORPUS`: an optional extra folder of real GGUF files, or null. Never required. */
export function extraCorpusDir(): string | null {
  return process.env.GGUF_CORPUS || null;
}
