/**
 * Whether a model fits the machine now, pure: the `auto` budget of API.md §9 (the machine's
 * memory, or the cgroup limit where lower, minus a 2 GiB reserve) and the memory settings
 * a profile's `server` block gives llama-server. The scheduler's budget service will own
 * this; until then the hub listing uses it, and it does not yet subtract what running
 * servers hold.
 */
import type { ProfileServerSettings } from '../common/vocabulary/server-settings';
import type { MemorySettings } from '../registry/memory';

/** FLEET_MEMORY_RESERVE's default: what `auto` leaves to the system and MAGI. */
export const MEMORY_RESERVE_BYTES = 2 * 1024 ** 3;

/** `/sys/fs/cgroup/memory.max` (cgroup v2): bytes, or null for `max`, absent or unreadable. */
export function parseCgroupMemoryMax(text: string | null | undefined): number | null {
  const t = text?.trim();
  if (!t || !/^\d+$/.test(t)) return null;
  const n = Number(t);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** The `auto` budget: min(total memory, cgroup limit) minus the reserve, never below 0. */
export function autoMemoryBudget(
  totalBytes: number,
  cgroupLimitBytes: number | null,
  reserveBytes = MEMORY_RESERVE_BYTES,
): number {
  const machine = cgroupLimitBytes !== null ? Math.min(totalBytes, cgroupLimitBytes) : totalBytes;
  return Math.max(0, machine - reserveBytes);
}

/** The value of `--flag v` or `--flag=v` (any of its spellings) in extra arguments; the last one wins. */
function flagValue(args: readonly string[], names: readonly string[]): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (!names.includes(name)) continue;
    if (eq > 0) value = a.slice(eq + 1);
    else if (i + 1 < args.length) value = args[++i];
  }
  return value;
}

function hasFlag(args: readonly string[], names: readonly string[]): boolean {
  return args.some((a) => names.includes(a));
}

function intOrUndefined(v: string | undefined): number | undefined {
  if (v === undefined || !/^-?\d+$/.test(v.trim())) return undefined;
  return Number(v);
}

/**
 * The memory settings llama-server would get from a profile's `server` block: ctxSize,
 * parallel and embeddings, plus the cache types, flash attention, unified cache, SWA and
 * batch sizes given in `extraArgs`.
 */
export function memorySettingsFor(server: ProfileServerSettings | null | undefined): MemorySettings {
  const args = server?.extraArgs ?? [];
  const fa = flagValue(args, ['--flash-attn', '-fa'])?.toLowerCase();
  const settings: MemorySettings = {
    ctxSize: server?.ctxSize ?? null,
    parallel: server?.parallel ?? null,
    embeddings: server?.embeddings ?? null,
    cacheTypeK: flagValue(args, ['--cache-type-k', '-ctk']) ?? null,
    cacheTypeV: flagValue(args, ['--cache-type-v', '-ctv']) ?? null,
    flashAttention: fa === 'on' || fa === 'off' || fa === 'auto' ? fa : null,
    batchSize: intOrUndefined(flagValue(args, ['--batch-size', '-b'])) ?? null,
    ubatchSize: intOrUndefined(flagValue(args, ['--ubatch-size', '-ub'])) ?? null,
    swaFull: hasFlag(args, ['--swa-full']) || null,
  };
  if (hasFlag(args, ['--kv-unified', '-kvu'])) settings.kvUnified = true;
  if (hasFlag(args, ['--no-kv-unified', '-no-kvu'])) settings.kvUnified = false;
  return settings;
}
