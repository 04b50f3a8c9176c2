/**
 * Pure GGUF header reader (v2/v3, little-endian). No fs, no Nest: the caller hands
 * in a ByteSource (usually a file handle), so this module can be tested against
 * any bytes and stays usable from benchmarks and workers.
 *
 * The header of a real model is 5–10 MB, almost all of it the tokenizer vocabulary
 * and merges, and discovery scans many files. So the walk reads in big reused chunks
 * (prefetching the next one while this one is walked), never turns array elements
 * into JS strings, skips fixed-size arrays without touching them, and keeps only a
 * length summary of large arrays. Every declared size is checked against the file
 * size before it is trusted, so a hostile header can never make us allocate or
 * read more than the file holds.
 *
 * Layout: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
 */

/** Random-access bytes of one file. `read` returns fewer bytes than asked only at EOF. */
export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /** Reads up to `length` bytes at `position`; when `into` is given the bytes should land at its start. */
  read(position: number, length: number, into?: Buffer): Promise<Buffer>;
}

/** GGUF metadata value types, as numbered in the file. */
export enum GgufType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

export type GgufTypeName =
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'uint32'
  | 'int32'
  | 'float32'
  | 'bool'
  | 'string'
  | 'array'
  | 'uint64'
  | 'int64'
  | 'float64';

const TYPE_NAMES: readonly GgufTypeName[] = [
  'uint8',
  'int8',
  'uint16',
  'int16',
  'uint32',
  'int32',
  'float32',
  'bool',
  'string',
  'array',
  'uint64',
  'int64',
  'float64',
];

/** Bytes per element; 0 for the variable-size types (string, array). */
const TYPE_SIZES: readonly number[] = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8];

/** What a large array is reduced to: its element type and length, not its contents. */
export interface GgufArraySummary {
  readonly type: GgufTypeName;
  readonly length: number;
}

/** u64/i64 become bigint only when they do not fit a safe JS number. */
export type GgufScalar = number | bigint | boolean | string;
export type GgufValue = GgufScalar | GgufValue[] | GgufArraySummary;

export interface GgufHeader {
  version: number;
  tensorCount: number;
  kvCount: number;
  /** Every KV of the header; arrays of `maxInlineArrayLength` or more elements are summaries. */
  metadata: Record<string, GgufValue>;
  /** Sum over the tensor infos of the product of their dims. */
  parameterCount: number;
  /** Whether `tokenizer.ggml.tokens` holds the token `<think>`. */
  hasThinkToken: boolean;
  /** `general.alignment` (default 32). */
  alignment: number;
  /** Offset where tensor data starts: end of the tensor infos rounded up to the alignment. */
  headerBytes: number;
  /** Bytes requested from the source (chunks, including read-ahead). */
  bytesRead: number;
  /** Every tensor info, in file order; only when parsed with `tensorInfos: true`. */
  tensors?: GgufTensorInfo[];
}

/** One tensor info of the header: what the memory estimate needs to size the tensor's data. */
export interface GgufTensorInfo {
  name: string;
  /** Shape in ggml order (ne[0] first). */
  dims: number[];
  /** ggml type number (`enum ggml_type`: 0 = F32, 1 = F16, 12 = Q4_K, …). */
  type: number;
  /** Offset of the data from the start of the tensor-data section. */
  offset: number;
}

export interface GgufParseOptions {
  /** Read size; default 1 MiB. */
  chunkSize?: number;
  /** Longest accepted string; default 64 MiB. */
  maxStringLength?: number;
  /** Arrays shorter than this are kept as values; default 64. */
  maxInlineArrayLength?: number;
  /** Also return every tensor info (name, shape, ggml type, offset) as `tensors`; default false. */
  tensorInfos?: boolean;
}

/** Any reason a file is not a readable GGUF header. `offset` is the file offset involved, when known. */
export class GgufParseError extends Error {
  constructor(
    message: string,
    readonly offset?: number,
  ) {
    super(message);
    this.name = 'GgufParseError';
  }
}

/** Type guard for the `{ type, length }` stand-in of a large array. */
export function isArraySummary(value: GgufValue | undefined): value is GgufArraySummary {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const DEFAULT_CHUNK = 1024 * 1024;
const DEFAULT_MAX_STRING = 64 * 1024 * 1024;
const DEFAULT_INLINE_ARRAY = 64;
/**
 * Room kept in front of each chunk: the unread tail of the previous chunk is copied
 * there so any item up to this size is contiguous. Bigger strings are read directly.
 */
const SLACK = 64 * 1024;
const MAX_DIMS = 8;
/** ggml allows 63 bytes; a little leeway, but bounded so a tensor info always fits in SLACK. */
const MAX_TENSOR_NAME = 4096;
const MAX_ARRAY_DEPTH = 8;
const MIN_KV_BYTES = 12;
const MIN_TENSOR_INFO_BYTES = 24;
const TWO_32 = 4294967296;
/** A u64 whose high word is below this is a safe JS integer. */
const SAFE_HIGH = 0x200000;
const TOKENS_KEY = 'tokenizer.ggml.tokens';
const THINK = Buffer.from('<think>', 'latin1');

function truncated(pos: number, need: number, size: number, what?: string): GgufParseError {
  const detail = what ? `${what} needs ${need} bytes` : `needs ${need} bytes`;
  return new GgufParseError(`truncated header at byte ${pos}: ${detail}, file ends at ${size}`, pos);
}

/** Chunk buffers are 1 MiB each; reuse them across parses instead of churning external memory. */
const bufferPool: Buffer[] = [];
const POOL_MAX = 8;

/**
 * A window over the source: `buf[p..hi)` are buffered bytes, `buf[i]` is file offset
 * `base + i`. Reads land at `SLACK` in a buffer; while one chunk is walked the next is
 * already being read into the spare buffer (fs reads run on libuv's pool, so that
 * copy overlaps the walk).
 */
class Cursor {
  buf: Buffer;
  /** DataView over `buf`: its unaligned u32 loads are several times faster than byte assembly. */
  dv: DataView;
  p = SLACK;
  hi = SLACK;
  base = -SLACK;
  bytesRead = 0;
  private spare: Buffer;
  private spareDv: DataView;
  private pending: Promise<number> | null = null;
  private pendingAt = 0;
  private pendingLen = 0;
  private readonly pooled: boolean;

  constructor(
    private readonly src: ByteSource,
    readonly size: number,
    private readonly chunk: number,
  ) {
    this.pooled = chunk === DEFAULT_CHUNK;
    const take = (): Buffer => (this.pooled && bufferPool.pop()) || Buffer.allocUnsafe(SLACK + chunk);
    this.buf = take();
    this.spare = take();
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
    this.spareDv = new DataView(this.spare.buffer, this.spare.byteOffset, this.spare.length);
  }

  get pos(): number {
    return this.base + this.p;
  }

  /** Undefined when `n` bytes are already contiguous at the cursor, else a promise that makes them so. */
  ensure(n: number): Promise<void> | undefined {
    return this.p + n <= this.hi ? undefined : this.fill(n);
  }

  async fill(n: number): Promise<void> {
    while (this.p + n > this.hi) {
      const pos = this.pos;
      if (pos + n > this.size) throw truncated(pos, n, this.size);
      const end = this.base + this.hi;
      const got = await this.load(end);
      if (got === 0) throw truncated(pos, n, end);
      // The unread tail (shorter than n, so within SLACK) goes right in front of the new chunk.
      const keep = this.hi - this.p;
      this.buf.copy(this.spare, SLACK - keep, this.p, this.hi);
      this.swap(end, got);
      this.p = SLACK - keep;
      this.prefetch();
    }
  }

  /** Moves to file offset `pos`, reading at it when it is past the buffered bytes. */
  async seek(pos: number): Promise<void> {
    if (pos > this.size) {
      throw new GgufParseError(`truncated header at byte ${this.size}: the header runs on to byte ${pos}`, this.size);
    }
    const end = this.base + this.hi;
    if (pos <= end) {
      this.p = pos - this.base;
      return;
    }
    let at = pos;
    let got = -1;
    if (this.pending && pos >= this.pendingAt && pos < this.pendingAt + this.pendingLen) {
      at = this.pendingAt;
      got = await this.load(at);
      // A short read-ahead that stops before `pos` is dropped for a read at `pos`.
      if (at + got <= pos) got = -1;
    }
    if (got < 0) {
      at = pos;
      got = await this.load(pos);
    }
    this.swap(at, got);
    this.p = pos - this.base;
    if (this.p > this.hi) throw truncated(pos, 0, at + got);
    this.prefetch();
  }

  /** Reads a range too big for the window straight into its own buffer. */
  async readDirect(pos: number, len: number): Promise<Buffer> {
    const out = Buffer.allocUnsafe(len);
    let done = 0;
    while (done < len) {
      const part = await this.src.read(pos + done, len - done, out.subarray(done));
      this.bytesRead += len - done;
      if (part.length === 0) throw truncated(pos, len, pos + done);
      if (part.buffer !== out.buffer || part.byteOffset !== out.byteOffset + done) {
        part.copy(out, done, 0, Math.min(part.length, len - done));
      }
      done += Math.min(part.length, len - done);
    }
    return out;
  }

  /** Waits for any read still in flight (so the caller may close the file) and returns the buffers. */
  async close(): Promise<void> {
    const pending = this.pending;
    this.pending = null;
    if (pending) await pending.catch(() => undefined);
    if (this.pooled) {
      for (const b of [this.buf, this.spare]) if (bufferPool.length < POOL_MAX) bufferPool.push(b);
    }
  }

  /** Gets the chunk at file offset `at` into the spare buffer (from the read-ahead when it matches). */
  private async load(at: number): Promise<number> {
    const pending = this.pending;
    this.pending = null;
    if (pending) {
      if (this.pendingAt === at) return pending;
      // Not the bytes we need: only wait for the spare buffer to be free again.
      await pending.catch(() => undefined);
    }
    return this.readChunk(at);
  }

  private swap(at: number, got: number): void {
    const b = this.buf;
    const dv = this.dv;
    this.buf = this.spare;
    this.dv = this.spareDv;
    this.spare = b;
    this.spareDv = dv;
    this.base = at - SLACK;
    this.hi = SLACK + got;
  }

  private prefetch(): void {
    const at = this.base + this.hi;
    if (at >= this.size) return;
    this.pendingAt = at;
    this.pendingLen = Math.min(this.chunk, this.size - at);
    const pending = this.readChunk(at);
    // Attach a handler now: an error surfaces when the read-ahead is awaited, or is moot if never used.
    pending.catch(() => undefined);
    this.pending = pending;
  }

  private async readChunk(at: number): Promise<number> {
    const len = Math.min(this.chunk, this.size - at);
    if (len <= 0) return 0;
    const into = this.spare.subarray(SLACK, SLACK + len);
    this.bytesRead += len;
    const got = await this.src.read(at, len, into);
    const n = Math.min(got.length, len);
    // A source may ignore `into` and hand back its own buffer.
    if (got.buffer !== into.buffer || got.byteOffset !== into.byteOffset) got.copy(into, 0, 0, n);
    return n;
  }
}

class HeaderParser {
  private readonly c: Cursor;
  private readonly maxString: number;
  private readonly inlineLimit: number;
  private readonly tensors: GgufTensorInfo[] | null;
  private hasThinkToken = false;

  constructor(src: ByteSource, opts: GgufParseOptions) {
    const chunk = Math.max(SLACK, Math.floor(opts.chunkSize ?? DEFAULT_CHUNK));
    this.c = new Cursor(src, src.size, chunk);
    this.maxString = Math.min(opts.maxStringLength ?? DEFAULT_MAX_STRING, 0x7fffffff);
    this.inlineLimit = opts.maxInlineArrayLength ?? DEFAULT_INLINE_ARRAY;
    this.tensors = opts.tensorInfos ? [] : null;
  }

  close(): Promise<void> {
    return this.c.close();
  }

  async parse(): Promise<GgufHeader> {
    const c = this.c;
    const size = c.size;
    await c.fill(Math.min(4, size));
    const magicLen = Math.min(4, size);
    if (c.buf.toString('latin1', c.p, c.p + magicLen) !== 'GGUF'.slice(0, magicLen)) {
      throw new GgufParseError('not a GGUF file (bad magic)', 0);
    }
    await c.fill(24);
    const b = c.buf;
    const version = b.readUInt32LE(c.p + 4);
    if (version !== 2 && version !== 3) {
      const swapped = b.readUInt32BE(c.p + 4);
      const why = swapped === 2 || swapped === 3 ? ' (big-endian files are not supported)' : '';
      throw new GgufParseError(`unsupported GGUF version ${version}${why}`, 4);
    }
    const rawTensors = b.readBigUInt64LE(c.p + 8);
    const rawKvs = b.readBigUInt64LE(c.p + 16);
    c.p += 24;
    // Each KV takes at least 12 bytes and each tensor info 24: a count that cannot fit
    // in the rest of the file is corrupt, and is refused before anything is allocated.
    const rest = BigInt(size - 24);
    if (rawTensors * BigInt(MIN_TENSOR_INFO_BYTES) > rest) {
      throw new GgufParseError(`tensor_count ${rawTensors} cannot fit in a file of ${size} bytes`, 8);
    }
    if (rawKvs * BigInt(MIN_KV_BYTES) > rest) {
      throw new GgufParseError(`kv_count ${rawKvs} cannot fit in a file of ${size} bytes`, 16);
    }
    if (rawTensors * BigInt(MIN_TENSOR_INFO_BYTES) + rawKvs * BigInt(MIN_KV_BYTES) > rest) {
      throw new GgufParseError(
        `tensor_count ${rawTensors} and kv_count ${rawKvs} cannot fit in a file of ${size} bytes`,
        8,
      );
    }
    const tensorCount = Number(rawTensors);
    const kvCount = Number(rawKvs);

    const metadata = Object.create(null) as Record<string, GgufValue>;
    for (let i = 0; i < kvCount; i++) {
      const keyAt = c.pos;
      const key = (await this.readString('key')).toString('utf8');
      const w = c.ensure(4);
      if (w) await w;
      const type = c.buf.readUInt32LE(c.p);
      c.p += 4;
      const value = await this.readValue(type, key, 0);
      // ggml refuses duplicates too; and a null-prototype record keeps "__proto__" inert.
      if (key in metadata) throw new GgufParseError(`duplicate metadata key "${key}" at byte ${keyAt}`, keyAt);
      metadata[key] = value;
    }

    const parameterCount = await this.walkTensorInfos(tensorCount);

    const alignment = this.alignmentOf(metadata['general.alignment']);
    const end = c.pos;
    const header: GgufHeader = {
      version,
      tensorCount,
      kvCount,
      metadata,
      parameterCount,
      hasThinkToken: this.hasThinkToken,
      alignment,
      headerBytes: Math.ceil(end / alignment) * alignment,
      bytesRead: c.bytesRead,
    };
    if (this.tensors) header.tensors = this.tensors;
    return header;
  }

  private alignmentOf(value: GgufValue | undefined): number {
    if (value === undefined) return 32;
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || (value & (value - 1)) !== 0) {
      throw new GgufParseError(`general.alignment must be a power of two, got ${JSON.stringify(value)}`);
    }
    return value;
  }

  /** Reads a u64 length prefix and the bytes after it. */
  private async readString(what: string): Promise<Buffer> {
    const c = this.c;
    const w = c.ensure(8);
    if (w) await w;
    const at = c.pos;
    const len = this.checkedLength(c.buf, c.p, at, what);
    c.p += 8;
    if (len <= SLACK) {
      const w2 = c.ensure(len);
      if (w2) await w2;
      const out = c.buf.subarray(c.p, c.p + len);
      c.p += len;
      return out;
    }
    const out = await c.readDirect(at + 8, len);
    await c.seek(at + 8 + len);
    return out;
  }

  /** Validates the u64 string length at `buf[p]` (file offset `at`) against the cap and the file size. */
  private checkedLength(buf: Buffer, p: number, at: number, what: string): number {
    const high = buf.readUInt32LE(p + 4);
    const len = buf.readUInt32LE(p);
    if (high !== 0 || len > this.maxString) {
      throw new GgufParseError(
        `${what} length ${buf.readBigUInt64LE(p)} at byte ${at} exceeds the ${this.maxString}-byte limit`,
        at,
      );
    }
    if (at + 8 + len > this.c.size) throw truncated(at, 8 + len, this.c.size, what);
    return len;
  }

  private async readValue(type: GgufType, key: string, depth: number): Promise<GgufValue> {
    const c = this.c;
    if (type === GgufType.STRING) return (await this.readString(`string "${key}"`)).toString('utf8');
    if (type === GgufType.ARRAY) return this.readArray(key, depth);
    const n = TYPE_SIZES[type];
    if (n === undefined || n === 0) {
      throw new GgufParseError(`unknown value type ${type} for key "${key}" at byte ${c.pos - 4}`, c.pos - 4);
    }
    const w = c.ensure(n);
    if (w) await w;
    const b = c.buf;
    const p = c.p;
    c.p += n;
    switch (type as GgufType) {
      case GgufType.UINT8:
        return b[p];
      case GgufType.INT8:
        return b.readInt8(p);
      case GgufType.UINT16:
        return b.readUInt16LE(p);
      case GgufType.INT16:
        return b.readInt16LE(p);
      case GgufType.UINT32:
        return b.readUInt32LE(p);
      case GgufType.INT32:
        return b.readInt32LE(p);
      case GgufType.FLOAT32:
        return b.readFloatLE(p);
      case GgufType.BOOL:
        return b[p] !== 0;
      case GgufType.UINT64: {
        const high = b.readUInt32LE(p + 4);
        return high < SAFE_HIGH ? high * TWO_32 + b.readUInt32LE(p) : b.readBigUInt64LE(p);
      }
      case GgufType.INT64: {
        const high = b.readInt32LE(p + 4);
        return high < SAFE_HIGH && high >= -SAFE_HIGH ? high * TWO_32 + b.readUInt32LE(p) : b.readBigInt64LE(p);
      }
      default:
        return b.readDoubleLE(p);
    }
  }

  private async readArray(key: string, depth: number): Promise<GgufValue> {
    const c = this.c;
    const at = c.pos;
    if (depth >= MAX_ARRAY_DEPTH) throw new GgufParseError(`array "${key}" nested deeper than ${MAX_ARRAY_DEPTH}`, at);
    const w = c.ensure(12);
    if (w) await w;
    const itemType: GgufType = c.buf.readUInt32LE(c.p);
    const rawCount = c.buf.readBigUInt64LE(c.p + 4);
    c.p += 12;
    const itemSize = TYPE_SIZES[itemType];
    if (itemSize === undefined) {
      throw new GgufParseError(`unknown array element type ${itemType} for key "${key}" at byte ${at}`, at);
    }
    // Smallest possible encoding of one element: strings carry an 8-byte length, arrays 12 bytes of type+count.
    const minItem = itemSize || (itemType === GgufType.STRING ? 8 : 12);
    const left = c.size - c.pos;
    if (rawCount * BigInt(minItem) > BigInt(left)) {
      throw new GgufParseError(
        `truncated header at byte ${at}: array "${key}" of ${rawCount} elements cannot fit in the ${left} bytes left`,
        at,
      );
    }
    const count = Number(rawCount);

    if (count < this.inlineLimit) {
      const values: GgufValue[] = [];
      for (let i = 0; i < count; i++) values.push(await this.readValue(itemType, key, depth + 1));
      if (depth === 0 && key === TOKENS_KEY && values.includes('<think>')) this.hasThinkToken = true;
      return values;
    }
    if (itemSize > 0) {
      await c.seek(c.pos + count * itemSize);
    } else if (itemType === GgufType.STRING) {
      await this.skipStrings(count, key, depth === 0 && key === TOKENS_KEY);
    } else {
      for (let i = 0; i < count; i++) await this.readArray(key, depth + 1);
    }
    return { type: TYPE_NAMES[itemType], length: count };
  }

  /**
   * Walks `count` strings by their length prefixes without decoding them: the hot path
   * of the whole reader (two vocab-sized arrays per model). For the vocabulary it also
   * notes a `<think>` element by comparing bytes.
   */
  private async skipStrings(count: number, key: string, findThink: boolean): Promise<void> {
    const c = this.c;
    // `walk` is shared by every parse in flight: fill it right before each sync walk, read it right after.
    const w = walk;
    while (count > 0) {
      w.p = c.p;
      w.hi = c.hi;
      w.count = count;
      w.max = this.maxString;
      w.bad = -1;
      if (findThink && !this.hasThinkToken) {
        w.miss = 1;
        skipStringsLooking(c.dv);
        if (w.miss === 0) this.hasThinkToken = true;
      } else {
        skipStringsPlain(c.dv);
      }
      count = w.count;
      c.p = w.p;
      if (w.bad >= 0) this.checkedLength(c.buf, w.bad, c.base + w.bad, `array "${key}" element`);
      if (c.p > c.hi) {
        // The last string runs past the window: jump to its end.
        await c.seek(c.base + c.p);
      } else if (count > 0) {
        // Fewer than 8 (or, when looking, 15) bytes left in the window: step one element carefully,
        // so the fast loops never read past the buffered bytes and an array at EOF still parses.
        let wait = c.ensure(8);
        if (wait) await wait;
        const at = c.pos;
        const len = this.checkedLength(c.buf, c.p, at, `array "${key}" element`);
        if (findThink && len === 7) {
          wait = c.ensure(15);
          if (wait) await wait;
          if (c.buf.compare(THINK, 0, 7, c.p + 8, c.p + 15) === 0) this.hasThinkToken = true;
        }
        count--;
        await c.seek(at + 8 + len);
      }
    }
  }

  /** Walks the tensor infos, summing element counts; names are skipped, never decoded. */
  private async walkTensorInfos(count: number): Promise<number> {
    const c = this.c;
    let params = 0;
    while (count > 0) {
      const b = c.buf;
      const dv = c.dv;
      const hi = c.hi;
      let p = c.p;
      let need = 8;
      while (count > 0) {
        if (p + 8 > hi) {
          need = 8;
          break;
        }
        const at = c.base + p;
        const nameLen = dv.getUint32(p, true);
        if (dv.getUint32(p + 4, true) !== 0 || nameLen > MAX_TENSOR_NAME) {
          throw new GgufParseError(`tensor name length ${b.readBigUInt64LE(p)} at byte ${at} is too long`, at);
        }
        let q = p + 8 + nameLen;
        if (q + 4 > hi) {
          need = 8 + nameLen + 4;
          break;
        }
        const nDims = dv.getUint32(q, true);
        if (nDims > MAX_DIMS) {
          throw new GgufParseError(`tensor at byte ${at} has ${nDims} dimensions (max ${MAX_DIMS})`, at);
        }
        const recordLen = 8 + nameLen + 4 + 8 * nDims + 4 + 8;
        if (p + recordLen > hi) {
          need = recordLen;
          break;
        }
        q += 4;
        const dimsAt = q;
        let elements = 1;
        for (let d = 0; d < nDims; d++, q += 8) {
          const high = dv.getUint32(q + 4, true);
          if (high >= SAFE_HIGH) {
            throw new GgufParseError(`tensor at byte ${at} has an absurd dimension ${b.readBigInt64LE(q)}`, at);
          }
          elements *= high * TWO_32 + dv.getUint32(q, true);
        }
        if (elements > Number.MAX_SAFE_INTEGER) {
          throw new GgufParseError(`tensor at byte ${at} has an absurd element count`, at);
        }
        params += elements;
        if (this.tensors) this.tensors.push(tensorInfoAt(b, dv, p, nameLen, dimsAt, nDims, at));
        p += recordLen;
        count--;
      }
      c.p = p;
      if (count > 0) await c.fill(need);
    }
    if (params > Number.MAX_SAFE_INTEGER) throw new GgufParseError('total parameter count is absurd');
    return params;
  }
}

/** Decodes one tensor info whose bytes are all in the window (`p`: its start, `dimsAt`: its first dim). */
function tensorInfoAt(
  b: Buffer,
  dv: DataView,
  p: number,
  nameLen: number,
  dimsAt: number,
  nDims: number,
  at: number,
): GgufTensorInfo {
  const dims: number[] = [];
  for (let d = 0; d < nDims; d++)
    dims.push(dv.getUint32(dimsAt + 8 * d + 4, true) * TWO_32 + dv.getUint32(dimsAt + 8 * d, true));
  const q = dimsAt + 8 * nDims;
  const high = dv.getUint32(q + 8, true);
  if (high >= SAFE_HIGH) throw new GgufParseError(`tensor at byte ${at} has an absurd data offset`, at);
  return {
    name: b.toString('utf8', p + 8, p + 8 + nameLen),
    dims,
    type: dv.getUint32(q, true),
    offset: high * TWO_32 + dv.getUint32(q + 4, true),
  };
}

/**
 * State shared with the two string-walking loops below. They are plain sync functions
 * over a DataView (no closures, no awaits) so V8 keeps them tight; being sync, one
 * state object serves every parse in flight, provided it is set right before each call.
 */
const walk = { p: 0, hi: 0, count: 0, max: 0, miss: 1, bad: -1 };

/** Skips strings while a whole length prefix is in the window. */
function skipStringsPlain(dv: DataView): void {
  const max = walk.max;
  const hi = walk.hi;
  let p = walk.p;
  let count = walk.count;
  while (count > 0 && p + 8 <= hi) {
    const len = dv.getUint32(p, true);
    if (dv.getUint32(p + 4, true) !== 0 || len > max) {
      walk.bad = p;
      break;
    }
    p += 8 + len;
    count--;
  }
  walk.p = p;
  walk.count = count;
}

/**
 * Same walk, also checking each element for `<think>`: length 7 and two overlapping u32
 * compares, folded into one value so the only branch is the almost-never-taken match
 * (a branch on `len === 7` alone is a coin toss in a BPE vocabulary and costs more than
 * the loads). Needs 15 bytes in the window per step so those loads stay in buffered bytes.
 */
function skipStringsLooking(dv: DataView): void {
  const max = walk.max;
  const hi = walk.hi;
  let p = walk.p;
  let count = walk.count;
  let miss = walk.miss;
  while (count > 0 && p + 15 <= hi) {
    const len = dv.getUint32(p, true);
    if (dv.getUint32(p + 4, true) !== 0 || len > max) {
      walk.bad = p;
      break;
    }
    // "<thi" and "hink>" read little-endian.
    if (((len ^ 7) | (dv.getUint32(p + 8, true) ^ 0x6968743c) | (dv.getUint32(p + 11, true) ^ 0x3e6b6e69)) === 0) {
      miss = 0;
    }
    p += 8 + len;
    count--;
  }
  walk.p = p;
  walk.count = count;
  walk.miss = miss;
}

/**
 * Parses the GGUF header of `source`: metadata, tensor-info summary and where the tensor
 * data would start. Throws GgufParseError for anything that is not a sound GGUF header.
 */
export async function parseGgufHeader(source: ByteSource, opts: GgufParseOptions = {}): Promise<GgufHeader> {
  const size = source.size;
  if (!Number.isSafeInteger(size) || size < 0) throw new GgufParseError(`invalid source size ${size}`);
  if (size === 0) throw new GgufParseError('empty file', 0);
  const parser = new HeaderParser(source, opts);
  try {
    return await parser.parse();
  } finally {
    await parser.close();
  }
}
