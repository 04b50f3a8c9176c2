import type { Tier } from '../common/vocabulary/tiers';

export interface TierThresholds {
  powerfulMin: number;
  fastMax: number;
}

/**
 * API.md §4: thinking models are powerful; else `sizeParams >= powerfulMin` is powerful,
 * `sizeParams < fastMax` is fast, the rest balanced.
 */
export function assignTier(sizeParams: number, thinking: boolean, t: TierThresholds): Tier {
  if (thinking) return 'powerful';
  if (sizeParams >= t.powerfulMin) return 'powerful';
  if (sizeParams < t.fastMax) return 'fast';
  return 'balanced';
}
