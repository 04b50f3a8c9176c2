/** Bounds for a parsed JSON/YAML value before it is transformed and validated. */
export interface ShapeLimits {
  /** Deepest nesting of objects/arrays allowed (the root object is depth 1). */
  maxDepth: number;
  /** Most values (objects, arrays and scalars, counted per visit) allowed. */
  maxNodes: number;
}

/**
 * Limits for every /api body and every profile file. Our deepest document, a profile, has
 * four levels (profile → server → extraArgs → string); the rest is room for typos.
 */
export const PROFILE_SHAPE_LIMITS: ShapeLimits = { maxDepth: 16, maxNodes: 50_000 };
export const API_BODY_LIMITS = PROFILE_SHAPE_LIMITS;

/**
 * Why `value` is too deep or too big (or smuggles a `__proto__` key, which class-transformer
 * would silently drop), or null when it is within `limits`. Iterative with an
 * early stop, so a 100k-level array or a YAML alias bomb (shared nodes counted on every
 * visit) is refused before class-transformer's recursive walk could overflow the stack.
 */
export function plainShapeProblem(value: unknown, limits: ShapeLimits = PROFILE_SHAPE_LIMITS): string | null {
  const stack: Array<[unknown, number]> = [[value, 1]];
  let nodes = 0;
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (++nodes > limits.maxNodes) return `has more than ${limits.maxNodes} values`;
    if (v === null || typeof v !== 'object') continue;
    if (depth > limits.maxDepth) return `is nested deeper than ${limits.maxDepth} levels`;
    if (!Array.isArray(v) && Object.prototype.hasOwnProperty.call(v, '__proto__'))
      return 'uses the reserved key __proto__';
    const children = Array.isArray(v) ? v : Object.values(v);
    if (nodes + stack.length + children.length > limits.maxNodes) return `has more than ${limits.maxNodes} values`;
    for (const c of children) stack.push([c, depth + 1]);
  }
  return null;
}
