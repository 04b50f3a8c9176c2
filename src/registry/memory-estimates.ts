import { Injectable } from '@nestjs/common';
import type { Profile } from '../profiles/profile.types';
import { ProfilesService } from '../profiles/profiles.service';
import { estimateMemory, MemoryEstimate, MemorySettings, MemorySettingsError, ModelMemoryFacts } from './memory';
import { memorySettingsOf } from './memory';
import { InvalidMemorySettingsError, MemoryEstimateUnavailableError } from './registry.error';

/** Settings asked for instead of the active profile's (`GET …/memory?ctxSize=&parallel=&cacheType=`). */
export interface MemoryOverrides {
  /** `--ctx-size`; 0 is llama-server's default. */
  ctxSize?: number;
  /** `--parallel`. */
  parallel?: number;
  /** `--cache-type-k` and `--cache-type-v` both. */
  cacheType?: string;
}

/** The settings the estimates are made for, and a key that changes exactly when they do. */
export interface ActiveMemorySettings {
  settings: MemorySettings;
  key: string;
}

/**
 * Memory estimates of registry models (src/registry/memory) for the settings the fleet
 * would start them with: the active profile's `server` block, read as llama-server reads
 * its flags (memory-settings.ts), or other settings asked for.
 */
@Injectable()
export class MemoryEstimates {
  private memo: (ActiveMemorySettings & { profile: Profile | null }) | null = null;

  constructor(private readonly profiles: ProfilesService) {}

  /** The active profile's settings (worked out again only when the active profile changed). */
  active(): ActiveMemorySettings {
    const { profile } = this.profiles.getActive();
    if (!this.memo || this.memo.profile !== profile) {
      const settings = memorySettingsOf(profile?.server);
      this.memo = { profile, settings, key: JSON.stringify(settings) };
    }
    return this.memo;
  }

  /** The estimate for `settings`; null when the header cannot tell or llama-server would refuse them. */
  estimate(facts: ModelMemoryFacts | null, settings: MemorySettings): MemoryEstimate | null {
    try {
      return estimateMemory(facts, settings);
    } catch (e) {
      if (e instanceof MemorySettingsError) return null;
      throw e;
    }
  }

  /**
   * The estimate for the active settings with `overrides` in their place. Throws
   * MemoryEstimateUnavailable (422) when the header cannot tell and InvalidMemorySettings
   * (400) for settings llama-server refuses.
   */
  estimateWith(
    model: { modelId: string; architecture: string | null; memoryFacts: ModelMemoryFacts | null },
    overrides: MemoryOverrides,
  ): MemoryEstimate {
    const settings: MemorySettings = { ...this.active().settings };
    if (overrides.ctxSize !== undefined) settings.ctxSize = overrides.ctxSize;
    if (overrides.parallel !== undefined) settings.parallel = overrides.parallel;
    if (overrides.cacheType !== undefined) settings.cacheTypeK = settings.cacheTypeV = overrides.cacheType;
    let estimate: MemoryEstimate | null;
    try {
      estimate = estimateMemory(model.memoryFacts, settings);
    } catch (e) {
      if (e instanceof MemorySettingsError) throw new InvalidMemorySettingsError(model.modelId, e.message, settings);
      throw e;
    }
    if (!estimate) throw new MemoryEstimateUnavailableError(model.modelId, model.architecture);
    return estimate;
  }
}
