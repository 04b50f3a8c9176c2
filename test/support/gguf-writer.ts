/**
 * Writes GGUF v3 (or v2) headers for tests and benchmarks: real metadata, a realistic
 * vocabulary and tensor infos whose shapes sum to a chosen parameter count, and no
 * tensor data (the file ends after the alignment padding, like the shared corpus).
 * The vocabulary/merges blocks are built once per size and reused, so thousands of
 * files can be written quickly.
 *
 * Also home of the shared GGUF test helpers: a FileHandle-backed ByteSource and the
 * location of the shared corpus.
 */
import { open, writeFile } from 'fs/promises';
import type { FileHandle } from 'fs/promises';
import { ByteSource, GgufType } from '../../src/registry/gguf/gguf-reader';
import { CORPUS_DIR } from './corpus';

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
  /** Entries in `tokenizer.ggml.merges`; default 0 (none). */
  mergesCount?: number;
  /** `split.no` (0-based) and `split.count`; `split.tensors.count` is the tensor count. */
  splitNo?: number;
  splitCount?: number;
  /** Sum of the tensor shapes; default 0. */
  parameterCount?: number;
  /** Tensor infos to spread parameterCount over; default min(291, parameterCount). */
  tensorCount?: number;
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
}

/** How `writeBrokenGgufFile` damages an otherwise valid header. */
export type GgufBreakage =
  | { kind: 'truncated'; at: number }
  | { kind: 'bad-magic' }
  /** `general.name` declares a 2^60-byte string. */
  | { kind: 'huge-string' }
  /** The header declares 2^40 tensor infos. */
  | { kind: 'huge-tensor-count' };

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

/** The whole `tokenizer.ggml.tokens` KV (key, type, array header, elements). */
function tokensKv(count: number, think: boolean): Buffer {
  return cached(`tokens:${count}:${think}`, () => {
    const head = kv('tokenizer.ggml.tokens', GgufType.ARRAY, [], GgufType.STRING);
    // Room for the longest tokens; trimmed after filling.
    const out = Buffer.allocUnsafe(head.length + count * 32 + 32);
    head.copy(out);
    out.writeBigUInt64LE(BigInt(count), head.length - 8);
    const rnd = prng(0x5eed);
    const thinkAt = think ? max(0, count - 269) : -1;
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
const GGML_TYPE_F32 = 0;
const GGML_TYPE_Q4_K = 12;

/** Tensor infos whose element counts sum exactly to `total`, named and shaped like a llama model. */
function tensorInfos(total: number, count: number): Buffer {
  const out = new Bytes(count * 48 + 64);
  if (count === 0) return out.done();
  // Multiples of 4096 make 2-D [4096, n] shapes like real weights; the last tensor takes the rest.
  const each = floor(total / count / 4096) * 4096 || floor(total / count);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const elements = i === count - 1 ? total - each * (count - 1) : each;
    const name =
      i === 0
        ? 'token_embd.weight'
        : i === count - 1
          ? 'output_norm.weight'
          : `blk.${floor((i - 1) / BLOCK_TENSORS.length)}.${BLOCK_TENSORS[(i - 1) % BLOCK_TENSORS.length]}.weight`;
    const dims = elements > 4096 && elements % 4096 === 0 ? [4096, elements / 4096] : [elements];
    out.str(name).u32(dims.length);
    for (const d of dims) out.u64(d);
    out.u32(dims.length === 2 ? GGML_TYPE_Q4_K : GGML_TYPE_F32).u64(offset);
    offset += ceil(elements / 32) * 32;
  }
  return out.done();
}

/**
 * The header as a list of buffers (shared vocabulary blocks are not copied), ready to
 * be written in order; also what it declares.
 */
export function buildGgufHeader(opts: GgufWriteOptions = {}): { chunks: Buffer[]; result: GgufWriteResult } {
  const arch = opts.architecture === undefined ? 'llama' : opts.architecture;
  const parameterCount = opts.parameterCount ?? 0;
  const tensorCount = opts.tensorCount ?? min(291, parameterCount);
  if (tensorCount === 0 && parameterCount > 0) throw new Error('parameterCount needs at least one tensor');
  const vocab = opts.vocabSize ?? 150_000;
  const alignment = opts.alignment ?? 32;

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
    kvs.push(tokensKv(vocab, opts.thinkToken ?? false));
    if (opts.tokenTypes ?? true) kvs.push(tokenTypesKv(vocab));
  }
  if (opts.mergesCount) kvs.push(mergesKv(opts.mergesCount));
  if (opts.chatTemplate !== undefined) kvs.push(kv('tokenizer.chat_template', GgufType.STRING, opts.chatTemplate));
  if (opts.splitCount !== undefined) {
    kvs.push(kv('split.no', GgufType.UINT16, opts.splitNo ?? 0));
    kvs.push(kv('split.count', GgufType.UINT16, opts.splitCount));
    kvs.push(kv('split.tensors.count', GgufType.INT32, tensorCount));
  }
  for (const e of opts.extra ?? []) kvs.push(kv(e.key, e.type, e.value, e.itemType));

  const head = new Bytes(24)
    .raw(Buffer.from('GGUF', 'latin1'))
    .u32(opts.version ?? 3)
    .u64(tensorCount)
    .u64(kvs.length)
    .done();
  const tensors = tensorInfos(parameterCount, tensorCount);
  const unpadded = head.length + kvs.reduce((n, b) => n + b.length, 0) + tensors.length;
  const size = ceil(unpadded / alignment) * alignment;
  const chunks = [head, ...kvs, tensors, Buffer.alloc(size - unpadded)];
  return { chunks, result: { size, tensorCount, kvCount: kvs.length, parameterCount } };
}

/** Writes a valid GGUF header-only file at `filePath`. */
export async function writeGgufFile(filePath: string, opts: GgufWriteOptions = {}): Promise<GgufWriteResult> {
  const { chunks, result } = buildGgufHeader(opts);
  await writeFile(filePath, chunks);
  return result;
}

/** Writes the header `opts` describes, damaged as `breakage` says. */
export async function writeBrokenGgufFile(
  filePath: string,
  breakage: GgufBreakage,
  opts: GgufWriteOptions = {},
): Promise<void> {
  const bytes = Buffer.concat(buildGgufHeader(opts).chunks);
  switch (breakage.kind) {
    case 'truncated':
      return writeFile(filePath, bytes.subarray(0, breakage.at));
    case 'bad-magic':
      bytes.write('GGML', 0, 'latin1');
      return writeFile(filePath, bytes);
    case 'huge-tensor-count':
      bytes.writeBigUInt64LE(1n << 40n, 8);
      return writeFile(filePath, bytes);
    case 'huge-string': {
      // A first KV whose string value claims 2^60 bytes; whatever follows is never reached.
      const bad = new Bytes(64)
        .str('general.name')
        .u32(GgufType.STRING)
        .u64(1n << 60n)
        .done();
      bytes.writeBigUInt64LE(bytes.readBigUInt64LE(16) + 1n, 16);
      return writeFile(filePath, Buffer.concat([bytes.subarray(0, 24), bad, bytes.subarray(24)]));
    }
  }
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

/** The shared GGUF corpus: `$GGUF_CORPUS`, else `shared/gguf-corpus` beside the repository. */
export function ggufCorpusDir(): string {
  return CORPUS_DIR;
}
