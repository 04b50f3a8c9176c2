import { Injectable } from '@nestjs/common';
import { readFile, realpath } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** The mappings of the model files in one process, summed. */
export interface ModelMappingBytes {
  /** Mapped length (`Size`, whole pages), resident or not. */
  sizeBytes: number;
  /** The part of it in memory now (`Rss`), already inside VmRSS. */
  rssBytes: number;
  /** How many mappings matched. */
  mappings: number;
}

const KIB = 1024;

/** `VmRSS` of a `/proc/<pid>/status` text in bytes; null when absent (a zombie, a kernel thread). */
export function parseVmRssBytes(statusText: string): number | null {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(statusText);
  return m ? Number(m[1]) * KIB : null;
}

// `start-end perms offset major:minor inode`, then (padded) the pathname, if any.
const MAPPING_HEADER = /^[0-9a-f]+-[0-9a-f]+ +\S+ +[0-9a-f]+ +[0-9a-f]+:[0-9a-f]+ +\d+ *(.*)$/;
const SIZE_FIELD = /^(Size|Rss):\s+(\d+) kB$/;
// The kernel appends this to the pathname of a file unlinked since it was mapped.
const DELETED = ' (deleted)';

/**
 * Sums `Size` and `Rss` of the mappings in a `/proc/<pid>/smaps` text whose pathname is
 * one of `paths` (compared as written: pass canonical absolute paths). A file deleted after
 * it was mapped still counts under its old path. The kernel writes a newline in a pathname
 * as `\012`; `paths` are compared in that spelling.
 */
export function modelMappingBytes(smapsText: string, paths: readonly string[]): ModelMappingBytes {
  const wanted = new Set(paths.map((p) => p.replace(/\n/g, '\\012')));
  const sum: ModelMappingBytes = { sizeBytes: 0, rssBytes: 0, mappings: 0 };
  if (wanted.size === 0) return sum;
  let inModel = false;
  for (const line of smapsText.split('\n')) {
    const header = MAPPING_HEADER.exec(line);
    if (header) {
      const name = header[1].endsWith(DELETED) ? header[1].slice(0, -DELETED.length) : header[1];
      // Anonymous memory and `[heap]`-like names are never a file.
      inModel = name.startsWith('/') && wanted.has(name);
      if (inModel) sum.mappings++;
      continue;
    }
    if (!inModel) continue;
    const field = SIZE_FIELD.exec(line);
    if (field) sum[field[1] === 'Size' ? 'sizeBytes' : 'rssBytes'] += Number(field[2]) * KIB;
  }
  return sum;
}

/**
 * A process's memory as the fleet counts it: VmRSS, with each model mapping counted at its
 * whole mapped size instead of its resident part (VmRSS − Rss + Size of those mappings). A
 * model llama-server maps read-only is paged in as it is read, so VmRSS alone understates
 * what the server will come to hold. Null when `statusText` has no VmRSS.
 */
export function processMemoryBytes(
  statusText: string,
  smapsText: string,
  modelPaths: readonly string[],
): number | null {
  const vmRss = parseVmRssBytes(statusText);
  if (vmRss === null) return null;
  const model = modelMappingBytes(smapsText, modelPaths);
  return vmRss - model.rssBytes + model.sizeBytes;
}

/** The process-memory port: what a running process holds, measured from the kernel. */
export abstract class ProcessMemory {
  /**
   * The process's memory counted the fleet's way (see processMemoryBytes): VmRSS, with the
   * files in `modelPaths` counted at their whole mapped size. Null when the process is gone
   * or its /proc entry cannot be read (not Linux, no permission). Never throws.
   */
  abstract residentBytes(pid: number, modelPaths: readonly string[]): Promise<number | null>;
}

/**
 * Reads `/proc/<pid>/status` and, when model paths are given, `/proc/<pid>/smaps`. smaps
 * makes the kernel walk the page tables of every mapping, so a read costs in proportion to
 * the process's mappings and resident pages: fine for a server with a few hundred mappings
 * every couple of seconds, not for a tight loop. Without model paths only `status` is read.
 */
@Injectable()
export class ProcfsProcessMemory extends ProcessMemory {
  /** Where procfs is mounted (a test points it at a folder without one). */
  procRoot = '/proc';

  async residentBytes(pid: number, modelPaths: readonly string[]): Promise<number | null> {
    const dir = join(this.procRoot, String(pid));
    try {
      const [status, smaps, paths] = await Promise.all([
        readFile(join(dir, 'status'), 'utf8'),
        modelPaths.length > 0 ? readFile(join(dir, 'smaps'), 'utf8') : '',
        Promise.all(modelPaths.map(canonicalPath)),
      ]);
      return processMemoryBytes(status, smaps, paths);
    } catch {
      // ENOENT/ESRCH: the process is gone (or there is no procfs); EACCES: not ours to read.
      return null;
    }
  }
}

/** The path the kernel shows for a mapping of `path`: symlinks resolved; as given if it is gone. */
async function canonicalPath(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    return resolve(path);
  }
}
