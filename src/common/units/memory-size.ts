/**
 * Memory sizes as people write them (`24GiB`, `16000MiB`, `1.5GiB`) and the memory budget's
 * own words (`auto`, `off`). Pure: config validation (FLEET_MEMORY_BUDGET,
 * FLEET_MEMORY_RESERVE, a profile's `memoryBudget`) and the fleet's log lines share it.
 */

/** Bytes per unit; decimal units are powers of 1000, binary ones powers of 1024. Keys are lower case. */
const UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

const SIZE = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/i;
const EXPECTED =
  'Must be a number and a unit: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. 24GiB';

/** A memory size or budget that cannot be read; the message names the setting and what it accepts. */
export class MemorySizeError extends Error {}

/**
 * `'24GiB'` → 25769803776. Units are case-insensitive, a space may separate them from the
 * number, a fraction rounds to the nearest byte. A bare number is refused: the unit is
 * what a reader of the config needs. `key` names the setting in the error message.
 */
export function parseBytes(text: string, key = 'memory size'): number {
  const match = SIZE.exec(text.trim());
  const unit = match ? UNITS[match[2].toLowerCase()] : undefined;
  if (!match || unit === undefined) throw new MemorySizeError(`Invalid ${key}: ${text}. ${EXPECTED}`);
  const bytes = Math.round(Number(match[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new MemorySizeError(`Invalid ${key}: ${text}. Too large`);
  return bytes;
}

/** A budget setting: bytes, `auto` (work it out from the machine, see `autoBudget`) or `off` (no memory limit). */
export type MemoryBudgetSetting = number | 'auto' | 'off';

/** `FLEET_MEMORY_BUDGET` or a profile's `memoryBudget`: a size (above 0), `auto` or `off`, case-insensitive. */
export function parseMemoryBudget(text: string, key = 'memory budget'): MemoryBudgetSetting {
  const word = text.trim().toLowerCase();
  if (word === 'auto' || word === 'off') return word;
  let bytes: number;
  try {
    bytes = parseBytes(text, key);
  } catch (e) {
    throw new MemorySizeError(`${(e as Error).message}, or auto, or off`);
  }
  if (bytes === 0)
    throw new MemorySizeError(`Invalid ${key}: ${text}. A budget of 0 admits no model; write off for none`);
  return bytes;
}

/**
 * The `auto` budget: the machine's memory — the cgroup limit where lower (null: no limit) —
 * minus the reserve kept for the system and MAGI itself; never below 0.
 */
export function autoBudget(totalBytes: number, cgroupLimitBytes: number | null, reserveBytes: number): number {
  const machine = cgroupLimitBytes === null ? totalBytes : Math.min(totalBytes, cgroupLimitBytes);
  return Math.max(0, machine - reserveBytes);
}

/** Bytes for a sentence: `9.0 GiB`, `512 MiB`, `900 B`. */
export function formatBytes(bytes: number): string {
  if (Math.abs(bytes) >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
  if (Math.abs(bytes) >= 1024 ** 2) return `${Math.round(bytes / 1024 ** 2)} MiB`;
  if (Math.abs(bytes) >= 1024) return `${Math.round(bytes / 1024)} KiB`;
  return `${bytes} B`;
}

/** FLEET_MEMORY_RESERVE's default: what `auto` leaves to the system and MAGI. */
export const DEFAULT_MEMORY_RESERVE_BYTES = 2 * 1024 ** 3;

/** `/sys/fs/cgroup/memory.max` (cgroup v2): bytes, or null for `max`, absent or unreadable. */
export function parseCgroupMemoryMax(text: string | null | undefined): number | null {
  const t = text?.trim();
  if (!t || !/^\d+$/.test(t)) return null;
  const n = Number(t);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}
