import type { BalancingStrategy } from '../common/vocabulary/balancing-strategies';
import type { ProfileServerSettings } from '../common/vocabulary/server-settings';
import type { Tier } from '../common/vocabulary/tiers';

export interface TierConfigEntry {
  name: Tier;
  maxScore: number;
  expectedTimeSeconds: number;
  description?: string;
}

/** A profile as the API and the other modules see it (camelCase, validated). */
export interface Profile {
  name: string;
  description?: string;
  enabledModels: string[];
  tierConfig?: TierConfigEntry[];
  twoStage?: { enabled: boolean; stage1Tier: Tier; stage2Tier: Tier; stage1MaxTokens: number };
  loadBalancing?: { enabled: boolean; strategy: BalancingStrategy; healthCheckInterval: number };
  server?: ProfileServerSettings;
  /** Gateway aliases: requested model name → model id or tier. */
  aliases?: Record<string, string>;
}

/** What the fleet did when a profile was activated (API.md §5). */
export interface ActivationSummary {
  started: string[];
  stopped: string[];
  kept: string[];
}

/** The active profile: its key and content (null when its file is missing or invalid). */
export interface ActiveProfile {
  key: string;
  profile: Profile | null;
}

/**
 * What ProfilesService.activeChanged$ emits: `activated` after an activation (the fleet has
 * already reconciled), `updated` when the active profile's content changed
 * (a PUT, or a hand-edit noticed on read) or its file went missing or invalid.
 */
export interface ActiveProfileChange extends ActiveProfile {
  cause: 'activated' | 'updated';
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** Model ids among `ids` that a profile's enabledModels (ids or glob patterns) name, in `ids` order. */
export function resolveEnabledModels(patterns: readonly string[], ids: readonly string[]): string[] {
  const res = patterns.map(globToRegExp);
  return ids.filter((id) => res.some((re) => re.test(id)));
}

/** Literal (non-glob) entries of enabledModels that name no known id: logged, shown in readiness details. */
export function missingModels(patterns: readonly string[], ids: readonly string[]): string[] {
  const known = new Set(ids);
  return patterns.filter((p) => !/[*?]/.test(p) && !known.has(p));
}
