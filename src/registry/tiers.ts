export const TIERS = ['fast', 'balanced', 'powerful'] as const;
export type Tier = (typeof TIERS)[number];

export interface TierThresholds {
  powerfulMin: number;
  fastMax: number;
}

export function isTier(value: unknown): value is Tier {
  return typeof value === 'string' && (TIERS as readonly string[]).includes(value);
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
