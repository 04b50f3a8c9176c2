import { Inject, Injectable } from '@nestjs/common';
import { resolve } from 'node:path';
import { FileStore } from '../common/io/file-store';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { MAX_PROFILE_FILE_BYTES, parseProfileYaml, serializeProfile } from './profile-file';
import { keyOfProfileFile, profileFileName } from './profile-key';
import type { Profile } from './profile.types';

/** What reading one profile file found. `profile` objects are deep-frozen and shared. */
export type ProfileRead =
  | { state: 'missing' }
  | { state: 'ok'; profile: Profile }
  | { state: 'invalid'; reason: string; fields?: Record<string, string[]> };

/** The small persisted state of STATE_PATH. Other keys found in the file are kept. */
export interface ProfilesState {
  activeProfile?: string;
  [key: string]: unknown;
}

export type StateRead =
  { state: 'ok'; value: ProfilesState } | { state: 'missing' } | { state: 'invalid'; reason: string };

interface CacheEntry {
  mtimeMs: number;
  size: number;
  result: ProfileRead;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * The profile files of PROFILES_PATH and the state file, through FileStore. Files are read
 * on demand — so hand-edits are seen without a restart — and a parsed file is reused while
 * its mtime and size stay the same (one stat per read). Every path is resolved with
 * `FileStore.resolveWithin(root, …)`, so nothing outside the folder is ever touched.
 */
@Injectable()
export class ProfilesStore {
  readonly root: string;
  readonly statePath: string;
  private readonly cache = new Map<string, CacheEntry>();

  constructor(
    private readonly files: FileStore,
    @Inject(magiConfig.KEY) config: MagiConfig,
  ) {
    this.root = resolve(config.profiles.path);
    this.statePath = resolve(config.profiles.statePath);
  }

  /** Absolute path of a key's file; throws PathOutsideRootError for anything that would leave the folder. */
  pathOf(key: string): string {
    return this.files.resolveWithin(this.root, profileFileName(key));
  }

  /** Keys of the `*.yaml` files whose base name is a key, sorted. */
  async listKeys(): Promise<string[]> {
    const names = await this.files.listFiles(this.root);
    return names
      .map(keyOfProfileFile)
      .filter((k): k is string => k !== null)
      .sort();
  }

  async exists(key: string): Promise<boolean> {
    const st = await this.files.stat(this.pathOf(key));
    return !!st?.isFile;
  }

  /** Reads (or reuses) one profile file. Never throws for a bad file: it is `invalid` with the reason. */
  async read(key: string): Promise<ProfileRead> {
    const path = this.pathOf(key);
    const st = await this.files.stat(path);
    if (!st || !st.isFile) {
      this.cache.delete(key);
      return { state: 'missing' };
    }
    const hit = this.cache.get(key);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.result;
    let result: ProfileRead;
    if (st.size > MAX_PROFILE_FILE_BYTES) {
      result = { state: 'invalid', reason: `the file is larger than ${MAX_PROFILE_FILE_BYTES} bytes` };
    } else {
      let text: string;
      try {
        text = await this.files.readText(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
        return { state: 'invalid', reason: `the file cannot be read: ${(e as NodeJS.ErrnoException).code ?? 'error'}` };
      }
      const parsed = parseProfileYaml(text);
      result = parsed.ok
        ? { state: 'ok', profile: deepFreeze(parsed.profile) }
        : { state: 'invalid', reason: parsed.reason, ...(parsed.fields ? { fields: parsed.fields } : {}) };
    }
    this.cache.set(key, { mtimeMs: st.mtimeMs, size: st.size, result });
    return result;
  }

  /** Writes a profile atomically (temp file, fsync, rename, fsync of the folder). */
  async write(key: string, profile: Profile): Promise<void> {
    await this.files.writeAtomic(this.pathOf(key), serializeProfile(profile));
    this.cache.delete(key);
  }

  /** Deletes a profile file; false when it was not there. */
  async remove(key: string): Promise<boolean> {
    const removed = await this.files.remove(this.pathOf(key));
    this.cache.delete(key);
    return removed;
  }

  async readState(): Promise<StateRead> {
    let text: string;
    try {
      text = await this.files.readText(this.statePath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
      return { state: 'invalid', reason: (e as Error).message };
    }
    try {
      const value: unknown = JSON.parse(text);
      if (!value || typeof value !== 'object' || Array.isArray(value))
        return { state: 'invalid', reason: 'not a JSON object' };
      return { state: 'ok', value: value as ProfilesState };
    } catch (e) {
      return { state: 'invalid', reason: (e as Error).message };
    }
  }

  /** Merges `patch` into the state file and writes it atomically. */
  async writeState(patch: ProfilesState): Promise<void> {
    const current = await this.readState();
    const value = { ...(current.state === 'ok' ? current.value : {}), ...patch };
    await this.files.writeAtomic(this.statePath, `${JSON.stringify(value, null, 2)}\n`);
  }
}
