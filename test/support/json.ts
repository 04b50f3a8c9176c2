/** Every object key below `value` that is not camelCase, as `path.key` strings. */
export function nonCamelKeys(value: unknown, path = '$', allow: (path: string) => boolean = () => false): string[] {
  const out: string[] = [];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...nonCamelKeys(v, `${path}[${i}]`, allow)));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const p = `${path}.${k}`;
      if (allow(p)) continue;
      if (!/^[a-z][a-zA-Z0-9]*$/.test(k)) out.push(p);
      out.push(...nonCamelKeys(v, p, allow));
    }
  }
  return out;
}

/** True when `body` has the error shape of API.md §1. */
export function isErrorShape(body: unknown): boolean {
  const b = body as Record<string, unknown>;
  return (
    !!b &&
    typeof b.error === 'string' &&
    /^[A-Z][A-Za-z]+$/.test(b.error) &&
    typeof b.message === 'string' &&
    typeof b.details === 'object' &&
    b.details !== null &&
    !('stack' in b)
  );
}
