import { Inject, Injectable, Logger } from '@nestjs/common';
import { resolve } from 'node:path';
import { FileStore } from '../common/io/file-store';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import type { RegistrySnapshot } from './registry.types';

const EMPTY: RegistrySnapshot = { version: 1, lastScan: null, models: {}, files: {}, scanErrors: [] };

function isSnapshot(v: unknown): v is RegistrySnapshot {
  const s = v as RegistrySnapshot;
  return (
    !!s &&
    typeof s === 'object' &&
    s.version === 1 &&
    typeof s.models === 'object' &&
    !!s.models &&
    typeof s.files === 'object' &&
    !!s.files
  );
}

/**
 * Persistence of the registry file. Writes are atomic (FileStore.writeAtomic); the
 * copy that loaded cleanly at start-up is kept as `<file>.bak`, the last good copy used
 * when the main file is found corrupt (which is then moved aside, not deleted).
 */
@Injectable()
export class RegistryStore {
  private readonly logger = new Logger(RegistryStore.name);
  readonly path: string;
  /** Set by load() when the main file was missing or moved aside: the next save must recreate it. */
  needsWrite = false;

  constructor(
    private readonly files: FileStore,
    @Inject(magiConfig.KEY) config: MagiConfig,
  ) {
    this.path = resolve(config.registry.registryPath);
  }

  private async tryRead(path: string): Promise<{ snapshot?: RegistrySnapshot; error?: string; missing?: boolean }> {
    let text: string;
    try {
      text = await this.files.readText(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { missing: true };
      return { error: (e as Error).message };
    }
    try {
      const parsed: unknown = JSON.parse(text);
      return isSnapshot(parsed) ? { snapshot: parsed } : { error: 'not a registry document' };
    } catch (e) {
      return { error: (e as Error).message };
    }
  }

  /** Loads the registry; never throws for a bad file (the server must still start). */
  async load(): Promise<RegistrySnapshot> {
    const main = await this.tryRead(this.path);
    if (main.snapshot) {
      await this.files.writeAtomic(`${this.path}.bak`, JSON.stringify(main.snapshot));
      return main.snapshot;
    }
    this.needsWrite = true;
    if (main.missing) return structuredClone(EMPTY);
    const aside = `${this.path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    await this.files.rename(this.path, aside).catch(() => undefined);
    const backup = await this.tryRead(`${this.path}.bak`);
    this.logger.error(
      { path: this.path, movedTo: aside, reason: main.error, recoveredFromBackup: !!backup.snapshot },
      'Registry file is corrupt: moved aside, using the last good copy',
    );
    return backup.snapshot ?? structuredClone(EMPTY);
  }

  async save(snapshot: RegistrySnapshot): Promise<void> {
    await this.files.writeAtomic(this.path, JSON.stringify(snapshot));
    this.needsWrite = false;
  }
}
