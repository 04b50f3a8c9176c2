import { basename, dirname } from 'node:path';
import type { ModelMemoryFacts } from './memory';
import type { FileInfo, ScanError } from './registry.types';

const SPLIT_RE = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i;

export interface ParsedFile {
  path: string;
  size: number;
  info?: FileInfo;
  error?: string;
}

/** A model as found on disk this scan, before ids and overrides are merged in. */
export interface PlannedModel {
  filePath: string;
  info: FileInfo;
  parameterCount: number;
  fileSizeBytes: number;
  splitFiles: string[] | null;
  mmprojPath: string | null;
  /** What the memory estimate needs, from every shard and the attached projector; null when they cannot tell. */
  memoryFacts: ModelMemoryFacts | null;
}

export interface ScanPlan {
  models: PlannedModel[];
  errors: ScanError[];
}

function stem(name: string): string {
  return name
    .toLowerCase()
    .replace(/\.gguf$/, '')
    .replace(/^mmproj[-_.]?/, '')
    .replace(/[-_.](f16|f32|bf16|q\d[\w]*)$/i, '');
}

function tokens(s: string): Set<string> {
  return new Set(
    s
      .toLowerCase()
      .split(/[^a-z0-9.]+/)
      .filter(Boolean),
  );
}

/** How well a projector file matches a model: same general.name first, then shared name tokens. */
function matchScore(projector: ParsedFile, model: PlannedModel): number {
  let score = 0;
  if (projector.info?.name && model.info.name && projector.info.name === model.info.name) score += 100;
  const p = tokens(stem(basename(projector.path)));
  for (const t of tokens(stem(basename(model.filePath)))) if (p.has(t)) score += 1;
  return score;
}

/**
 * A model's memory facts put together from its files' records: the first shard's facts with
 * the tensor bytes of every shard as the weights and the projector's (`null`: none attached)
 * as the projector — what `modelMemoryFacts(every shard's header, the projector's header)`
 * gives, without keeping headers. Null when a file cannot tell (or its record predates the facts).
 */
export function composeMemoryFacts(
  shards: readonly ParsedFile[],
  projector: ParsedFile | null,
): ModelMemoryFacts | null {
  const first = shards[0]?.info?.memory?.facts;
  if (!first) return null;
  let weightsBytes = 0;
  for (const s of shards) {
    const bytes = s.info?.memory?.tensorBytes;
    if (bytes === null || bytes === undefined) return null;
    weightsBytes += bytes;
  }
  let projectorBytes = 0;
  if (projector) {
    const bytes = projector.info?.memory?.tensorBytes;
    if (bytes === null || bytes === undefined) return null;
    projectorBytes = bytes;
  }
  return { ...first, weightsBytes, projectorBytes };
}

/**
 * Turns the parsed files of one scan into models: split shards become one model (all
 * shards present, in order), projectors are attached to the best-matching model of their
 * folder, and everything unreadable becomes a scan error. Pure, so it is tested alone.
 */
export function planScan(files: ParsedFile[]): ScanPlan {
  const errors: ScanError[] = [];
  const models: PlannedModel[] = [];
  /** Each model's files, for its memory facts once its projector is known. */
  const filesOf = new Map<PlannedModel, { shards: ParsedFile[]; projector: ParsedFile | null }>();
  const projectors: ParsedFile[] = [];
  const splits = new Map<string, { count: number; shards: Map<number, ParsedFile> }>();

  for (const f of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    const m = SPLIT_RE.exec(basename(f.path));
    if (f.error || !f.info) {
      errors.push({ path: f.path, error: f.error ?? 'unreadable' });
      continue;
    }
    if (m) {
      const key = `${dirname(f.path)}/${m[1]}`;
      const group = splits.get(key) ?? { count: Number(m[3]), shards: new Map() };
      group.shards.set(Number(m[2]), f);
      splits.set(key, group);
      continue;
    }
    if (f.info.isProjector) {
      projectors.push(f);
      continue;
    }
    const model: PlannedModel = {
      filePath: f.path,
      info: f.info,
      parameterCount: f.info.parameterCount,
      fileSizeBytes: f.size,
      splitFiles: null,
      mmprojPath: null,
      memoryFacts: null,
    };
    models.push(model);
    filesOf.set(model, { shards: [f], projector: null });
  }

  for (const [key, group] of splits) {
    const missing: number[] = [];
    for (let i = 1; i <= group.count; i++) if (!group.shards.has(i)) missing.push(i);
    const first = group.shards.get(1);
    if (missing.length || !first?.info) {
      errors.push({
        path: first?.path ?? `${key}-00001-of-${String(group.count).padStart(5, '0')}.gguf`,
        error: `split model is missing shard(s) ${missing.join(', ')} of ${group.count}`,
      });
      continue;
    }
    const shards = [...group.shards.entries()].sort((a, b) => a[0] - b[0]).map(([, f]) => f);
    if (first.info.isProjector) {
      projectors.push(first);
      continue;
    }
    const model: PlannedModel = {
      filePath: first.path,
      info: first.info,
      parameterCount: shards.reduce((n, s) => n + (s.info?.parameterCount ?? 0), 0),
      fileSizeBytes: shards.reduce((n, s) => n + s.size, 0),
      splitFiles: shards.map((s) => s.path),
      mmprojPath: null,
      memoryFacts: null,
    };
    models.push(model);
    filesOf.set(model, { shards, projector: null });
  }

  for (const p of projectors) {
    const sameDir = models.filter((m) => dirname(m.filePath) === dirname(p.path));
    if (!sameDir.length) continue;
    const best =
      sameDir.length === 1
        ? sameDir[0]
        : sameDir
            .map((m) => ({ m, s: matchScore(p, m) }))
            .filter((x) => x.s > 0)
            .sort((a, b) => b.s - a.s)[0]?.m;
    if (best && !best.mmprojPath) {
      best.mmprojPath = p.path;
      filesOf.get(best)!.projector = p;
    }
  }

  for (const [model, { shards, projector }] of filesOf) model.memoryFacts = composeMemoryFacts(shards, projector);

  models.sort((a, b) => a.filePath.localeCompare(b.filePath));
  return { models, errors };
}
