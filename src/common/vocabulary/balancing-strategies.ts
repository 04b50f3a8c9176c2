/** How the gateway picks among the ready servers of a tier: a profile names one, the gateway applies it. */
export const BALANCING_STRATEGIES = ['round_robin', 'least_loaded', 'random'] as const;
export type BalancingStrategy = (typeof BALANCING_STRATEGIES)[number];
