import { Injectable } from '@nestjs/common';
import { constants, createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Writable } from 'node:stream';

/** Thrown when a folder on the way to a destination is a link or not a folder. */
export class UnsafeDestinationError extends Error {}

/** Where the bytes of a part go to be hashed (Sha256Thread): in order, with back-pressure. */
export interface HashSink {
  /** Hashes `parts` in order; their memory is handed over (each owns its whole ArrayBuffer and is not used again). */
  updateOwned(parts: Uint8Array[]): void;
  /** Hashes a copy of `chunks`. */
  update(...chunks: Buffer[]): void;
  /** Null when the hash keeps up; else resolves once it has caught up. */
  room(): Promise<void> | null;
}

/** Bytes written between two flushes of a part to the disk. */
const FLUSH_EVERY = 64 * 1024 * 1024;

/** Whether a chunk is the whole of its ArrayBuffer (what the HTTP client hands out), so it can be handed over as is. */
function ownsMemory(b: Uint8Array): boolean {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && !(b.buffer instanceof SharedArrayBuffer);
}

/**
 * A part file being written: a Writable (back-pressure as any stream) that writes each batch
 * of chunks at its position with one `writev` and only then hands the same chunks to the
 * hash, so the hash always covers exactly the bytes on disk. `end()` flushes everything
 * buffered; `written` is then what the file holds.
 */
export class PartWriter extends Writable {
  /** Bytes in the file (from its start), counting only completed writes. */
  written: number;
  /** The data flush in flight, and where the last one started. */
  private flushing: Promise<void> | null = null;
  private flushedTo: number;

  constructor(
    private readonly handle: fs.FileHandle,
    offset: number,
    private readonly hash: HashSink,
  ) {
    // 8 MiB of chunks may wait for the disk before the network read pauses.
    super({ highWaterMark: 8 * 1024 * 1024 });
    this.written = offset;
    this.flushedTo = offset;
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (error?: Error | null) => void): void {
    const buffers = chunks.map((c) => c.chunk);
    void this.writeAll(buffers)
      .then(async () => {
        this.flushBehind();
        // Chunks that own their memory move to the hash thread without a copy; the others are copied.
        this.hash.updateOwned(buffers.map((b) => (ownsMemory(b) ? b : new Uint8Array(b))));
        await this.hash.room();
      })
      .then(() => cb(), cb);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    this._writev([{ chunk }], cb);
  }

  override _final(cb: (error?: Error | null) => void): void {
    (this.flushing ?? Promise.resolve()).then(() => cb(), cb);
  }

  override _destroy(error: Error | null, cb: (error?: Error | null) => void): void {
    void (this.flushing ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => this.handle.close())
      .then(
        () => cb(error),
        () => cb(error),
      );
  }

  /**
   * Every FLUSH_EVERY bytes, flushes what is written to the disk (fdatasync, on the thread pool,
   * beside the next writes): the dirty pages of a download stay few, and the fsync before the
   * rename has little left to wait for instead of the whole file.
   */
  private flushBehind(): void {
    if (this.flushing || this.written - this.flushedTo < FLUSH_EVERY) return;
    this.flushedTo = this.written;
    this.flushing = this.handle.datasync().finally(() => (this.flushing = null));
    this.flushing.catch(() => undefined);
  }

  private async writeAll(buffers: Buffer[]): Promise<void> {
    let total = 0;
    for (const b of buffers) total += b.length;
    let done = 0;
    while (done < total) {
      // writev may write less than asked (rare, large batches): write the rest.
      const { bytesWritten } = await this.handle.writev(done === 0 ? buffers : sliceFrom(buffers, done), this.written);
      done += bytesWritten;
      this.written += bytesWritten;
    }
  }
}

function sliceFrom(buffers: Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}

/**
 * The downloads' file-system port, for what FileStore does not do: part files written as
 * streams, hashed back from disk after a restart, folders made under the models folder only
 * (no link followed on the way), free space. Renaming a verified part into place and removing
 * one are FileStore's (`renameDurably`, `remove`). Thin: what to write where is the service's.
 */
export abstract class DownloadFiles {
  /** Size of a regular file; null when it does not exist. */
  abstract size(path: string): Promise<number | null>;
  /** Feeds the first `length` bytes of `path` to `hash`, streaming (a restart re-hashes a part this way). */
  abstract hashInto(path: string, length: number, hash: HashSink, signal?: AbortSignal): Promise<void>;
  /** Opens `path` (created when missing, never through a link), cut to `offset` bytes, for writing from there. */
  abstract openPart(path: string, offset: number, hash: HashSink): Promise<PartWriter>;
  /** `root/segments…` as a folder, made when missing; throws UnsafeDestinationError on a link or a file on the way. */
  abstract ensureDirWithin(root: string, segments: readonly string[]): Promise<string>;
  /** Removes `dir` and its parents while they are empty, stopping at `root` (kept). */
  abstract removeEmptyDirs(root: string, dir: string): Promise<void>;
  /** Bytes free for an unprivileged user on the file system holding `path` (or its nearest existing parent). */
  abstract freeBytes(path: string): Promise<number>;
}

@Injectable()
export class NodeDownloadFiles extends DownloadFiles {
  async size(path: string): Promise<number | null> {
    try {
      const s = await fs.lstat(path);
      return s.isFile() ? s.size : null;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async hashInto(path: string, length: number, hash: HashSink, signal?: AbortSignal): Promise<void> {
    if (length <= 0) return;
    const stream = createReadStream(path, { start: 0, end: length - 1, highWaterMark: 4 * 1024 * 1024, signal });
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      hash.update(chunk);
      await hash.room();
    }
  }

  async openPart(path: string, offset: number, hash: HashSink): Promise<PartWriter> {
    const handle = await fs.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o644);
    try {
      await handle.truncate(offset);
    } catch (e) {
      await handle.close();
      throw e;
    }
    return new PartWriter(handle, offset, hash);
  }

  async ensureDirWithin(root: string, segments: readonly string[]): Promise<string> {
    await fs.mkdir(root, { recursive: true });
    // The models folder itself may be a link (an operator's choice); nothing below it may be.
    const base = await fs.realpath(resolve(root));
    let dir = base;
    for (const segment of segments) {
      if (!segment || segment === '.' || segment === '..' || segment.includes('/') || segment.includes(sep)) {
        throw new UnsafeDestinationError(`unsafe folder name ${JSON.stringify(segment)}`);
      }
      dir = join(dir, segment);
      try {
        await fs.mkdir(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const st = await fs.lstat(dir);
      if (st.isSymbolicLink() || !st.isDirectory()) {
        throw new UnsafeDestinationError(`${dir} is ${st.isSymbolicLink() ? 'a link' : 'not a folder'}`);
      }
    }
    if (dir !== base && !dir.startsWith(base + sep)) throw new UnsafeDestinationError(`${dir} leaves ${base}`);
    // Answered as the registry names files: under the models folder as configured, not its real path.
    return join(resolve(root), ...segments);
  }

  async removeEmptyDirs(root: string, dir: string): Promise<void> {
    const base = resolve(root);
    for (let d = resolve(dir); d.startsWith(base + sep); d = dirname(d)) {
      try {
        await fs.rmdir(d);
      } catch {
        return; // not empty (or gone): its parents are not empty either
      }
    }
  }

  async freeBytes(path: string): Promise<number> {
    for (let p = resolve(path); ; p = dirname(p)) {
      try {
        const s = await fs.statfs(p);
        return Number(s.bavail) * Number(s.bsize);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(p) === p) throw e;
      }
    }
  }
}
