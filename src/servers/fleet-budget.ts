import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { totalmem } from 'node:os';
import { FileStore } from '../common/io/file-store';
import { MemoryBudgetSetting, autoBudget, parseCgroupMemoryMax, parseMemoryBudget } from '../common/units/memory-size';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';

/** cgroup v2's memory limit of the container MAGI runs in (`max` when none). */
const CGROUP_MEMORY_MAX = '/sys/fs/cgroup/memory.max';

/**
 * The fleet's memory budget in bytes (API.md §9): a profile's `memoryBudget`, else
 * FLEET_MEMORY_BUDGET; `auto` is the machine's memory — the container's cgroup limit where
 * lower, read once before the fleet first starts — minus FLEET_MEMORY_RESERVE; `off` is null.
 */
@Injectable()
export class FleetBudget implements OnModuleInit {
  private machine: { totalBytes: number; cgroupBytes: number | null } = { totalBytes: totalmem(), cgroupBytes: null };
  private cache: { text: string | undefined; setting: MemoryBudgetSetting } | null = null;
  private readonly setting: MemoryBudgetSetting;
  private readonly reserveBytes: number;

  constructor(
    private readonly files: FileStore,
    @Inject(magiConfig.KEY) config: MagiConfig,
  ) {
    this.setting = config.fleet.memoryBudget;
    this.reserveBytes = config.fleet.memoryReserveBytes;
  }

  /** Before any bootstrap hook: the first activation already sees the container's limit. */
  async onModuleInit(): Promise<void> {
    const text = await this.files.readText(CGROUP_MEMORY_MAX).catch(() => null);
    this.machine = { totalBytes: totalmem(), cgroupBytes: parseCgroupMemoryMax(text) };
  }

  /** The budget for a profile whose `memoryBudget` is `text` (undefined: the configuration's); null when off. */
  bytesFor(text: string | undefined): number | null {
    let cache = this.cache;
    if (cache === null || cache.text !== text) {
      let setting = this.setting;
      if (text !== undefined) {
        try {
          setting = parseMemoryBudget(text, 'memoryBudget');
        } catch {
          // Validated when the profile was written; a hand-edit that broke it falls back to the configuration.
        }
      }
      cache = this.cache = { text, setting };
    }
    const { setting } = cache;
    if (setting === 'off') return null;
    if (setting === 'auto') return autoBudget(this.machine.totalBytes, this.machine.cgroupBytes, this.reserveBytes);
    return setting;
  }
}
