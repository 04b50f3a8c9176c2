import { Inject, Injectable, Logger } from '@nestjs/common';
import { dirname, join, resolve } from 'node:path';
import { FileStore } from '../common/io/file-store';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { DOWNLOAD_STATES, DownloadJobRecord } from './download-job';

/** Finished jobs kept in the file (and the list); older ones are forgotten. */
export const KEPT_FINISHED_JOBS = 200;

function isRecord(v: unknown): v is DownloadJobRecord {
  const r = v as DownloadJobRecord;
  return (
    !!r &&
    typeof r === 'object' &&
    typeof r.id === 'string' &&
    (DOWNLOAD_STATES as readonly string[]).includes(r.state) &&
    typeof r.repo === 'string' &&
    typeof r.commit === 'string' &&
    typeof r.destination === 'string' &&
    Array.isArray(r.files) &&
    r.files.every(
      (f) =>
        !!f &&
        typeof f.path === 'string' &&
        typeof f.target === 'string' &&
        typeof f.sha256 === 'string' &&
        Number.isSafeInteger(f.sizeBytes),
    )
  );
}

/**
 * Persistence of the download jobs: `downloads.json` in STATE_PATH's folder, written
 * atomically (FileStore.writeAtomic), one write at a time, the latest state winning.
 */
@Injectable()
export class DownloadsStore {
  private readonly logger = new Logger(DownloadsStore.name);
  readonly path: string;
  private chain: Promise<unknown> = Promise.resolve();
  private pending: DownloadJobRecord[] | null = null;

  constructor(
    private readonly files: FileStore,
    @Inject(magiConfig.KEY) config: MagiConfig,
  ) {
    this.path = join(dirname(resolve(config.profiles.statePath)), 'downloads.json');
  }

  /** The jobs of the file; none when it is missing, and none (with an error logged) when it is not valid. */
  async load(): Promise<DownloadJobRecord[]> {
    let text: string;
    try {
      text = await this.files.readText(this.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      this.logger.error({ path: this.path, err: (e as Error).message }, 'Download jobs cannot be read: starting empty');
      return [];
    }
    try {
      const doc = JSON.parse(text) as { version?: unknown; jobs?: unknown };
      if (doc?.version !== 1 || !Array.isArray(doc.jobs)) throw new Error('not a downloads document');
      const jobs = doc.jobs.filter(isRecord);
      if (jobs.length !== doc.jobs.length) {
        this.logger.warn({ path: this.path, dropped: doc.jobs.length - jobs.length }, 'Invalid download jobs dropped');
      }
      return jobs;
    } catch (e) {
      this.logger.error(
        { path: this.path, err: (e as Error).message },
        'Download jobs file is corrupt: starting empty',
      );
      return [];
    }
  }

  /** Writes the jobs; a call made while a write runs is merged into the next one. */
  save(jobs: DownloadJobRecord[]): Promise<void> {
    const first = this.pending === null;
    this.pending = jobs;
    if (!first) return this.chain.then(() => undefined);
    const run = this.chain
      .catch(() => undefined)
      .then(async () => {
        const snapshot = this.pending!;
        this.pending = null;
        await this.files.writeAtomic(this.path, JSON.stringify({ version: 1, jobs: snapshot }, null, 1));
      });
    this.chain = run;
    return run;
  }
}
