import type { Tier } from '../common/vocabulary/tiers';
import type { ModelMemoryFacts } from './memory';

/**
 * What one file's header tells the memory estimate (file-info.ts `fileMemoryOf`). A model's
 * facts are put together from its files' (scan-plan.ts `composeMemoryFacts`), so a rescan
 * re-derives nothing for files whose size and mtime did not change.
 */
export interface FileMemory {
  /** The derivation that made this (MEMORY_FACTS_VERSION); a record of another version is read again. */
  version: number;
  /** ggml_nbytes summed over this file's tensors; null when one has a type the estimate does not know. */
  tensorBytes: number | null;
  /**
   * The memory facts as if this file were the whole model (its weights only, no projector):
   * set for a single file or a first shard whose header tells; null for projectors, later
   * shards and headers that cannot tell.
   */
  facts: ModelMemoryFacts | null;
}

/** What the registry keeps of one parsed GGUF file (cached by path, size and mtime). */
export interface FileInfo {
  architecture: string | null;
  family: string;
  version: string | null;
  sizeLabel: string | null;
  quantization: string | null;
  contextLength: number | null;
  isThinkingModel: boolean;
  displayName: string;
  /** general.name, used to pair projectors with their model. */
  name: string | null;
  isProjector: boolean;
  split: { no: number; count: number } | null;
  parameterCount: number;
  idBase: string;
  /** Absent in records written before the memory estimate: such a file's header is read again. */
  memory?: FileMemory;
}

export interface FileRecord {
  size: number;
  mtimeMs: number;
  info?: FileInfo;
  error?: string;
}

/** One model as the registry stores it; derived fields (tiers) are computed on read. */
export interface RegistryEntry {
  modelId: string;
  filePath: string;
  filename: string;
  architecture: string | null;
  family: string;
  version: string | null;
  sizeLabel: string | null;
  parameterCount: number;
  sizeParams: number;
  quantization: string | null;
  contextLength: number | null;
  isThinkingModel: boolean;
  thinkingOverride: boolean | null;
  tierOverride: Tier | null;
  port: number | null;
  enabled: boolean;
  fileSizeBytes: number;
  splitFiles: string[] | null;
  mmprojPath: string | null;
  displayName: string;
  idBase: string;
  /** What the estimate needs of the model's headers (all shards and the projector); null when they cannot tell. */
  memoryFacts: ModelMemoryFacts | null;
}

export interface ScanError {
  path: string;
  error: string;
}

/** The persisted registry file. */
export interface RegistrySnapshot {
  version: 1;
  lastScan: string | null;
  models: Record<string, RegistryEntry>;
  files: Record<string, FileRecord>;
  scanErrors: ScanError[];
}
