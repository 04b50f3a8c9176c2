/**
 * The words every module shares for a model's tier. The thresholds that assign one live in
 * the registry (`registry/tiers.ts`); the names live here so any module may use them.
 */
export const TIERS = ['fast', 'balanced', 'powerful'] as const;
export type Tier = (typeof TIERS)[number];

/** True when `value` is one of TIERS. */
export function isTier(value: unknown): value is Tier {
  return typeof value === 'string' && (TIERS as readonly string[]).includes(value);
}
