/**
 * A hub repository's tree listing → its GGUF files as MAGI offers them: a split model
 * (`Name-00001-of-00003.gguf` …) counted once with its shards in order, projectors
 * (`mmproj-*`) flagged, the quantization read from the name; the choice of one of them
 * by path or by quantization, and of the projector fetched with a model. Pure: the listing
 * comes in as the hub's JSON entries.
 */
import { quantizationFromFileName } from '../registry/gguf/file-types';

/** One entry of `GET /api/models/{repo}/tree/{revision}?recursive=true`, as the hub answers it. */
export interface HubTreeEntry {
  /** `file` or `directory` (other values are ignored). */
  type: string;
  path: string;
  size?: number;
  /** The git blob id (sha1). */
  oid?: string;
  /** Present for files kept in LFS (every GGUF file): `oid` is the sha256 of the content. */
  lfs?: { oid?: string; size?: number; pointerSize?: number };
}

/** One file of a repository, with what the download checks it against. */
export interface HubFile {
  path: string;
  sizeBytes: number;
  /** The content's sha256 (`lfs.oid`), lower-case hex; null for a file not in LFS. */
  sha256: string | null;
}

/** A model as offered: one file, or every shard of a split. */
export interface HubGgufGroup {
  /** The file, or the first shard of a split. */
  path: string;
  /** Every file, in shard order. */
  files: HubFile[];
  /** Sum over the files. */
  sizeBytes: number;
  /** From the file name (`Q4_K_M`, `F16`, …), upper-case; null when the name has none. */
  quantization: string | null;
  /** Shard paths in order for a split; null for a single file. */
  shards: string[] | null;
  /** A multimodal projector (`mmproj-*`), not a model of its own. */
  isProjector: boolean;
}

const SPLIT = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i;
const SHA256 = /^[0-9a-f]{64}$/i;

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function dirName(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** Quantization of a path: the file name's, else the nearest folder's (`Q4_K_M/model-00001-of-00002.gguf`). */
export function quantizationOfPath(path: string): string | null {
  const segments = path.split('/');
  for (let i = segments.length - 1; i >= 0; i--) {
    const q = quantizationFromFileName(segments[i]);
    if (q) return q;
  }
  return null;
}

/** A projector by its name, as the registry and llama.cpp name them (`mmproj-…`, `…-mmproj-f16.gguf`). */
export function isProjectorName(path: string): boolean {
  return /(^|[-_.])mmproj([-_.]|$)/i.test(baseName(path).replace(/\.gguf$/i, ''));
}

function toFile(e: HubTreeEntry): HubFile {
  const oid = e.lfs?.oid;
  return {
    path: e.path,
    sizeBytes: Number(e.lfs?.size ?? e.size ?? 0),
    sha256: typeof oid === 'string' && SHA256.test(oid) ? oid.toLowerCase() : null,
  };
}

/**
 * The GGUF files of a tree listing, sorted by path: single files as they are, each complete
 * split once (a split missing a shard is left out: it cannot be loaded), projectors flagged.
 */
export function groupGgufFiles(entries: readonly HubTreeEntry[]): HubGgufGroup[] {
  const out: HubGgufGroup[] = [];
  const splits = new Map<string, { count: number; shards: Map<number, HubFile> }>();
  for (const e of entries) {
    if (e.type !== 'file' || typeof e.path !== 'string' || !/\.gguf$/i.test(e.path)) continue;
    const file = toFile(e);
    const m = SPLIT.exec(baseName(e.path));
    if (m) {
      const key = `${dirName(e.path)}/${m[1]}#${m[3]}`;
      const group = splits.get(key) ?? { count: Number(m[3]), shards: new Map<number, HubFile>() };
      group.shards.set(Number(m[2]), file);
      splits.set(key, group);
      continue;
    }
    out.push({
      path: file.path,
      files: [file],
      sizeBytes: file.sizeBytes,
      quantization: quantizationOfPath(file.path),
      shards: null,
      isProjector: isProjectorName(file.path),
    });
  }
  for (const group of splits.values()) {
    const files: HubFile[] = [];
    for (let i = 1; i <= group.count; i++) {
      const f = group.shards.get(i);
      if (f) files.push(f);
    }
    if (group.count < 1 || files.length !== group.count) continue;
    out.push({
      path: files[0].path,
      files,
      sizeBytes: files.reduce((n, f) => n + f.sizeBytes, 0),
      quantization: quantizationOfPath(files[0].path),
      shards: files.map((f) => f.path),
      isProjector: isProjectorName(files[0].path),
    });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** What a download request names: a file (any shard of a split names the split) or a quantization. */
export interface FileChoice {
  file?: string | null;
  quantization?: string | null;
}

export type PickResult =
  | { ok: true; group: HubGgufGroup }
  | { ok: false; reason: 'nothing-named' | 'both-named' | 'no-match' | 'several-match'; candidates: string[] };

/** Normalises a quantization as users write it: `q4_k_m`, `Q4-K-M` → `Q4_K_M`. */
export function normalizeQuantization(q: string): string {
  return q.trim().toUpperCase().replace(/-/g, '_');
}

/**
 * The one group a request names. By `file`: the group holding that path. By `quantization`:
 * the one model (projectors aside) whose quantization is exactly that one — `Q4_K` does not
 * pick `Q4_K_M`. Anything else (nothing named, both named, no match, several) is a refusal
 * listing what would have matched, or what there is.
 */
export function pickGroup(groups: readonly HubGgufGroup[], choice: FileChoice): PickResult {
  const file = choice.file ?? null;
  const quantization = choice.quantization ?? null;
  if (file && quantization) return { ok: false, reason: 'both-named', candidates: [] };
  if (file) {
    const group = groups.find((g) => g.files.some((f) => f.path === file));
    return group ? { ok: true, group } : { ok: false, reason: 'no-match', candidates: groups.map((g) => g.path) };
  }
  if (quantization) {
    const wanted = normalizeQuantization(quantization);
    const matches = groups.filter((g) => !g.isProjector && g.quantization === wanted);
    if (matches.length === 1) return { ok: true, group: matches[0] };
    if (matches.length > 1) return { ok: false, reason: 'several-match', candidates: matches.map((g) => g.path) };
    const available = [...new Set(groups.filter((g) => !g.isProjector).map((g) => g.quantization ?? '?'))];
    return { ok: false, reason: 'no-match', candidates: available };
  }
  return { ok: false, reason: 'nothing-named', candidates: groups.map((g) => g.path) };
}

/** Projector precisions, most wanted first, when a repository offers one projector in several. */
const PROJECTOR_PRECISIONS = ['F16', 'BF16', 'F32'];

/** Words of a file name that say nothing about which model it is for. */
const GENERIC_WORDS = new Set(['mmproj', 'model', 'gguf', 'it', 'instruct', 'chat', 'base', 'hf', 'vision']);

const SPLIT_SUFFIX = /-\d{5}-of-\d{5}$/i;

/**
 * The words of a file name that name its model: lower-case, without the extension, shard
 * numbers, quantization, bare numbers (`3` of `gemma-3` says little) and generic words.
 */
function modelWords(path: string): Set<string> {
  const stem = baseName(path)
    .replace(/\.gguf$/i, '')
    .replace(SPLIT_SUFFIX, '');
  const quantization = new Set((quantizationFromFileName(stem) ?? '').toLowerCase().split('_'));
  return new Set(
    stem
      .toLowerCase()
      .split(/[^a-z0-9]+/)
      .filter((w) => w && !/^\d+$/.test(w) && !GENERIC_WORDS.has(w) && !quantization.has(w)),
  );
}

function folderDepth(folder: string): number {
  return folder ? folder.split('/').length : 0;
}

/**
 * The projector to fetch with `model`, or null (none, or `model` is itself a projector).
 * Candidates are the repository's projectors in the model's folder or a folder above it, whose
 * name either names no model (`mmproj-F16.gguf`, `mmproj-model-f16.gguf`) or shares a word of
 * letters with the model's (`gemma`, not `12b`): one named for another model, or kept in
 * another model's folder, is never taken (llama-server refuses a projector of another model).
 * Among them: the nearest folder, then the most words shared with the model's name, then F16,
 * BF16, F32, any other precision, then by path.
 */
export function pickProjector(groups: readonly HubGgufGroup[], model: HubGgufGroup): HubGgufGroup | null {
  if (model.isProjector) return null;
  const folder = dirName(model.path);
  const words = modelWords(model.path);
  const ranked = groups
    .filter((g) => g.isProjector)
    .map((g) => {
      const own = modelWords(g.path);
      const at = dirName(g.path);
      const precision = PROJECTOR_PRECISIONS.indexOf(g.quantization ?? '');
      return {
        g,
        within: at === folder || at === '' || folder.startsWith(`${at}/`),
        distance: folderDepth(folder) - folderDepth(at),
        shared: [...own].filter((w) => words.has(w)),
        namesAModel: own.size > 0,
        precision: precision < 0 ? PROJECTOR_PRECISIONS.length : precision,
      };
    })
    // A size (`7b`) shared is not enough to name the same model: a word of letters must be.
    .filter((c) => c.within && (!c.namesAModel || c.shared.some((w) => /[a-z].*[a-z]/.test(w))))
    .sort(
      (a, b) =>
        a.distance - b.distance ||
        b.shared.length - a.shared.length ||
        a.precision - b.precision ||
        (a.g.path < b.g.path ? -1 : a.g.path > b.g.path ? 1 : 0),
    );
  return ranked[0]?.g ?? null;
}
