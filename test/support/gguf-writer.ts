/**
 * Writes GGUF v3 (or v2) headers for tests and benchmarks: real metadata, a realistic
 * vocabulary and tensor infos, and no tensor data (the file ends after the alignment
 * padding, where the data would start). Two ways in:
 *
 * - `buildGgufHeader` / `writeGgufFile`: a few options, tensor infos whose shapes sum to a
 *   chosen parameter count (or explicit ones);
 * - `buildGgufFile` / `writeGgufLayout`: every KV in file order and every tensor info with
 *   its real name, shape and ggml type, as the corpus generator (test/support/corpus.ts)
 *   writes real models' headers. Tensor offsets follow the ggml type sizes, so they are
 *   where the real file's data would be.
 *
 * The vocabulary/merges blocks are built once per size and reused, so thousands of files
 * can be written quickly. Also home of a FileHandle-backed ByteSource for the specs.
 */
import { open, writeFile } from 'fs/promises';
import type { FileHandle } from 'fs/promises';
import { ByteSource, GgufType } from '../../src/registry/gguf/gguf-reader';

/** An extra KV; arrays give `itemType`, and nested arrays give each element as `{ itemType, value }`. */
export interface GgufWriteKv {
  key: string;
  type: GgufType;
  itemType?: GgufType;
  value: unknown;
}

export interface GgufWriteOptions {
  /** GGUF version; default 3. */
  version?: 2 | 3;
  /** `general.architecture`; default `llama`; null writes none (like a later shard of a split model). */
  architecture?: string | null;
  name?: string;
  basename?: string;
  sizeLabel?: string;
  /** `general.file_type` (llama_ftype number, e.g. 15 = Q4_K_M). */
  fileType?: number;
  /** Written as `<architecture>.context_length`. */
  contextLength?: number;
  chatTemplate?: string;
  /** Tokens in `tokenizer.ggml.tokens` (plus a matching `token_type` array); default 150,000; 0 for none. */
  vocabSize?: number;
  /** Also write `tokenizer.ggml.token_type` after the tokens; default true. */
  tokenTypes?: boolean;
  /** Put `<think>`/`</think>` near the end of the vocabulary, as Qwen3 does. */
  thinkToken?: boolean;
  /** Put `<think>` at this token id (and `</think>` right after it); implies thinkToken. */
  thinkTokenId?: number;
  /** Entries in `tokenizer.ggml.merges`; default 0 (none). */
  mergesCount?: number;
  /** `split.no` (0-based) and `split.count`. */
  splitNo?: number;
  splitCount?: number;
  /** `split.tensors.count`: the tensors of all shards together; default this file's tensor count. */
  splitTensorsCount?: number;
  /** Sum of the tensor shapes; default 0. */
  parameterCount?: number;
  /** Tensor infos to spread parameterCount over; default min(291, parameterCount). */
  tensorCount?: number;
  /** Explicit tensor infos instead of parameterCount/tensorCount. */
  tensors?: readonly GgufTensorSpec[];
  /** Written as `general.alignment` when given; default padding is 32. */
  alignment?: number;
  /** Appended after the standard keys. */
  extra?: GgufWriteKv[];
}

export interface GgufWriteResult {
  /** File size: header plus padding. */
  size: number;
  tensorCount: number;
  kvCount: number;
  parameterCount: number;
  /** Bytes the tensor data would take after the header (each tensor padded to the alignment). */
  tensorDataBytes: number;
}

/** How `writeBrokenGgufFile` damages an otherwise valid header. */
export type GgufBreakage =
  | { kind: 'truncated'; at: number }
  | { kind: 'bad-magic' }
  /**
   * A string declaring 2^60 bytes: the value of the existing string KV `key` (its length
   * prefix overwritten in place), or without `key` a `general.name` inserted as first KV.
   */
  | { kind: 'huge-string'; key?: string }
  /** The header declares 2^40 tensor infos. */
  | { kind: 'huge-tensor-count' };

/** ggml tensor types, as numbered in GGUF tensor infos (ggml.h `enum ggml_type`). */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
}

/** Elements per block and bytes per block of each ggml type (ggml.c `type_traits`). */
export const GGML_TYPE_SIZES: Readonly<Record<GgmlType, { blockSize: number; typeSize: number }>> = Object.freeze({
  [GgmlType.F32]: { blockSize: 1, typeSize: 4 },
  [GgmlType.F16]: { blockSize: 1, typeSize: 2 },
  [GgmlType.Q4_0]: { blockSize: 32, typeSize: 18 },
  [GgmlType.Q4_1]: { blockSize: 32, typeSize: 20 },
  [GgmlType.Q5_0]: { blockSize: 32, typeSize: 22 },
  [GgmlType.Q5_1]: { blockSize: 32, typeSize: 24 },
  [GgmlType.Q8_0]: { blockSize: 32, typeSize: 34 },
  [GgmlType.Q8_1]: { blockSize: 32, typeSize: 36 },
  [GgmlType.Q2_K]: { blockSize: 256, typeSize: 84 },
  [GgmlType.Q3_K]: { blockSize: 256, typeSize: 110 },
  [GgmlType.Q4_K]: { blockSize: 256, typeSize: 144 },
  [GgmlType.Q5_K]: { blockSize: 256, typeSize: 176 },
  [GgmlType.Q6_K]: { blockSize: 256, typeSize: 210 },
  [GgmlType.Q8_K]: { blockSize: 256, typeSize: 292 },
  [GgmlType.IQ2_XXS]: { blockSize: 256, typeSize: 66 },
  [GgmlType.IQ2_XS]: { blockSize: 256, typeSize: 74 },
  [GgmlType.IQ3_XXS]: { blockSize: 256, typeSize: 98 },
  [GgmlType.IQ1_S]: { blockSize: 256, typeSize: 50 },
  [GgmlType.IQ4_NL]: { blockSize: 32, typeSize: 18 },
  [GgmlType.IQ3_S]: { blockSize: 256, typeSize: 110 },
  [GgmlType.IQ2_S]: { blockSize: 256, typeSize: 82 },
  [GgmlType.IQ4_XS]: { blockSize: 256, typeSize: 136 },
  [GgmlType.I8]: { blockSize: 1, typeSize: 1 },
  [GgmlType.I16]: { blockSize: 1, typeSize: 2 },
  [GgmlType.I32]: { blockSize: 1, typeSize: 4 },
  [GgmlType.I64]: { blockSize: 1, typeSize: 8 },
  [GgmlType.F64]: { blockSize: 1, typeSize: 8 },
  [GgmlType.IQ1_M]: { blockSize: 256, typeSize: 56 },
  [GgmlType.BF16]: { blockSize: 1, typeSize: 2 },
  [GgmlType.TQ1_0]: { blockSize: 256, typeSize: 54 },
  [GgmlType.TQ2_0]: { blockSize: 256, typeSize: 66 },
  [GgmlType.MXFP4]: { blockSize: 32, typeSize: 17 },
});

/** One tensor info: name, shape in ggml order (ne[0] first: the input dimension of a weight) and type. */
export interface GgufTensorSpec {
  name: string;
  dims: readonly number[];
  type: GgmlType;
}

/** Elements of a tensor: the product of its dims. */
export function tensorElements(t: Pick<GgufTensorSpec, 'dims'>): number {
  return t.dims.reduce((n, d) => n * d, 1);
}

/** Bytes of a tensor's data in its ggml type (rows are whole blocks, as ggml requires). */
export function ggmlTensorBytes(t: GgufTensorSpec): number {
  const traits = GGML_TYPE_SIZES[t.type];
  if (!traits) throw new Error(`unknown ggml type ${t.type} for ${t.name}`);
  if (t.dims[0] % traits.blockSize !== 0) {
    throw new Error(
      `${t.name}: ne[0] = ${t.dims[0]} is not a multiple of ${GgmlType[t.type]}'s block of ${traits.blockSize}`,
    );
  }
  return (tensorElements(t) / traits.blockSize) * traits.typeSize;
}

/**
 * A prebuilt, cached vocabulary KV: `tokenizer.ggml.tokens` (with `<think>`/`</think>` at
 * `thinkTokenId` when given), `.token_type` (all 1), `.scores` (float32) or `.merges`.
 */
export type GgufVocabBlock =
  | { vocab: 'tokens'; count: number; thinkTokenId?: number }
  | { vocab: 'token_type' | 'scores' | 'merges'; count: number };

/** One KV of a `GgufLayout`, in file order. */
export type GgufKvEntry = GgufWriteKv | GgufVocabBlock;

/** A whole header: every KV in file order and every tensor info. */
export interface GgufLayout {
  /** GGUF version; default 3. */
  version?: 2 | 3;
  kvs: readonly GgufKvEntry[];
  tensors: readonly GgufTensorSpec[];
}

class Bytes {
  private buf: Buffer;
  length = 0;
  constructor(capacity = 4096) {
    this.buf = Buffer.allocUnsafe(capacity);
  }
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u8(v: number): this {
    this.room(1);
    this.buf[this.length++] = v;
    return this;
  }
  u32(v: number): this {
    this.room(4);
    this.buf.writeUInt32LE(v, this.length);
    this.length += 4;
    return this;
  }
  u64(v: number | bigint): this {
    this.room(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.length);
    this.length += 8;
    return this;
  }
  raw(b: Buffer): this {
    this.room(b.length);
    b.copy(this.buf, this.length);
    this.length += b.length;
    return this;
  }
  str(s: string): this {
    const n = Buffer.byteLength(s, 'utf8');
    this.u64(n);
    this.room(n);
    this.buf.write(s, this.length, 'utf8');
    this.length += n;
    return this;
  }
  done(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function putScalar(out: Bytes, type: GgufType, value: unknown): void {
  const b = Buffer.allocUnsafe(8);
  switch (type) {
    case GgufType.UINT8:
    case GgufType.INT8:
      b.writeUInt8(Number(value) & 0xff);
      return void out.raw(b.subarray(0, 1));
    case GgufType.BOOL:
      return void out.u8(value ? 1 : 0);
    case GgufType.UINT16:
      b.writeUInt16LE(Number(value));
      return void out.raw(b.subarray(0, 2));
    case GgufType.INT16:
      b.writeInt16LE(Number(value));
      return void out.raw(b.subarray(0, 2));
    case GgufType.UINT32:
      return void out.u32(Number(value));
    case GgufType.INT32:
      b.writeInt32LE(Number(value));
      return void out.raw(b.subarray(0, 4));
    case GgufType.FLOAT32:
      b.writeFloatLE(Number(value));
      return void out.raw(b.subarray(0, 4));
    case GgufType.UINT64:
      return void out.u64(BigInt(value as number | bigint));
    case GgufType.INT64:
      b.writeBigInt64LE(BigInt(value as number | bigint));
      return void out.raw(b);
    case GgufType.FLOAT64:
      b.writeDoubleLE(Number(value));
      return void out.raw(b);
    case GgufType.STRING:
      return void out.str(String(value));
    default:
      throw new Error(`cannot write GGUF type ${type}`);
  }
}

function putValue(out: Bytes, type: GgufType, value: unknown, itemType?: GgufType): void {
  if (type !== GgufType.ARRAY) return putScalar(out, type, value);
  if (itemType === undefined) throw new Error('array KV needs itemType');
  const items = value as unknown[];
  out.u32(itemType).u64(items.length);
  for (const item of items) {
    if (itemType === GgufType.ARRAY) {
      const inner = item as { itemType: GgufType; value: unknown[] };
      putValue(out, GgufType.ARRAY, inner.value, inner.itemType);
    } else {
      putScalar(out, itemType, item);
    }
  }
}

function kv(key: string, type: GgufType, value: unknown, itemType?: GgufType): Buffer {
  const out = new Bytes(64);
  out.str(key).u32(type);
  putValue(out, type, value, itemType);
  return out.done();
}

// Jest runs modules in a vm context where every global lookup (`Math`) is slow: bind them once.
const { floor, imul, ceil, max, min } = Math;

/** Deterministic PRNG (mulberry32) so every run writes the same bytes. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** u64 length prefix without a BigInt per element (lengths here are far below 2^32). */
function putLength(out: Buffer, at: number, n: number): void {
  out.writeUInt32LE(n, at);
  out.writeUInt32LE(0, at + 4);
}

/**
 * Writes token i at `out[at]` (u64 length + bytes): its base-26 digits (so tokens are
 * unique) padded with random letters to a BPE-like length: 2–8 bytes, now and then
 * 8 more, about 5.5 on average (Qwen3's vocabulary averages 5.9). At most 24 bytes.
 */
function putToken(out: Buffer, at: number, i: number, rnd: () => number): number {
  const want = 2 + floor(rnd() * 4) + floor(rnd() * 4) + (rnd() < 0.02 ? 8 : 0);
  let n = 0;
  let x = i;
  do {
    out[at + 8 + n++] = 97 + (x % 26);
    x = floor(x / 26);
  } while (x > 0);
  while (n < want) out[at + 8 + n++] = 97 + floor(rnd() * 26);
  putLength(out, at, n);
  return 8 + n;
}

/** Writes a merge rule "left right" of two 1–5 letter pieces: 7 bytes on average, at most 19 in all. */
function putMerge(out: Buffer, at: number, rnd: () => number): number {
  let n = 0;
  for (let side = 0; side < 2; side++) {
    if (side === 1) out[at + 8 + n++] = 0x20;
    const len = 1 + floor(rnd() * 3) + floor(rnd() * 3);
    for (let k = 0; k < len; k++) out[at + 8 + n++] = 97 + floor(rnd() * 26);
  }
  putLength(out, at, n);
  return 8 + n;
}

const blockCache = new Map<string, Buffer>();

function cached(key: string, build: () => Buffer): Buffer {
  let b = blockCache.get(key);
  if (!b) {
    b = build();
    blockCache.set(key, b);
  }
  return b;
}

/** The whole `tokenizer.ggml.tokens` KV (key, type, array header, elements); `thinkAt` < 0 for no `<think>`. */
function tokensKv(count: number, thinkAt: number): Buffer {
  return cached(`tokens:${count}:${thinkAt}`, () => {
    const head = kv('tokenizer.ggml.tokens', GgufType.ARRAY, [], GgufType.STRING);
    // Room for the longest tokens; trimmed after filling.
    const out = Buffer.allocUnsafe(head.length + count * 32 + 32);
    head.copy(out);
    out.writeBigUInt64LE(BigInt(count), head.length - 8);
    const rnd = prng(0x5eed);
    let at = head.length;
    for (let i = 0; i < count; i++) {
      if (i === thinkAt || i === thinkAt + 1) {
        const t = i === thinkAt ? '<think>' : '</think>';
        putLength(out, at, t.length);
        out.write(t, at + 8, 'latin1');
        at += 8 + t.length;
      } else {
        at += putToken(out, at, i, rnd);
      }
    }
    return out.subarray(0, at);
  });
}

/** `tokenizer.ggml.token_type`: a fixed-size i32 array, which the reader steps over in O(1). */
function tokenTypesKv(count: number): Buffer {
  return cached(`types:${count}`, () => {
    const head = kv('tokenizer.ggml.token_type', GgufType.ARRAY, [], GgufType.INT32);
    const out = Buffer.alloc(head.length + count * 4);
    head.copy(out);
    out.writeBigUInt64LE(BigInt(count), head.length - 8);
    for (let i = 0; i < count; i++) out.writeInt32LE(1, head.length + i * 4);
    return out;
  });
}

/** `tokenizer.ggml.scores`: a fixed-size f32 array (SentencePiece log-probabilities, falling with the id). */
function scoresKv(count: number): Buffer {
  return cached(`scores:${count}`, () => {
    const head = kv('tokenizer.ggml.scores', GgufType.ARRAY, [], GgufType.FLOAT32);
    const out = Buffer.alloc(head.length + count * 4);
    head.copy(out);
    out.writeBigUInt64LE(BigInt(count), head.length - 8);
    for (let i = 0; i < count; i++) out.writeFloatLE(-i, head.length + i * 4);
    return out;
  });
}

function vocabBlock(b: GgufVocabBlock): Buffer {
  switch (b.vocab) {
    case 'tokens':
      return tokensKv(b.count, b.thinkTokenId ?? -1);
    case 'token_type':
      return tokenTypesKv(b.count);
    case 'scores':
      return scoresKv(b.count);
    case 'merges':
      return mergesKv(b.count);
  }
}

/** `tokenizer.ggml.merges`: "left right" pairs of BPE-like pieces. */
function mergesKv(count: number): Buffer {
  return cached(`merges:${count}`, () => {
    const head = kv('tokenizer.ggml.merges', GgufType.ARRAY, [], GgufType.STRING);
    const out = Buffer.allocUnsafe(head.length + count * 19 + 32);
    head.copy(out);
    out.writeBigUInt64LE(BigInt(count), head.length - 8);
    const rnd = prng(0xbeef);
    let at = head.length;
    for (let i = 0; i < count; i++) at += putMerge(out, at, rnd);
    return out.subarray(0, at);
  });
}

const BLOCK_TENSORS = [
  'attn_norm',
  'attn_q',
  'attn_k',
  'attn_v',
  'attn_output',
  'ffn_norm',
  'ffn_gate',
  'ffn_up',
  'ffn_down',
];

/** `count` tensors whose element counts sum exactly to `total`, named and shaped like a llama model. */
function syntheticTensors(total: number, count: number): GgufTensorSpec[] {
  const out: GgufTensorSpec[] = [];
  if (count === 0) return out;
  // Multiples of 4096 make 2-D [4096, n] shapes like real weights; the last tensor takes the rest.
  const each = floor(total / count / 4096) * 4096 || floor(total / count);
  for (let i = 0; i < count; i++) {
    const elements = i === count - 1 ? total - each * (count - 1) : each;
    const name =
      i === 0
        ? 'token_embd.weight'
        : i === count - 1
          ? 'output_norm.weight'
          : `blk.${floor((i - 1) / BLOCK_TENSORS.length)}.${BLOCK_TENSORS[(i - 1) % BLOCK_TENSORS.length]}.weight`;
    const two = elements > 4096 && elements % 4096 === 0;
    out.push({
      name,
      dims: two ? [4096, elements / 4096] : [elements],
      type: two ? GgmlType.Q4_K : GgmlType.F32,
    });
  }
  return out;
}

/**
 * The tensor-info section: each info's offset is where its data would start, every
 * tensor's data padded to `alignment` as ggml lays it out.
 */
function tensorInfoBlock(
  tensors: readonly GgufTensorSpec[],
  alignment: number,
): { block: Buffer; parameterCount: number; dataBytes: number } {
  const out = new Bytes(tensors.length * 64 + 64);
  let offset = 0;
  let parameterCount = 0;
  for (const t of tensors) {
    out.str(t.name).u32(t.dims.length);
    for (const d of t.dims) out.u64(d);
    out.u32(t.type).u64(offset);
    offset += ceil(ggmlTensorBytes(t) / alignment) * alignment;
    parameterCount += tensorElements(t);
  }
  return { block: out.done(), parameterCount, dataBytes: offset };
}

/** Header, KVs, tensor infos and the padding up to the alignment, as buffers to write in order. */
function assemble(
  version: number,
  kvs: Buffer[],
  tensors: readonly GgufTensorSpec[],
  alignment: number,
): { chunks: Buffer[]; result: GgufWriteResult } {
  const head = new Bytes(24).raw(Buffer.from('GGUF', 'latin1')).u32(version).u64(tensors.length).u64(kvs.length).done();
  const infos = tensorInfoBlock(tensors, alignment);
  const unpadded = head.length + kvs.reduce((n, b) => n + b.length, 0) + infos.block.length;
  const size = ceil(unpadded / alignment) * alignment;
  const chunks = [head, ...kvs, infos.block, Buffer.alloc(size - unpadded)];
  return {
    chunks,
    result: {
      size,
      tensorCount: tensors.length,
      kvCount: kvs.length,
      parameterCount: infos.parameterCount,
      tensorDataBytes: infos.dataBytes,
    },
  };
}

/**
 * The header as a list of buffers (shared vocabulary blocks are not copied), ready to
 * be written in order; also what it declares.
 */
export function buildGgufHeader(opts: GgufWriteOptions = {}): { chunks: Buffer[]; result: GgufWriteResult } {
  const arch = opts.architecture === undefined ? 'llama' : opts.architecture;
  const parameterCount = opts.parameterCount ?? 0;
  const tensorCount = opts.tensors?.length ?? opts.tensorCount ?? min(291, parameterCount);
  if (tensorCount === 0 && parameterCount > 0) throw new Error('parameterCount needs at least one tensor');
  const vocab = opts.vocabSize ?? 150_000;
  const alignment = opts.alignment ?? 32;
  const thinkAt = opts.thinkTokenId ?? (opts.thinkToken ? max(0, vocab - 269) : -1);

  const kvs: Buffer[] = [];
  if (arch !== null) kvs.push(kv('general.architecture', GgufType.STRING, arch));
  if (arch !== null) kvs.push(kv('general.type', GgufType.STRING, arch === 'clip' ? 'mmproj' : 'model'));
  if (opts.name !== undefined) kvs.push(kv('general.name', GgufType.STRING, opts.name));
  if (opts.basename !== undefined) kvs.push(kv('general.basename', GgufType.STRING, opts.basename));
  if (opts.sizeLabel !== undefined) kvs.push(kv('general.size_label', GgufType.STRING, opts.sizeLabel));
  if (opts.alignment !== undefined) kvs.push(kv('general.alignment', GgufType.UINT32, alignment));
  if (opts.contextLength !== undefined && arch !== null) {
    kvs.push(kv(`${arch}.context_length`, GgufType.UINT32, opts.contextLength));
  }
  if (opts.fileType !== undefined) kvs.push(kv('general.file_type', GgufType.UINT32, opts.fileType));
  if (vocab > 0) {
    kvs.push(kv('tokenizer.ggml.model', GgufType.STRING, 'gpt2'));
    kvs.push(tokensKv(vocab, thinkAt));
    if (opts.tokenTypes ?? true) kvs.push(tokenTypesKv(vocab));
  }
  if (opts.mergesCount) kvs.push(mergesKv(opts.mergesCount));
  if (opts.chatTemplate !== undefined) kvs.push(kv('tokenizer.chat_template', GgufType.STRING, opts.chatTemplate));
  if (opts.splitCount !== undefined) {
    kvs.push(kv('split.no', GgufType.UINT16, opts.splitNo ?? 0));
    kvs.push(kv('split.count', GgufType.UINT16, opts.splitCount));
    kvs.push(kv('split.tensors.count', GgufType.INT32, opts.splitTensorsCount ?? tensorCount));
  }
  for (const e of opts.extra ?? []) kvs.push(kv(e.key, e.type, e.value, e.itemType));

  const tensors = opts.tensors ?? syntheticTensors(parameterCount, tensorCount);
  return assemble(opts.version ?? 3, kvs, tensors, alignment);
}

/**
 * A header laid out exactly as `layout` says: its KVs in order (vocabulary blocks built
 * once and reused) and its tensor infos. The alignment is `general.alignment` when the
 * layout sets it, else 32.
 */
export function buildGgufFile(layout: GgufLayout): { chunks: Buffer[]; result: GgufWriteResult } {
  let alignment = 32;
  const kvs = layout.kvs.map((e) => {
    if ('vocab' in e) return vocabBlock(e);
    if (e.key === 'general.alignment') alignment = Number(e.value);
    return kv(e.key, e.type, e.value, e.itemType);
  });
  return assemble(layout.version ?? 3, kvs, layout.tensors, alignment);
}

/** Writes a valid GGUF header-only file at `filePath`. */
export async function writeGgufFile(filePath: string, opts: GgufWriteOptions = {}): Promise<GgufWriteResult> {
  const { chunks, result } = buildGgufHeader(opts);
  await writeFile(filePath, chunks);
  return result;
}

/** Writes the header-only file `layout` describes at `filePath`. */
export async function writeGgufLayout(filePath: string, layout: GgufLayout): Promise<GgufWriteResult> {
  const { chunks, result } = buildGgufFile(layout);
  await writeFile(filePath, chunks);
  return result;
}

/** Start of the value of the string KV `key` in a whole header (its u64 length prefix). */
function stringValueAt(bytes: Buffer, key: string): number {
  const name = Buffer.byteLength(key, 'utf8');
  const pattern = Buffer.alloc(8 + name + 4);
  pattern.writeUInt32LE(name, 0);
  pattern.write(key, 8, 'utf8');
  pattern.writeUInt32LE(GgufType.STRING, 8 + name);
  const at = bytes.indexOf(pattern, 24);
  if (at < 0) throw new Error(`no string KV "${key}" in the header`);
  return at + pattern.length;
}

/** A copy of the whole header `bytes`, damaged as `breakage` says. */
export function breakGguf(bytes: Buffer, breakage: GgufBreakage): Buffer {
  switch (breakage.kind) {
    case 'truncated':
      return Buffer.from(bytes.subarray(0, breakage.at));
    case 'bad-magic': {
      const out = Buffer.from(bytes);
      out.write('GGML', 0, 'latin1');
      return out;
    }
    case 'huge-tensor-count': {
      const out = Buffer.from(bytes);
      out.writeBigUInt64LE(1n << 40n, 8);
      return out;
    }
    case 'huge-string': {
      if (breakage.key !== undefined) {
        const out = Buffer.from(bytes);
        out.writeBigUInt64LE(1n << 60n, stringValueAt(out, breakage.key));
        return out;
      }
      // A first KV whose string value claims 2^60 bytes; whatever follows is never reached.
      const bad = new Bytes(64)
        .str('general.name')
        .u32(GgufType.STRING)
        .u64(1n << 60n)
        .done();
      const out = Buffer.concat([bytes.subarray(0, 24), bad, bytes.subarray(24)]);
      out.writeBigUInt64LE(out.readBigUInt64LE(16) + 1n, 16);
      return out;
    }
  }
}

/** Writes the header `opts` (or a layout) describes, damaged as `breakage` says. */
export async function writeBrokenGgufFile(
  filePath: string,
  breakage: GgufBreakage,
  opts: GgufWriteOptions | GgufLayout = {},
): Promise<void> {
  const built = 'kvs' in opts ? buildGgufFile(opts) : buildGgufHeader(opts);
  await writeFile(filePath, breakGguf(Buffer.concat(built.chunks), breakage));
}

/** ByteSource over an open FileHandle; the caller closes the handle. */
export function fileHandleSource(fh: FileHandle, size: number): ByteSource {
  return {
    size,
    async read(position, length, into) {
      const buf = into ?? Buffer.allocUnsafe(length);
      const { bytesRead } = await fh.read(buf, 0, min(length, buf.length), position);
      return buf.subarray(0, bytesRead);
    },
  };
}

/** Opens `filePath` as a ByteSource; `close()` releases the handle. */
export async function openByteSource(filePath: string): Promise<ByteSource & { close(): Promise<void> }> {
  const fh = await open(filePath, 'r');
  const { size } = await fh.stat();
  return Object.assign(fileHandleSource(fh, size), { close: () => fh.close() });
}
