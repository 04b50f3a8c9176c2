/** A profile key: the file name (without `.yaml`) in PROFILES_PATH, and the `{name}` of the routes. */
export const PROFILE_KEY_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Reserved for `GET /api/models/profiles/active`: never a profile key. */
export const RESERVED_PROFILE_KEYS: readonly string[] = ['active'];

/** Why a string is not a usable key, or null when it is one. */
export function profileKeyProblem(key: string): string | null {
  if (key.length === 0) return 'is empty';
  if (key.length > 64) return 'is longer than 64 characters';
  if (!PROFILE_KEY_PATTERN.test(key)) return `does not match ${PROFILE_KEY_PATTERN.source}`;
  if (RESERVED_PROFILE_KEYS.includes(key)) return `'${key}' is reserved`;
  return null;
}

export function isProfileKey(key: unknown): key is string {
  return typeof key === 'string' && profileKeyProblem(key) === null;
}

/**
 * The key POST derives from a profile's display name (API.md §5): lowercased, each run
 * of characters outside `[a-z0-9_-]` turned into one `-`, leading/trailing `-` removed.
 * The result may still be unusable (empty, too long, `_x`, `active`): check it with
 * `profileKeyProblem`.
 */
export function deriveProfileKey(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** The file of a key, relative to PROFILES_PATH. */
export function profileFileName(key: string): string {
  return `${key}.yaml`;
}

/** The key of a file name in PROFILES_PATH, or null when the file is not a profile. */
export function keyOfProfileFile(fileName: string): string | null {
  if (!fileName.endsWith('.yaml')) return null;
  const key = fileName.slice(0, -'.yaml'.length);
  return isProfileKey(key) ? key : null;
}
