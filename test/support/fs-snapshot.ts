import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Path → "size:mtime" of every entry below `root` (not following links), skipping
 * `skip` folder names. Two snapshots compared show what was created, changed or deleted.
 */
export function snapshotTree(
  root: string,
  skip: string[] = ['node_modules', '.git'],
  out = new Map<string, string>(),
): Map<string, string> {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (skip.includes(name)) continue;
    const full = join(root, name);
    let st;
    try {
      st = statSync(full, { throwIfNoEntry: false });
    } catch {
      continue;
    }
    if (!st) continue;
    out.set(full, st.isDirectory() ? 'dir' : `${st.size}:${st.mtimeMs}`);
    if (st.isDirectory()) snapshotTree(full, skip, out);
  }
  return out;
}

/** Entries that differ between two snapshots. */
export function diffSnapshots(before: Map<string, string>, after: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of before) if (after.get(k) !== v) out.push(`${after.has(k) ? 'changed' : 'deleted'} ${k}`);
  for (const k of after.keys()) if (!before.has(k)) out.push(`created ${k}`);
  return out;
}
