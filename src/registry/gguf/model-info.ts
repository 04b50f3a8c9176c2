/**
 * What discovery needs to know about one GGUF file, derived from its parsed header.
 * The header is trusted over the file name (files get renamed; `tiny-7B-Q8_0.gguf` may
 * hold a 1.7B Q4_K_M); the file name is only a fallback for what the header lacks,
 * e.g. the second shard of a split model, which carries nothing but `split.*` keys.
 */
import { fileTypeName, quantizationFromFileName } from './file-types';
import { GgufHeader, GgufValue } from './gguf-reader';

export interface SplitInfo {
  /** 0-based shard index, as `split.no` stores it (file names count from 1). */
  no: number;
  /** Number of shards (`split.count`). */
  count: number;
  /** Every shard's file name in order, when this file is named `<stem>-00001-of-00003.gguf`. */
  fileNames: string[] | null;
}

export interface ModelInfo {
  /** `general.architecture` (llama, qwen3, gemma3, clip, …); null when absent (later shards). */
  architecture: string | null;
  /** Lowercase model family (qwen3, llama, deepseek, gemma3, mistral, phi4, qwq, qwen2.5). */
  family: string;
  /** Version the name carries (3.1, 2.5, r1, 2501), or null. */
  version: string | null;
  /** `general.size_label`, else from the file name, else rounded from the parameter count. */
  sizeLabel: string | null;
  /** llama.cpp name of `general.file_type` (Q4_K_M, Q8_0, F16, …), else from the file name. */
  quantization: string | null;
  /** Raw `general.file_type`, when present. */
  fileType: number | null;
  /** `<architecture>.context_length`. */
  contextLength: number | null;
  /** The chat template has reasoning markers, or the vocabulary has a `<think>` token. */
  isThinkingModel: boolean;
  /** `general.name`, else the file name without `.gguf`. */
  displayName: string;
  /** A multimodal projector (`clip` architecture / `mmproj-*` file), not a model of its own. */
  isProjector: boolean;
  /** Set for one shard of a split model. */
  split: SplitInfo | null;
  /** Element count of this file's tensors (one shard's share for a split model). */
  parameterCount: number;
  /** parameterCount in billions, two decimals. */
  sizeParams: number;
}

/** Organisation words that precede the model name in some names ("Meta Llama 3.1"). */
const VENDOR_WORDS = new Set(['meta', 'microsoft', 'google', 'mistralai', 'nvidia', 'ibm', 'apple', 'alibaba']);

/**
 * Template markers of reasoning models: `<think>` (Qwen3, QwQ, DeepSeek-R1), the Qwen3
 * `enable_thinking` switch and the gpt-oss `reasoning_effort` variable.
 */
const THINKING_MARKERS = ['<think>', 'enable_thinking', 'reasoning_effort'];

const SPLIT_NAME = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i;
const SIZE_IN_NAME = /(?:^|[-_.\s])((?:\d+x)?\d+(?:\.\d+)?[KMBT])(?=$|[-_.\s])/i;

function text(value: GgufValue | undefined): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

function integer(value: GgufValue | undefined): number | null {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'bigint' && value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= 0n) return Number(value);
  return null;
}

/** The last path segment: callers may pass a path where a file name is expected. */
function baseName(fileName: string): string {
  const parts = fileName.split(/[\\/]/);
  return parts[parts.length - 1];
}

/** File name without `.gguf`, the split suffix and the `mmproj-` prefix: the model's name. */
function modelStem(fileName: string): string {
  return fileName
    .replace(SPLIT_NAME, '$1')
    .replace(/\.gguf$/i, '')
    .replace(/^mmproj[-_]/i, '');
}

/**
 * Family and version from a model name such as "Qwen2.5-Coder", "Meta Llama 3.1 8B",
 * "gemma-3", "DeepSeek-R1-Distill-Llama". A generation number glued to the name or
 * a one/two-digit number right after it joins the family (qwen2.5, qwen3, gemma3,
 * phi4); a dotted or long version (Llama 3.1, Mistral 2501) and letter versions
 * (R1, V3) stay apart, so `llama` and `deepseek` group their releases.
 * `fallbackVersion` is `general.version`, for names that keep it separate (phi + "4").
 */
export function parseModelName(
  name: string,
  fallbackVersion: string | null = null,
): { family: string; version: string | null } | null {
  const words = name.split(/[\s_-]+/).filter(Boolean);
  let i = 0;
  while (i < words.length - 1 && VENDOR_WORDS.has(words[i].toLowerCase())) i++;
  const head = words[i];
  if (!head) return null;
  const glued = /^([a-z]+?)(\d+(?:\.\d+)*)?$/i.exec(head);
  if (!glued) return { family: head.toLowerCase().replace(/[^a-z0-9.]/g, ''), version: null };
  const base = glued[1].toLowerCase();
  if (glued[2]) return { family: base + glued[2], version: glued[2] };

  const next = words[i + 1] ?? '';
  if (/^\d+(?:\.\d+)*$/.test(next)) return joinVersion(base, next);
  if (/^[a-z]\d+(?:\.\d+)?$/i.test(next)) return { family: base, version: next.toLowerCase() };
  if (fallbackVersion && /^[a-z]?\d+(?:\.\d+)*$/i.test(fallbackVersion)) {
    return joinVersion(base, fallbackVersion.toLowerCase());
  }
  return { family: base, version: null };
}

function joinVersion(base: string, version: string): { family: string; version: string } {
  return { family: /^\d{1,2}$/.test(version) ? base + version : base, version };
}

/** Rounded label in the style of the GGUF converter: 8.03e9 → "8B", 1.72e9 → "1.7B", 14.66e9 → "15B". */
export function sizeLabelFromCount(parameterCount: number): string | null {
  if (!(parameterCount > 0)) return null;
  const scales: Array<[number, string]> = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  const [scale, unit] = scales.find(([s]) => parameterCount >= s) ?? [1, ''];
  const value = parameterCount / scale;
  const shown = value < 10 ? String(Math.round(value * 10) / 10) : String(Math.round(value));
  return shown + unit;
}

/** Parameters in billions rounded to two decimals (8030261312 → 8.03). */
export function toSizeParams(parameterCount: number): number {
  return Math.round(parameterCount / 1e7) / 100;
}

function sizeLabelFromFileName(stem: string): string | null {
  const m = SIZE_IN_NAME.exec(stem);
  if (!m) return null;
  const label = m[1];
  return label.slice(0, -1).toLowerCase() + label.slice(-1).toUpperCase();
}

function splitInfo(metadata: Record<string, GgufValue>, fileName: string): SplitInfo | null {
  const m = SPLIT_NAME.exec(fileName);
  const nameNo = m ? Number(m[2]) - 1 : null;
  const nameCount = m ? Number(m[3]) : null;
  const no = integer(metadata['split.no']) ?? nameNo;
  const count = integer(metadata['split.count']) ?? nameCount;
  if (no === null || count === null || count < 2) return null;
  // Shard names are only offered when the file name agrees with the header about the layout.
  const fileNames =
    m && nameCount === count
      ? Array.from({ length: count }, (_, k) => `${m[1]}-${String(k + 1).padStart(m[2].length, '0')}-of-${m[3]}.gguf`)
      : null;
  return { no, count, fileNames };
}

/** Derives the registry's view of one GGUF file from its header; `fileName` is the fallback source. */
export function deriveModelInfo(header: GgufHeader, fileName: string): ModelInfo {
  const md = header.metadata;
  const file = baseName(fileName);
  const stem = modelStem(file);
  const architecture = text(md['general.architecture']);
  const name = text(md['general.name']);
  const generalVersion = text(md['general.version']);

  const parsed =
    [text(md['general.basename']), name]
      .filter((s): s is string => s !== null)
      .map((s) => parseModelName(s, generalVersion))
      .find((p) => p !== null) ??
    parseModelName(stem) ??
    (architecture ? { family: architecture.toLowerCase(), version: null } : null);

  const fileType = integer(md['general.file_type']);
  const template = text(md['tokenizer.chat_template']) ?? '';
  const contextLength = architecture ? integer(md[`${architecture}.context_length`]) : null;

  return {
    architecture,
    family: parsed?.family || 'unknown',
    version: parsed?.version ?? null,
    sizeLabel:
      text(md['general.size_label']) ?? sizeLabelFromFileName(stem) ?? sizeLabelFromCount(header.parameterCount),
    quantization: fileTypeName(fileType) ?? quantizationFromFileName(file),
    fileType,
    contextLength,
    isThinkingModel: header.hasThinkToken || THINKING_MARKERS.some((m) => template.includes(m)),
    displayName: name ?? file.replace(/\.gguf$/i, ''),
    isProjector: architecture === 'clip' || text(md['general.type']) === 'mmproj' || /^mmproj/i.test(file),
    split: splitInfo(md, file),
    parameterCount: header.parameterCount,
    sizeParams: toSizeParams(header.parameterCount),
  };
}

/** One URL-safe id part: lowercase, runs of anything but [a-z0-9] become one `_`. */
function idPart(value: string): string {
  return value
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

/**
 * Base of a model id (`[a-z0-9_]`, no tier) from family, version, size label and
 * quantization: DeepSeek-R1-Distill-Llama-8B-Q4_K_M → `deepseek_r1_8b_q4km`,
 * Qwen3-4B-Q4_K_M → `qwen3_4b_q4km`, Meta-Llama-3.1-8B Q8_0 → `llama_3_1_8b_q80`.
 * The version is left out when the family already ends with it (qwen3 + "3").
 * The registry appends `_2`, `_3`, … on collisions.
 */
export function suggestModelIdBase(info: Pick<ModelInfo, 'family' | 'version' | 'sizeLabel' | 'quantization'>): string {
  const parts = [info.family];
  if (info.version && !info.family.toLowerCase().endsWith(info.version.toLowerCase())) parts.push(info.version);
  if (info.sizeLabel) parts.push(info.sizeLabel);
  if (info.quantization) parts.push(info.quantization.replace(/[^a-z0-9]/gi, ''));
  const id = parts.map(idPart).filter(Boolean).join('_');
  return id || 'model';
}
