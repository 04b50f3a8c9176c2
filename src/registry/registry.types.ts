import type { Tier } from '../common/vocabulary/tiers';

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
