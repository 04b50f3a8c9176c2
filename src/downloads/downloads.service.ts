import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { AppError } from '../common/errors/app-error';
import { Clock } from '../common/io/clock';
import { FileStore } from '../common/io/file-store';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { RegistryService } from '../registry/registry.service';
import { DownloadJobDto } from './dto/download.dto';
import { DownloadFiles } from './download-files';
import { canMove, DownloadJobRecord, DownloadState, isTerminal, JobError, JobFile } from './download-job';
import { DownloadMetrics } from './download-metrics';
import {
  DownloadExistsError,
  DownloadNotFoundError,
  FileChoiceError,
  InsufficientStorageError,
  InvalidRepoNameError,
} from './downloads.error';
import { DownloadsStore, KEPT_FINISHED_JOBS } from './downloads.store';
import { FileTransferService } from './file-transfer.service';
import { HubClient } from './hub-client';
import { groupGgufFiles, HubFile, HubGgufGroup, pickGroup, pickProjector } from './hub-files';
import { hubReachError } from './hub-listing.service';
import { progressDelay, RateMeter } from './progress';
import { parseRepoId, repoFilePathProblem, RepoId, revisionProblem } from './repo-path';

/** A job as it lives in memory: its record plus what a run and its watchers need. */
interface Job {
  record: DownloadJobRecord;
  /** Bytes on disk of each file, in `record.files` order. */
  fileBytes: number[];
  controller: AbortController | null;
  run: Promise<void> | null;
  cancelRequested: boolean;
  rate: RateMeter;
  /** Bytes received from the hub by this run (the rate's input; resumed bytes are not counted). */
  networkBytes: number;
  /** Bumped on every change; SSE streams wait for it to move. */
  version: number;
  waiters: Set<() => void>;
  /** Settles when the job reaches done, failed or cancelled (an SSE stream's pacing never delays the end). */
  ended: Promise<void>;
  markEnded: () => void;
}

/** An SSE event of a job's stream. */
export interface DownloadEvent {
  event: 'progress' | 'done' | 'error';
  data: unknown;
}

export interface CreateDownload {
  repo: string;
  file?: string | null;
  quantization?: string | null;
  revision?: string | null;
}

const COMMIT = /^[0-9a-f]{40}$/;

/**
 * Download jobs (API.md §10): a request becomes a job of one file or every shard of a split,
 * pinned to one commit; jobs run DOWNLOAD_CONCURRENCY at a time, each file through
 * FileTransferService into a verified part, and the parts are renamed into
 * `MODEL_SCAN_PATH/{owner}/{repo}/…` only when every file matched its sha256; then the
 * registry rescans and the job names the new model ids. Jobs are persisted on every change of
 * state and resume after a restart from the bytes on disk.
 */
@Injectable()
export class DownloadsService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(DownloadsService.name);
  private readonly jobs = new Map<string, Job>();
  private readonly scanPath: string;
  private readonly concurrency: number;
  private running = 0;
  private stopping = false;
  /** Fires when MAGI stops: ends the SSE streams. */
  private readonly closing = new AbortController();

  constructor(
    @Inject(magiConfig.KEY) config: MagiConfig,
    private readonly hub: HubClient,
    private readonly transfer: FileTransferService,
    private readonly files: DownloadFiles,
    private readonly fileStore: FileStore,
    private readonly store: DownloadsStore,
    private readonly registry: RegistryService,
    private readonly clock: Clock,
    private readonly metrics: DownloadMetrics,
  ) {
    this.scanPath = resolve(config.registry.scanPath);
    this.concurrency = config.downloads.concurrency;
    metrics.countStatesOf(() => [...this.jobs.values()].map((j) => j.record.state));
  }

  /** Loads the persisted jobs; those that were queued or running start again from the bytes on disk. */
  async onModuleInit(): Promise<void> {
    const records = await this.store.load();
    let resumed = 0;
    for (const record of records) {
      if (!isTerminal(record.state)) {
        record.state = 'queued';
        resumed++;
      }
      this.jobs.set(record.id, this.runtime(record));
    }
    if (resumed) {
      this.logger.log({ resumed, path: this.store.path }, 'Download jobs resume from the bytes on disk');
      await this.persist();
    }
    this.schedule();
  }

  /** Stops every transfer (their parts stay for the next start) and waits for them. */
  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    this.closing.abort();
    const running = [...this.jobs.values()].filter((j) => j.run !== null);
    for (const j of running) j.controller?.abort(new Error('MAGI is stopping'));
    await Promise.all(running.map((j) => j.run ?? Promise.resolve()));
    await this.persist().catch(() => undefined);
  }

  /** Every job, oldest first. */
  list(): DownloadJobDto[] {
    return [...this.jobs.values()].map((j) => this.toDto(j));
  }

  get(id: string): DownloadJobDto {
    return this.toDto(this.job(id));
  }

  /**
   * Checks the request against the hub (the file or the one file of the quantization, its
   * sha256, the commit), adds the repository's projector to a model (pickProjector), refuses
   * a file already queued or running (409) and what the disk cannot hold (507), and queues the job.
   */
  async create(req: CreateDownload): Promise<DownloadJobDto> {
    const { repo, revision } = this.checkNames(req);
    const { group, groups } = await this.pick(repo, revision, req);
    const missingSha = group.files.find((f) => !f.sha256);
    if (missingSha) {
      throw new FileChoiceError(`The hub states no sha256 for ${missingSha.path}: it cannot be verified`, {
        path: missingSha.path,
      });
    }
    let commit: string;
    try {
      commit = COMMIT.test(revision)
        ? revision
        : ((await this.hub.fileMeta(repo, revision, group.files[0].path)).commit ?? revision);
    } catch (e) {
      throw hubReachError(e, this.hub.endpoint);
    }
    const destination = join(this.scanPath, repo.owner, repo.name);
    const modelFiles = group.files.map((f) => jobFile(f, join(destination, ...f.path.split('/'))));
    // The registry attaches a projector to a model of the same folder: it lands beside the model,
    // wherever the hub keeps it.
    const projector = this.projectorFor(groups, group);
    const besideModel = dirname(modelFiles[0].target);
    const projectorFiles = (projector?.files ?? []).map((f) => jobFile(f, join(besideModel, basename(f.path))));
    await this.checkStorage([...modelFiles, ...projectorFiles]);
    // Checked last, with no await after it: two requests for one file cannot both pass. A projector
    // that another job already brings to the same place is left to it (two quantizations asked at once).
    const files = [...modelFiles, ...projectorFiles.filter((f) => !this.activeJobWith(f.target))];
    this.checkNotRunning(files);
    const record: DownloadJobRecord = {
      id: randomUUID(),
      state: 'queued',
      repo: `${repo.owner}/${repo.name}`,
      revision,
      commit,
      files,
      destination,
      totalBytes: files.reduce((n, f) => n + f.sizeBytes, 0),
      receivedBytes: 0,
      error: null,
      modelIds: [],
      createdAt: new Date(this.clock.now()).toISOString(),
      finishedAt: null,
    };
    const job = this.runtime(record);
    this.jobs.set(record.id, job);
    this.prune();
    this.logger.log(
      {
        downloadId: record.id,
        repo: record.repo,
        commit,
        files: files.map((f) => f.path),
        totalBytes: record.totalBytes,
      },
      'Download queued',
    );
    await this.persist();
    this.schedule();
    return this.toDto(job);
  }

  /** Cancels a queued or running job and removes its partial files; a finished job is answered as it is. */
  async cancel(id: string): Promise<DownloadJobDto> {
    const job = this.job(id);
    if (isTerminal(job.record.state)) return this.toDto(job);
    job.cancelRequested = true;
    if (job.run) {
      job.controller?.abort(new Error('cancelled'));
      await job.run;
    } else {
      await this.removeParts(job);
      this.finish(job, 'cancelled', cancelledError());
      await this.persist();
    }
    return this.toDto(job);
  }

  /**
   * The job's SSE events: `progress` when it changes (at most one per 250 ms), then `done`
   * with the model ids or `error` as soon as the job ends (a progress still held back by the
   * pacing is then dropped: the end is not delayed for it). Ends when `signal` fires (the
   * client went away).
   */
  async *events(id: string, client: AbortSignal): AsyncGenerator<DownloadEvent> {
    const job = this.job(id);
    // A stream also ends when MAGI stops: the HTTP server waits for open connections before it closes.
    const signal = AbortSignal.any([client, this.closing.signal]);
    let lastSent: number | null = null;
    let sentVersion = -1;
    while (!signal.aborted) {
      const ended = isTerminal(job.record.state);
      if (job.version !== sentVersion) {
        const delay = progressDelay(lastSent, this.clock.now());
        if (delay === 0) {
          sentVersion = job.version;
          lastSent = this.clock.now();
          yield { event: 'progress', data: this.toDto(job) };
        } else if (!ended) {
          await Promise.race([this.clock.sleep(delay, signal), job.ended]);
          continue;
        }
      }
      if (ended) {
        if (job.record.state === 'done') yield { event: 'done', data: { modelIds: job.record.modelIds } };
        else yield { event: 'error', data: job.record.error ?? cancelledError() };
        return;
      }
      await this.changed(job, signal);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Requests

  private checkNames(req: CreateDownload): { repo: RepoId; revision: string } {
    const revision = req.revision ?? 'main';
    const parsed = parseRepoId(req.repo);
    const problems = parsed.problems.map((p) => ({ ...p, value: req.repo }));
    const rev = revisionProblem(revision);
    if (rev) problems.push({ field: 'revision', reason: rev, value: revision });
    const fileProblem = req.file ? repoFilePathProblem(req.file) : null;
    if (fileProblem) problems.push({ field: 'file', reason: fileProblem, value: req.file! });
    if (req.quantization && !/^[A-Za-z0-9_-]{1,32}$/.test(req.quantization)) {
      problems.push({ field: 'quantization', reason: 'must be letters, digits, `_` or `-`', value: req.quantization });
    }
    if (problems.length || !parsed.repo) throw new InvalidRepoNameError(problems);
    return { repo: parsed.repo, revision };
  }

  private async pick(
    repo: RepoId,
    revision: string,
    req: CreateDownload,
  ): Promise<{ group: HubGgufGroup; groups: HubGgufGroup[] }> {
    let groups;
    try {
      groups = groupGgufFiles(await this.hub.listTree(repo, revision));
    } catch (e) {
      throw hubReachError(e, this.hub.endpoint);
    }
    const picked = pickGroup(groups, { file: req.file, quantization: req.quantization });
    if (!picked.ok) {
      const what = req.file ? `file '${req.file}'` : `quantization '${req.quantization}'`;
      const message = {
        'nothing-named': 'Name the file to download: give `file` or `quantization`',
        'both-named': 'Give `file` or `quantization`, not both',
        'no-match': `The repository has no GGUF ${what}`,
        'several-match': `Several files of the repository match ${what}: name one with \`file\``,
      }[picked.reason];
      throw new FileChoiceError(message, { reason: picked.reason, candidates: picked.candidates.slice(0, 100) });
    }
    // A hostile hub could list a path that leaves the models folder: refused before anything is written.
    const bad = picked.group.files.find((f) => repoFilePathProblem(f.path));
    if (bad) {
      throw new InvalidRepoNameError([{ field: 'file', reason: repoFilePathProblem(bad.path)!, value: bad.path }]);
    }
    return { group: picked.group, groups };
  }

  /**
   * The projector to fetch with `model` (pickProjector), among those that can be verified and
   * whose names are safe; null when `model` is a projector itself or the repository has none.
   */
  private projectorFor(groups: HubGgufGroup[], model: HubGgufGroup): HubGgufGroup | null {
    const usable = groups.filter(
      (g) => !g.isProjector || g.files.every((f) => f.sha256 && !repoFilePathProblem(f.path)),
    );
    return pickProjector(usable, model);
  }

  /** The queued or running job that writes `target`, if any. */
  private activeJobWith(target: string): Job | null {
    for (const j of this.jobs.values()) {
      if (!isTerminal(j.record.state) && j.record.files.some((f) => f.target === target)) return j;
    }
    return null;
  }

  private checkNotRunning(files: JobFile[]): void {
    for (const f of files) {
      const other = this.activeJobWith(f.target);
      if (other) throw new DownloadExistsError(other.record.id, f.path);
    }
  }

  /** 507 when the disk's free bytes are fewer than this job and the running ones still need. */
  private async checkStorage(files: JobFile[]): Promise<void> {
    let needed = 0;
    for (const f of files) {
      const part = (await this.files.size(`${f.target}.part`)) ?? 0;
      needed += Math.max(0, f.sizeBytes - Math.min(part, f.sizeBytes));
    }
    for (const j of this.jobs.values()) {
      if (!isTerminal(j.record.state)) needed += Math.max(0, j.record.totalBytes - j.record.receivedBytes);
    }
    const free = await this.files.freeBytes(this.scanPath);
    if (free < needed) throw new InsufficientStorageError(needed, free, this.scanPath);
  }

  // ---------------------------------------------------------------------------------------
  // Running

  private schedule(): void {
    if (this.stopping) return;
    for (const job of this.jobs.values()) {
      if (this.running >= this.concurrency) return;
      if (job.record.state !== 'queued' || job.run) continue;
      this.running++;
      job.controller = new AbortController();
      job.run = this.execute(job).finally(() => {
        this.running--;
        job.run = null;
        job.controller = null;
        this.schedule();
      });
    }
  }

  private async execute(job: Job): Promise<void> {
    const r = job.record;
    const signal = job.controller!.signal;
    const started = this.clock.now();
    const repo = parseRepoId(r.repo).repo!;
    job.rate.reset();
    job.networkBytes = 0;
    job.rate.add(started, 0);
    try {
      // Not persisted: a job found `downloading` or `queued` at start-up resumes the same way.
      this.move(job, 'downloading');
      for (const [i, file] of r.files.entries()) {
        if (file.verified && (await this.present(file))) continue;
        file.verified = false;
        if (r.state === 'verifying') this.move(job, 'downloading');
        // The target's folder, not the path's: a projector lands beside its model.
        await this.files.ensureDirWithin(this.scanPath, relative(this.scanPath, dirname(file.target)).split(sep));
        await this.transfer.fetch(repo, r.commit, file, (n, net) => this.fileBytes(job, i, n, net), signal);
        this.move(job, 'verifying');
        file.verified = true;
        this.logger.log({ downloadId: r.id, path: file.path, sizeBytes: file.sizeBytes }, 'File verified');
        // Kept for a restart, so a verified shard is not hashed again (the last one is renamed at once).
        if (i < r.files.length - 1) await this.persist();
      }
      if (r.state !== 'verifying') this.move(job, 'verifying');
      // Every file matched its sha256: only now do they take their names, so the registry never sees half a split.
      for (const file of r.files) {
        if ((await this.files.size(`${file.target}.part`)) !== null) {
          await this.fileStore.renameDurably(`${file.target}.part`, file.target);
        }
      }
      await this.registry.rescan();
      r.modelIds = this.modelIdsOf(r.files);
      this.finish(job, 'done', null);
      this.logger.log(
        {
          downloadId: r.id,
          repo: r.repo,
          modelIds: r.modelIds,
          totalBytes: r.totalBytes,
          durationMs: this.clock.now() - started,
        },
        'Download done',
      );
    } catch (e) {
      if (job.cancelRequested) {
        await this.removeParts(job);
        this.finish(job, 'cancelled', cancelledError());
        this.logger.log({ downloadId: r.id, repo: r.repo }, 'Download cancelled; its partial files removed');
      } else if (this.stopping) {
        if (canMove(r.state, 'queued')) this.move(job, 'queued');
        this.logger.log(
          { downloadId: r.id, receivedBytes: r.receivedBytes },
          'Download paused for shutdown; it resumes at the next start',
        );
      } else {
        const error = toJobError(e, this.hub);
        await this.removeParts(job);
        this.finish(job, 'failed', error);
        this.logger.warn(
          { downloadId: r.id, repo: r.repo, error: error.error, reason: error.message },
          'Download failed; its partial files removed',
        );
      }
    }
    await this.persist().catch((e: Error) =>
      this.logger.error({ downloadId: r.id, err: e.message }, 'Download jobs could not be saved'),
    );
  }

  /** A verified file whose part (or final file) is still there, whole. */
  private async present(file: JobFile): Promise<boolean> {
    const part = await this.files.size(`${file.target}.part`);
    const done = part === null ? await this.files.size(file.target) : part;
    return done === file.sizeBytes;
  }

  private fileBytes(job: Job, index: number, received: number, fromNetwork: boolean): void {
    const before = job.fileBytes[index];
    job.fileBytes[index] = received;
    let total = 0;
    for (const n of job.fileBytes) total += n;
    job.record.receivedBytes = total;
    // Only bytes from the network count towards the rate and the metric, not a part re-hashed from disk.
    if (fromNetwork && received > before) {
      this.metrics.received(received - before);
      job.networkBytes += received - before;
      job.rate.add(this.clock.now(), job.networkBytes);
    }
    this.notify(job);
  }

  /** The models the job's files became; for a projector alone, the model it was attached to. */
  private modelIdsOf(files: JobFile[]): string[] {
    const targets = new Set(files.map((f) => f.target));
    const models = this.registry.list();
    const own = models.filter((m) => targets.has(m.filePath) || (m.splitFiles ?? []).some((p) => targets.has(p)));
    const named = own.length ? own : models.filter((m) => m.mmprojPath !== null && targets.has(m.mmprojPath));
    return named.map((m) => m.modelId).sort();
  }

  /** Removes the job's part files, and the folders they leave empty (the models folder stays). */
  private async removeParts(job: Job): Promise<void> {
    for (const file of job.record.files) {
      await this.fileStore.remove(`${file.target}.part`).catch(() => false);
      await this.files.removeEmptyDirs(this.scanPath, dirname(file.target)).catch(() => undefined);
    }
    job.fileBytes.fill(0);
    job.record.receivedBytes = 0;
  }

  // ---------------------------------------------------------------------------------------
  // State

  private runtime(record: DownloadJobRecord): Job {
    let markEnded = (): void => undefined;
    const ended = new Promise<void>((resolve) => (markEnded = resolve));
    if (isTerminal(record.state)) markEnded();
    return {
      record,
      fileBytes: record.files.map((f, i) =>
        i === 0 ? Math.min(record.receivedBytes, f.sizeBytes) : f.verified ? f.sizeBytes : 0,
      ),
      controller: null,
      run: null,
      cancelRequested: false,
      rate: new RateMeter(),
      networkBytes: 0,
      version: 0,
      waiters: new Set(),
      ended,
      markEnded,
    };
  }

  private job(id: string): Job {
    const job = this.jobs.get(id);
    if (!job) throw new DownloadNotFoundError(id);
    return job;
  }

  private move(job: Job, to: DownloadState): void {
    const from = job.record.state;
    if (from === to) return;
    if (!canMove(from, to)) throw new Error(`download ${job.record.id} cannot go from ${from} to ${to}`);
    job.record.state = to;
    this.notify(job);
  }

  private finish(job: Job, state: 'done' | 'failed' | 'cancelled', error: JobError | null): void {
    this.move(job, state);
    job.record.error = error;
    job.record.finishedAt = new Date(this.clock.now()).toISOString();
    job.markEnded();
    this.notify(job);
  }

  private notify(job: Job): void {
    job.version++;
    if (!job.waiters.size) return;
    const waiters = [...job.waiters];
    job.waiters.clear();
    for (const w of waiters) w();
  }

  private changed(job: Job, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        job.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      job.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Forgets the oldest finished jobs beyond KEPT_FINISHED_JOBS. */
  private prune(): void {
    const finished = [...this.jobs.values()].filter((j) => isTerminal(j.record.state));
    for (const j of finished.slice(0, Math.max(0, finished.length - KEPT_FINISHED_JOBS))) this.jobs.delete(j.record.id);
  }

  private persist(): Promise<void> {
    return this.store.save([...this.jobs.values()].map((j) => j.record));
  }

  private toDto(job: Job): DownloadJobDto {
    const r = job.record;
    return {
      id: r.id,
      state: r.state,
      repo: r.repo,
      revision: r.revision,
      commit: r.commit,
      files: r.files.map((f, i) => ({
        path: f.path,
        sizeBytes: f.sizeBytes,
        sha256: f.sha256,
        receivedBytes: job.fileBytes[i],
      })),
      destination: r.destination,
      receivedBytes: r.receivedBytes,
      totalBytes: r.totalBytes,
      bytesPerSecond: r.state === 'downloading' ? job.rate.rate(this.clock.now()) : 0,
      error: r.error,
      modelIds: r.modelIds,
      createdAt: r.createdAt,
      finishedAt: r.finishedAt,
    };
  }
}

function cancelledError(): JobError {
  return { error: 'DownloadCancelled', message: 'The download was cancelled', details: {} };
}

/** A job's error in the API's shape; anything unexpected keeps its message with secrets removed. */
function toJobError(e: unknown, hub: HubClient): JobError {
  const err = hubReachError(e, hub.endpoint);
  if (err instanceof AppError) return { error: err.type, message: hub.redact(err.message), details: err.details };
  return { error: 'DownloadFailed', message: hub.redact((err as Error)?.message ?? String(err)), details: {} };
}

function jobFile(f: HubFile, target: string): JobFile {
  // The sha256 of every file is checked before (create), or the file left out (projectorFor).
  return { path: f.path, sizeBytes: f.sizeBytes, sha256: f.sha256!, target, verified: false };
}
