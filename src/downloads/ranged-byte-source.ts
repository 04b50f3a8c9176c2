/**
 * A GGUF ByteSource over ranged reads of a remote file, so the project's header reader
 * walks a hub file as it walks a local one. It asks for the first `firstBytes`, then for
 * more only when the reader needs bytes past what it holds, each time a window twice the
 * last (up to `maxWindow`) — a header of a few MB costs a handful of requests, and the
 * reader stops at the tensor data, so nothing past the header (plus one window) is fetched.
 * Pure apart from the fetch function it is given.
 */
import type { ByteSource } from '../registry/gguf/gguf-reader';

/** Fetches bytes `start..end` (inclusive) of the file; fewer only at the end of the file. */
export type RangeFetch = (start: number, end: number) => Promise<Buffer>;

export interface RangedSourceOptions {
  /** First request's size; default 256 KiB. */
  firstBytes?: number;
  /** Largest request; default 1 MiB. */
  maxWindow?: number;
}

/** Parse options for the reader over this source: chunks as small as it allows, so its read-ahead stays short. */
export const REMOTE_CHUNK_BYTES = 64 * 1024;

/** Bytes kept behind the read position. */
const RETAIN = 1024 * 1024;

export class RangedByteSource implements ByteSource {
  /** Range requests made. */
  requests = 0;
  /** Bytes received. */
  bytesFetched = 0;
  private buf: Buffer = Buffer.alloc(0);
  /** File offset of `buf[0]`. */
  private bufStart = 0;
  private window: number;
  private readonly maxWindow: number;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly size: number,
    private readonly fetch: RangeFetch,
    opts: RangedSourceOptions = {},
  ) {
    this.window = Math.max(1, opts.firstBytes ?? 256 * 1024);
    this.maxWindow = Math.max(this.window, opts.maxWindow ?? 1024 * 1024);
  }

  read(position: number, length: number, into?: Buffer): Promise<Buffer> {
    // The reader may have a read-ahead in flight while it asks for something else: one at a time.
    const run = this.chain.then(() => this.readNow(position, length, into));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async readNow(position: number, length: number, into?: Buffer): Promise<Buffer> {
    const want = Math.max(0, Math.min(length, this.size - position));
    if (want === 0) return Buffer.alloc(0);
    const end = position + want;
    if (position < this.bufStart || end > this.bufStart + this.buf.length) await this.extend(position, end);
    const from = position - this.bufStart;
    const out = into && into.length >= want ? into.subarray(0, want) : Buffer.allocUnsafe(want);
    this.buf.copy(out, 0, from, from + want);
    return out;
  }

  /**
   * Makes `[position, end)` held. The reader walks forward, but a read-ahead may be asked
   * for before a read just behind it, so up to RETAIN bytes before `position` are kept.
   */
  private async extend(position: number, end: number): Promise<void> {
    const heldEnd = this.bufStart + this.buf.length;
    const contiguous = position >= this.bufStart && position <= heldEnd;
    const from = contiguous ? heldEnd : position;
    const to = Math.min(this.size, Math.max(end, from + this.window));
    const got = await this.fetch(from, to - 1);
    this.requests++;
    this.bytesFetched += got.length;
    if (got.length < Math.min(end, to) - from) {
      throw new Error(`the file host sent ${got.length} bytes for range ${from}-${to - 1}`);
    }
    if (contiguous) {
      const keepFrom = Math.max(this.bufStart, position - RETAIN);
      this.buf = Buffer.concat([this.buf.subarray(keepFrom - this.bufStart), got]);
      this.bufStart = keepFrom;
    } else {
      this.buf = got;
      this.bufStart = from;
    }
    this.window = Math.min(this.maxWindow, this.window * 2);
  }
}
