import type { BalancingStrategy } from '../common/vocabulary/balancing-strategies';
import type { ProfileServerSettings } from '../common/vocabulary/server-settings';
import type { Tier } from '../common/vocabulary/tiers';

export interface TierConfigEntry {
  name: Tier;
  maxScore: number;
  expectedTimeSeconds: number;
  description?: string;
}

/** An on-demand server with no request for this long stops, when a profile's `onDemand` does not say. */
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 600;

/** Models that start on their first request instead of at activation (API.md §9). */
export interface OnDemandSettings {
  /** Ids or glob patterns (as in enabledModels) of the enabled models that start on demand. */
  models: string[];
  /** Seconds without a request after which an on-demand server stops; always set (600 when the file omits it). */
  idleTimeoutSeconds: number;
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
  /** Enabled models that start on demand; absent: every enabled model starts at activation. */
  onDemand?: OnDemandSettings;
  /** Memory budget as written (`24GiB`, `auto`, `off`; valid for parseMemoryBudget); absent: FLEET_MEMORY_BUDGET. */
  memoryBudget?: string;
  /** Most servers running at once; absent: no limit. */
  maxRunning?: number;
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

/**
 * resolveEnabledModels, in the profile's order: by the first pattern that names each id
 * (`[b, a_*]` puts `b` before `a_1`, `a_2`); ids named first by the same pattern keep their
 * `ids` order. The order in which activation places `always` servers (API.md §9).
 */
export function profileOrder(patterns: readonly string[], ids: readonly string[]): string[] {
  const res = patterns.map(globToRegExp);
  return ids
    .map((id, index) => ({ id, index, rank: res.findIndex((re) => re.test(id)) }))
    .filter((e) => e.rank >= 0)
    .sort((a, b) => a.rank - b.rank || a.index - b.index)
    .map((e) => e.id);
}

/**
 * The ids among `ids` that the profile's `onDemand.models` (ids or globs, matched as
 * enabledModels are) names; empty for no profile or no `onDemand`. The caller passes the
 * enabled ids: onDemand cannot start a model the profile does not enable.
 */
export function onDemandModels(profile: Profile | null, ids: readonly string[]): Set<string> {
  return new Set(profile?.onDemand ? resolveEnabledModels(profile.onDemand.models, ids) : []);
}

/** Literal (non-glob) entries of enabledModels that name no known id: logged, shown in readiness details. */
export function missingModels(patterns: readonly string[], ids: readonly string[]): string[] {
  const known = new Set(ids);
  return patterns.filter((p) => !/[*?]/.test(p) && !known.has(p));
}
