import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { AppError } from '../common/errors/app-error';
import { Clock } from '../common/io/clock';
import { FileStore } from '../common/io/file-store';
import { DownloadFiles, PartWriter } from './download-files';
import type { JobFile } from './download-job';
import { HubUnavailableError } from './downloads.error';
import { HubClient } from './hub-client';
import { HubTransportError } from './hub-http';
import { Sha256Thread } from './sha256-thread';
import type { RepoId } from './repo-path';

/** The bytes on disk do not hash to the hub's sha256: the part is removed. */
export class ChecksumMismatchError extends AppError {
  constructor(path: string, expected: string, actual: string) {
    super('ChecksumMismatch', 502, `The sha256 of ${path} does not match the hub's: the download was discarded`, {
      path,
      expected,
      actual,
    });
  }
}

/** The disk refused a write (full, read-only, …): no retry can cure it. */
export class DiskWriteError extends AppError {
  constructor(path: string, code: string | undefined, message: string) {
    super('DiskWriteError', 507, `Cannot write ${path}: ${message}`, { path, code: code ?? null });
  }
}

/** Hash threads kept between transfers (one per running download is in use). */
const IDLE_HASH_THREADS = 4;
/** Progress is reported to the job once per this many bytes or this long, whichever comes first, and at the end of each answer. */
const PROGRESS_BYTES = 1024 * 1024;
const PROGRESS_MS = 100;

/** Tries in a row without a byte of progress before a transfer gives up (huggingface_hub: 5). */
export const MAX_RETRIES = 5;

/** Back-off before retry `n` (1-based): 0.5 s, 1 s, 2 s, 4 s, 8 s. */
export function retryDelayMs(n: number): number {
  return Math.min(8000, 500 * 2 ** (n - 1));
}

/** `bytes a-b/size` of a Content-Range header. */
export function parseContentRange(header: string | undefined): { start: number; end: number; size: number } | null {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header?.trim() ?? '');
  return m ? { start: Number(m[1]), end: Number(m[2]), size: m[3] === '*' ? NaN : Number(m[3]) } : null;
}

/**
 * What a transfer reports as it goes: the bytes of this file received and hashed so far, and
 * whether this report is of bytes that just came from the network (not a part read back from disk).
 */
export type OnFileBytes = (received: number, fromNetwork: boolean) => void;

/** A failure worth another try: the connection broke, or the hub answered 408, 429 or 5xx. */
class Retryable extends Error {}

function isAbort(e: unknown, signal: AbortSignal): boolean {
  return signal.aborted || (e as Error)?.name === 'AbortError';
}

/**
 * One file from the hub to `{target}.part`, verified: the sha256 is computed as the bytes
 * are written (after a restart, the bytes already on disk are hashed first), a broken
 * connection resumes from the bytes on disk with `Range` (up to MAX_RETRIES tries in a row
 * without progress, with back-off), an answer that ignores the `Range` starts the part over,
 * and the part is kept only when the whole file matches the hub's sha256.
 */
@Injectable()
export class FileTransferService implements OnModuleDestroy {
  private readonly logger = new Logger(FileTransferService.name);
  /** Hash threads of finished transfers, kept for the next ones. */
  private readonly idle: Sha256Thread[] = [];

  constructor(
    private readonly hub: HubClient,
    private readonly files: DownloadFiles,
    private readonly fileStore: FileStore,
    private readonly clock: Clock,
  ) {}

  /** Part file of a job file. */
  static partOf(file: JobFile): string {
    return `${file.target}.part`;
  }

  /**
   * Brings `file` to a verified part (or finds it already in place, verified) and resolves;
   * rejects with ChecksumMismatchError (the part removed), a hub error, a DiskWriteError,
   * HubUnavailableError after the retries, or the abort.
   */
  async fetch(repo: RepoId, commit: string, file: JobFile, onBytes: OnFileBytes, signal: AbortSignal): Promise<void> {
    const hash = this.idle.pop() ?? new Sha256Thread();
    let reusable = false;
    try {
      await this.fetchWith(hash, repo, commit, file, onBytes, signal);
      reusable = true;
    } finally {
      if (reusable && this.idle.length < IDLE_HASH_THREADS) this.idle.push(hash);
      else void hash.close();
    }
  }

  /** Ends the idle hash threads. */
  async onModuleDestroy(): Promise<void> {
    await Promise.all(this.idle.splice(0).map((h) => h.close()));
  }

  private async fetchWith(
    hash: Sha256Thread,
    repo: RepoId,
    commit: string,
    file: JobFile,
    onBytes: OnFileBytes,
    signal: AbortSignal,
  ): Promise<void> {
    const part = FileTransferService.partOf(file);
    if ((await this.files.size(part)) === null && (await this.files.size(file.target)) === file.sizeBytes) {
      // Already downloaded (by an earlier job, or copied in): verified by hashing it, not fetched again.
      await this.files.hashInto(file.target, file.sizeBytes, hash, signal);
      if ((await hash.digest()) === file.sha256) {
        onBytes(file.sizeBytes, false);
        return;
      }
    }
    let have = (await this.files.size(part)) ?? 0;
    if (have > file.sizeBytes) have = 0;
    // After a restart the bytes already on disk are hashed first; the transfer continues after them.
    if (have > 0) await this.files.hashInto(part, have, hash, signal);
    onBytes(have, false);

    let failures = 0;
    while (have < file.sizeBytes) {
      const before = have;
      try {
        have = await this.attempt(repo, commit, file, part, have, hash, onBytes, signal);
        if (have < file.sizeBytes) {
          throw new AttemptError(new Retryable(`the connection closed after ${have} of ${file.sizeBytes} bytes`), have);
        }
      } catch (e) {
        if (isAbort(e, signal)) throw e;
        if (e instanceof AttemptError) have = e.have;
        const cause = e instanceof AttemptError ? e.cause : e;
        if (!(cause instanceof Retryable) && !(cause instanceof HubTransportError && cause.retryable)) throw cause;
        failures = have > before ? 1 : failures + 1;
        if (failures > MAX_RETRIES) {
          throw new HubUnavailableError(
            `Downloading ${file.path} failed ${failures} times in a row: ${cause.message}`,
            { path: file.path, receivedBytes: have, sizeBytes: file.sizeBytes },
          );
        }
        const delayMs = retryDelayMs(failures);
        this.logger.warn(
          { path: file.path, receivedBytes: have, sizeBytes: file.sizeBytes, attempt: failures, delayMs },
          `Download interrupted (${this.hub.redact(cause.message)}); resuming from the bytes on disk`,
        );
        await this.clock.sleep(delayMs, signal);
        if (signal.aborted) throw signal.reason ?? new Error('aborted');
      }
    }

    const actual = await hash.digest();
    if (actual !== file.sha256) {
      await this.fileStore.remove(part);
      onBytes(0, false);
      throw new ChecksumMismatchError(file.path, file.sha256, actual);
    }
  }

  /**
   * One request: streams what the answer brings into the part from byte `start` and returns the
   * bytes on disk, which the hash then covers exactly (the part writer hashes what it wrote).
   */
  private async attempt(
    repo: RepoId,
    commit: string,
    file: JobFile,
    part: string,
    start: number,
    hash: Sha256Thread,
    onBytes: OnFileBytes,
    signal: AbortSignal,
  ): Promise<number> {
    let have = start;
    const res = await this.hub
      .openFile(repo, commit, file.path, start > 0 ? { start } : null, signal)
      .catch((e: unknown) => {
        throw new AttemptError(e, have);
      });
    if (res.status === 200 && start > 0) {
      // The file host ignored the Range: take the whole file from its first byte (huggingface_hub does the same).
      have = 0;
      hash.reset();
    } else if (res.status === 206) {
      const range = parseContentRange(res.headers['content-range']);
      if (!range || range.start !== start) {
        res.body.destroy();
        throw new AttemptError(new Retryable(`the file host answered range ${res.headers['content-range']}`), have);
      }
    } else if (res.status !== 200) {
      if (res.status === 416 && start === file.sizeBytes) {
        res.body.destroy();
        return have;
      }
      const retry = res.status === 408 || res.status === 429 || res.status >= 500;
      const err = await this.hub.failure(res, repo, commit, `download ${file.path}`);
      throw new AttemptError(retry ? new Retryable(err.message) : err, have);
    }

    let writer: PartWriter;
    try {
      writer = await this.files.openPart(part, have, hash);
    } catch (e) {
      res.body.destroy();
      throw this.diskError(part, e);
    }
    let diskFailure: Error | null = null;
    writer.on('error', (e) => (diskFailure ??= e));
    let received = have;
    const failure = await this.stream(
      res.body,
      writer,
      file,
      signal,
      (n) => {
        received = n;
        onBytes(n, true);
      },
      have,
    );
    // Whatever arrived is flushed, so the part and the hash hold the same bytes for the next try.
    if (!diskFailure) {
      writer.end();
      await once(writer, 'finish').catch((e: Error) => (diskFailure ??= e));
    }
    if (!writer.destroyed) writer.destroy();
    await once(writer, 'close').catch(() => undefined);
    if (diskFailure) {
      res.body.destroy();
      throw this.diskError(part, diskFailure);
    }
    have = writer.written;
    if (received > file.sizeBytes) {
      // Too many bytes: nothing of this answer can be trusted, start over.
      await this.fileStore.remove(part);
      have = 0;
      hash.reset();
    }
    onBytes(have, false);
    if (failure) throw new AttemptError(failure, have);
    return have;
  }

  /**
   * Pipes the answer's body into the part writer (stream back-pressure, no per-chunk promise)
   * and resolves when the body ends, breaks off, the disk refuses, or `signal` fires — with the
   * reason it stopped early (null when the body ended). The writer is left open for the caller
   * to flush. Progress is reported every PROGRESS_BYTES or PROGRESS_MS, and at the end.
   */
  private stream(
    body: Readable,
    writer: PartWriter,
    file: JobFile,
    signal: AbortSignal,
    onReceived: (received: number) => void,
    start: number,
  ): Promise<unknown> {
    return new Promise((resolve) => {
      let received = start;
      let reported = start;
      let reportedAt = performance.now();
      let settled = false;
      const settle = (why: unknown) => {
        if (settled) return;
        settled = true;
        body.unpipe(writer);
        body.off('data', onData);
        writer.off('error', onDiskError);
        if (received !== reported) onReceived(received);
        if (why !== null) body.destroy();
        resolve(why);
      };
      const onData = (chunk: Buffer) => {
        received += chunk.length;
        if (received > file.sizeBytes) {
          settle(new Retryable(`the file host sent more than the ${file.sizeBytes} bytes the hub announced`));
        } else if (received - reported >= PROGRESS_BYTES || performance.now() - reportedAt >= PROGRESS_MS) {
          reported = received;
          reportedAt = performance.now();
          onReceived(received);
        }
      };
      const onDiskError = () => settle(null);
      body.on('data', onData);
      body.once('end', () => settle(null));
      body.once('error', (e: Error) =>
        settle(isAbort(e, signal) ? e : new Retryable(e.message || 'the connection broke off')),
      );
      body.once('close', () => settle(signal.aborted ? (signal.reason ?? new Error('aborted')) : null));
      writer.once('error', onDiskError);
      body.pipe(writer, { end: false });
    });
  }

  private diskError(path: string, e: unknown): DiskWriteError {
    const err = e as NodeJS.ErrnoException;
    return new DiskWriteError(path, err?.code, err?.message ?? String(e));
  }
}

/** A failed attempt, with the bytes on disk (and hashed) it left. */
class AttemptError extends Error {
  constructor(
    override readonly cause: unknown,
    readonly have: number,
  ) {
    super((cause as Error)?.message ?? String(cause));
  }
}
