import { Inject, Injectable } from '@nestjs/common';
import { resolve } from 'node:path';
import { FileStore } from '../common/io/file-store';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { MEMORY_FACTS_VERSION, readFileInfo } from './file-info';
import type { FileRecord } from './registry.types';
import { ParsedFile, ScanPlan, planScan } from './scan-plan';

/** What one pass over MODEL_SCAN_PATH found. */
export interface ScanOutcome {
  /** Every `*.gguf` file by absolute path, with its header facts or the reason it could not be read. */
  files: Record<string, FileRecord>;
  /** The models (split sets joined, projectors paired) and the files skipped, with why. */
  plan: ScanPlan;
  /** Headers parsed this pass (files whose size and mtime did not change are not read again). */
  headersRead: number;
}

const SCAN_CONCURRENCY = 8;

/** A readable file whose record predates the memory facts (or their current derivation): its header is read again. */
function lacksMemoryFacts(record: FileRecord): boolean {
  return !!record.info && record.info.memory?.version !== MEMORY_FACTS_VERSION;
}

/**
 * Walks MODEL_SCAN_PATH and reads the GGUF header of each new or changed `*.gguf` file
 * through the FileStore port, then plans the models they make. Holds no state: the caller
 * passes the file records of the previous scan and keeps the result.
 */
@Injectable()
export class RegistryScanner {
  /** Absolute MODEL_SCAN_PATH. */
  readonly root: string;

  constructor(
    private readonly files: FileStore,
    @Inject(magiConfig.KEY) config: MagiConfig,
  ) {
    this.root = resolve(config.registry.scanPath);
  }

  /**
   * Scans the folder; a file whose size and mtime match its record in `previous` keeps that
   * record, unless the record was written before the memory facts it now carries existed.
   */
  async scan(previous: Readonly<Record<string, FileRecord>>): Promise<ScanOutcome> {
    const paths = (await this.files.walk(this.root)).filter((p) => p.toLowerCase().endsWith('.gguf'));
    const files: Record<string, FileRecord> = {};
    const parsed: ParsedFile[] = [];
    let headersRead = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < paths.length) {
        const path = paths[next++];
        const stat = await this.files.stat(path).catch(() => null);
        if (!stat?.isFile) continue;
        let record: FileRecord | undefined = previous[path];
        if (!record || record.size !== stat.size || record.mtimeMs !== stat.mtimeMs || lacksMemoryFacts(record)) {
          headersRead++;
          record = { size: stat.size, mtimeMs: stat.mtimeMs, ...(await readFileInfo(this.files, path)) };
        }
        files[path] = record;
        parsed.push({ path, size: record.size, info: record.info, error: record.error });
      }
    };
    await Promise.all(Array.from({ length: SCAN_CONCURRENCY }, worker));
    return { files, plan: planScan(parsed), headersRead };
  }
}
