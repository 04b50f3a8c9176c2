import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Dirent, constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

export interface FileStat {
  size: number;
  mtimeMs: number;
  isFile: boolean;
  isDirectory: boolean;
}

/** A readable byte range source over an open file (GGUF headers are read this way). */
export interface OpenFile {
  size: number;
  read(position: number, length: number, into?: Buffer): Promise<Buffer>;
  /** Bytes handed out by read() so far. */
  bytesRead(): number;
  close(): Promise<void>;
}

/** Thrown when a path would leave the folder it must stay in. */
export class PathOutsideRootError extends Error {}

/**
 * The file-system port: reads, folder walks and atomic writes. Every write goes
 * temp file → fsync → rename → fsync(dir), so a crash leaves the old or the new file,
 * never a partial one.
 */
export abstract class FileStore {
  abstract readText(path: string): Promise<string>;
  abstract open(path: string): Promise<OpenFile>;
  abstract stat(path: string): Promise<FileStat | null>;
  /** Every regular file below `dir` (recursively), absolute paths, sorted. Missing dir → []. */
  abstract walk(dir: string): Promise<string[]>;
  /** Entries directly in `dir` (names only), files only. Missing dir → []. */
  abstract listFiles(dir: string): Promise<string[]>;
  abstract writeAtomic(path: string, data: string | Buffer): Promise<void>;
  abstract remove(path: string): Promise<boolean>;
  abstract rename(from: string, to: string): Promise<void>;
  /**
   * Puts a file written elsewhere (a download's part) in place as writeAtomic does its temp
   * file: fsync it, rename it, fsync the folder, so after a crash `to` is absent or whole.
   * Refuses a link at `from`.
   */
  abstract renameDurably(from: string, to: string): Promise<void>;
  abstract ensureDir(dir: string): Promise<void>;

  /**
   * `root/name` when it stays inside `root` (no `..`, no absolute, no separators
   * smuggled in); throws PathOutsideRootError otherwise.
   */
  resolveWithin(root: string, name: string): string {
    const base = resolve(root);
    if (!name || name.includes('\0') || isAbsolute(name)) throw new PathOutsideRootError(`Path escapes ${base}`);
    const full = resolve(base, name);
    const rel = relative(base, full);
    if (!rel || rel.startsWith('..') || isAbsolute(rel) || rel.includes(sep)) {
      throw new PathOutsideRootError(`Path escapes ${base}`);
    }
    return full;
  }
}

/** fsync of a file or a folder (opened read-only: a folder cannot be opened for writing). */
async function fsyncPath(path: string, flags = fsConstants.O_RDONLY): Promise<void> {
  const handle = await fs.open(path, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

@Injectable()
export class NodeFileStore extends FileStore {
  async readText(path: string): Promise<string> {
    return fs.readFile(path, 'utf8');
  }

  async open(path: string): Promise<OpenFile> {
    const handle = await fs.open(path, fsConstants.O_RDONLY);
    const { size } = await handle.stat();
    let total = 0;
    return {
      size,
      async read(position, length, into) {
        const buf = into && into.length >= length ? into : Buffer.allocUnsafe(length);
        const { bytesRead } = await handle.read(buf, 0, length, position);
        total += bytesRead;
        return bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
      },
      bytesRead: () => total,
      close: () => handle.close(),
    };
  }

  async stat(path: string): Promise<FileStat | null> {
    try {
      const s = await fs.stat(path);
      return { size: s.size, mtimeMs: s.mtimeMs, isFile: s.isFile(), isDirectory: s.isDirectory() };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async walk(dir: string): Promise<string[]> {
    const out: string[] = [];
    const visit = async (d: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await fs.readdir(d, { withFileTypes: true });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') return;
        throw e;
      }
      for (const entry of entries) {
        const full = join(d, entry.name);
        if (entry.isDirectory()) await visit(full);
        else if (entry.isFile() || entry.isSymbolicLink()) out.push(full);
      }
    };
    await visit(resolve(dir));
    return out.sort();
  }

  async listFiles(dir: string): Promise<string[]> {
    try {
      const entries = await fs.readdir(dir, { withFileTypes: true });
      return entries
        .filter((e) => e.isFile())
        .map((e) => e.name)
        .sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  async writeAtomic(path: string, data: string | Buffer): Promise<void> {
    const dir = dirname(path);
    await fs.mkdir(dir, { recursive: true });
    const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    const handle = await fs.open(tmp, 'w', 0o644);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.rename(tmp, path);
    } catch (e) {
      await fs.rm(tmp, { force: true });
      throw e;
    }
    // fsync the folder so the rename itself survives a power loss.
    await fsyncPath(dir);
  }

  async remove(path: string): Promise<boolean> {
    try {
      await fs.unlink(path);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  async rename(from: string, to: string): Promise<void> {
    await fs.rename(from, to);
  }

  async renameDurably(from: string, to: string): Promise<void> {
    await fsyncPath(from, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    await fs.rename(from, to);
    await fsyncPath(dirname(to));
  }

  async ensureDir(dir: string): Promise<void> {
    await fs.mkdir(dir, { recursive: true });
  }
}
