import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { Allow, IsBoolean, IsIn, IsInt, IsOptional, Max, Min, ValidateIf } from 'class-validator';
import { CACHE_TYPES, CacheType, MemoryEstimate } from '../memory';
import type { DiscoveredModel, RescanResult } from '../registry.service';
import type { ScanError } from '../registry.types';
import { TIERS, Tier } from '../../common/vocabulary/tiers';
import { TierThresholds } from '../tiers';

/**
 * What one llama-server process allocates for a model with given settings, worked out from the
 * model's GGUF header(s) without loading anything (docs/memory-estimate.md says how).
 */
export class MemoryEstimateDto implements MemoryEstimate {
  /**
   * Tensor data of every shard: what the weights occupy.
   * @example 2491323904
   */
  weightsBytes: number;
  /**
   * The KV cache llama-server allocates for the context (sliding-window layers hold their window only), plus the state of recurrent layers.
   * @example 1207959552
   */
  kvCacheBytes: number;
  /**
   * llama-server's compute buffer (the worst-case graph of one batch) and output buffer (logits per slot).
   * @example 89308160
   */
  computeBytes: number;
  /**
   * Tensor data of the attached multimodal projector (`mmprojPath`), 0 without one.
   * @example 0
   */
  projectorBytes: number;
  /**
   * The sum of the four: what the fleet counts the server at.
   * @example 3788591616
   */
  totalBytes: number;
  /**
   * The context the cache is sized for, all slots together, as llama-server pads it (a multiple of 256); without `--ctx-size` (or 0) the training context for every slot.
   * @example 8192
   */
  ctxSize: number;
  /**
   * Slots (`--parallel`); 4 when llama-server picks them (no `--parallel`).
   * @example 2
   */
  parallel: number;
}

/** Turns a string of digits into a number; anything else stays as sent, for the validators to refuse. */
const integerFromQuery = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^-?\d{1,20}$/.test(value) ? Number(value) : value;

/** Settings to estimate for, in place of the active profile's (`GET /api/models/registry/{modelId}/memory`). */
export class MemoryQueryDto {
  /**
   * `--ctx-size`: tokens of context for all slots together; 0 is llama-server's default (the training context for every slot). Default: the active profile's.
   * @example 8192
   */
  @ApiPropertyOptional({ type: 'integer' })
  @IsOptional()
  @Transform(integerFromQuery)
  @IsInt()
  @Min(0)
  @Max(10_000_000)
  ctxSize?: number;

  /**
   * `--parallel`: request slots, each with its share of the context. Default: the active profile's (none: llama-server's auto, 4 slots sharing one cache).
   * @example 2
   */
  @ApiPropertyOptional({ type: 'integer' })
  @IsOptional()
  @Transform(integerFromQuery)
  @IsInt()
  @Min(1)
  @Max(256)
  parallel?: number;

  /** `--cache-type-k` and `--cache-type-v`: the KV cache's element type. Default: the active profile's (none: f16). */
  @ApiPropertyOptional({ enum: CACHE_TYPES, example: 'q8_0' })
  @IsOptional()
  @IsIn(CACHE_TYPES)
  cacheType?: CacheType;
}

export class DiscoveredModelDto {
  /**
   * Unique, URL-safe id derived from family, version, size label and quantization.
   * @example qwen3_4b_q4km
   */
  modelId: string;
  /**
   * Absolute path of the model file (the first shard of a split model).
   * @example /models/Qwen3-4B-Q4_K_M.gguf
   */
  filePath: string;
  /**
   * File name of `filePath`.
   * @example Qwen3-4B-Q4_K_M.gguf
   */
  filename: string;
  /**
   * `general.architecture` from the header.
   * @example qwen3
   */
  architecture: string | null;
  /**
   * Model family in lowercase.
   * @example qwen3
   */
  family: string;
  /**
   * Version the model name carries, or null.
   * @example 3.1
   */
  version: string | null;
  /**
   * Exact parameter count: the sum of every tensor's elements in the header (all shards).
   * @example 4022468096
   */
  parameterCount: number;
  /**
   * Parameters in billions, two decimals.
   * @example 4.02
   */
  sizeParams: number;
  /**
   * llama.cpp name of `general.file_type`.
   * @example Q4_K_M
   */
  quantization: string | null;
  /**
   * `<architecture>.context_length`.
   * @example 40960
   */
  contextLength: number | null;
  /**
   * True when the chat template emits `<think>` (or the vocabulary has that token), as read from the file.
   * @example true
   */
  isThinkingModel: boolean;
  /**
   * User override of the thinking flag; null when not overridden.
   * @example false
   */
  thinkingOverride: boolean | null;
  /** Tier from size and effective thinking flag. */
  @ApiProperty({ enum: TIERS, example: 'powerful' })
  assignedTier: Tier;
  /** User override of the tier; null when not overridden. */
  @ApiProperty({ enum: TIERS, nullable: true, example: null })
  tierOverride: Tier | null;
  /** `tierOverride ?? assignedTier`. */
  @ApiProperty({ enum: TIERS, example: 'powerful' })
  effectiveTier: Tier;
  /**
   * Port the fleet gave this model's llama-server (kept across restarts), or null.
   * @example 8080
   */
  port: number | null;
  /**
   * Whether the fleet may run this model.
   * @example true
   */
  enabled: boolean;
  /**
   * Size on disk, all shards together.
   * @example 2497280256
   */
  fileSizeBytes: number;
  /** Every shard in order for a split model; null for a single file. */
  @ApiPropertyOptional({ type: [String], nullable: true, example: null })
  splitFiles: string[] | null;
  /**
   * Attached multimodal projector file, or null.
   * @example "/models/mmproj-gemma-3-12b-it-f16.gguf"
   */
  mmprojPath: string | null;
  /**
   * `general.name`, else the file name without `.gguf`.
   * @example "Qwen3 4B"
   */
  displayName: string;
  /**
   * What llama-server would allocate for this model with the settings the fleet starts it with (the active profile's `server` block: `ctxSize`, `parallel`, `--cache-type-k/-v` in `extraArgs`), from the header alone. Null when the header cannot tell or llama-server would refuse those settings; `GET /api/models/registry/{modelId}/memory` says why and estimates other settings.
   */
  @ApiProperty({ type: () => MemoryEstimateDto, nullable: true })
  memoryEstimate: MemoryEstimateDto | null;
}

/** Maps a registry model to its public shape (internal bookkeeping fields dropped). */
export function toModelDto(m: DiscoveredModel): DiscoveredModelDto {
  return {
    modelId: m.modelId,
    filePath: m.filePath,
    filename: m.filename,
    architecture: m.architecture,
    family: m.family,
    version: m.version,
    parameterCount: m.parameterCount,
    sizeParams: m.sizeParams,
    quantization: m.quantization,
    contextLength: m.contextLength,
    isThinkingModel: m.isThinkingModel,
    thinkingOverride: m.thinkingOverride,
    assignedTier: m.assignedTier,
    tierOverride: m.tierOverride,
    effectiveTier: m.effectiveTier,
    port: m.port,
    enabled: m.enabled,
    fileSizeBytes: m.fileSizeBytes,
    splitFiles: m.splitFiles,
    mmprojPath: m.mmprojPath,
    displayName: m.displayName,
    memoryEstimate: m.memoryEstimate && toMemoryEstimateDto(m.memoryEstimate),
  };
}

/** Maps an estimate to its public shape (a copy with the fields in documented order). */
export function toMemoryEstimateDto(e: MemoryEstimate): MemoryEstimateDto {
  return {
    weightsBytes: e.weightsBytes,
    kvCacheBytes: e.kvCacheBytes,
    computeBytes: e.computeBytes,
    projectorBytes: e.projectorBytes,
    totalBytes: e.totalBytes,
    ctxSize: e.ctxSize,
    parallel: e.parallel,
  };
}

export class ScanErrorDto implements ScanError {
  /**
   * The file that could not be used.
   * @example /models/broken.gguf
   */
  path: string;
  /**
   * Why.
   * @example "not a GGUF file (bad magic)"
   */
  error: string;
}

export class TierThresholdsDto {
  /**
   * Billions of parameters from which a model is powerful.
   * @example 14
   */
  powerfulMin: number;
  /**
   * Below this many billions a model is fast.
   * @example 7
   */
  fastMax: number;
}

export class RegistryResponseDto {
  /** Models keyed by modelId. */
  @ApiProperty({ type: 'object', additionalProperties: { $ref: '#/components/schemas/DiscoveredModelDto' } })
  models: Record<string, DiscoveredModelDto>;
  /**
   * Folder scanned for `*.gguf`.
   * @example /srv/models
   */
  scanPath: string;
  /**
   * When the last scan finished (ISO 8601), or null.
   * @example 2026-11-23T15:00:00.000Z
   */
  lastScan: string | null;
  /** Ports handed to llama-server processes, inclusive. */
  @ApiProperty({ type: [Number], example: [8080, 8099] })
  portRange: [number, number];
  tierThresholds: TierThresholdsDto;
  /** Files that were skipped and why. */
  scanErrors: ScanErrorDto[];
}

/** What `toRegistryDto` reads of the registry. */
export interface RegistryState {
  list(): DiscoveredModel[];
  readonly scanPath: string;
  readonly lastScan: string | null;
  readonly thresholds: TierThresholds;
  readonly scanErrors: ScanError[];
}

/** Maps the registry (and the fleet's port range, shown beside it) to `GET /api/models/registry`. */
export function toRegistryDto(registry: RegistryState, portRange: [number, number]): RegistryResponseDto {
  const models: Record<string, DiscoveredModelDto> = {};
  for (const m of registry.list()) models[m.modelId] = toModelDto(m);
  return {
    models,
    scanPath: registry.scanPath,
    lastScan: registry.lastScan,
    portRange,
    tierThresholds: { ...registry.thresholds },
    scanErrors: registry.scanErrors,
  };
}

export class RescanResponseDto {
  /**
   * What the scan did, in words.
   * @example "Rescan complete: 3 models found, 1 added, 0 removed"
   */
  message: string;
  /**
   * Models in the registry after the scan.
   * @example 3
   */
  modelsFound: number;
  /**
   * Models this scan added (the length of `added`).
   * @example 1
   */
  modelsAdded: number;
  /**
   * Models this scan removed (the length of `removed`).
   * @example 0
   */
  modelsRemoved: number;
  /** Ids of the models this scan added. */
  @ApiProperty({ type: [String], example: ['qwen3_4b_q4km'] })
  added: string[];
  /** Ids of the models this scan removed (their files are gone). */
  @ApiProperty({ type: [String], example: [] })
  removed: string[];
  /**
   * When the scan finished (ISO 8601).
   * @example 2026-11-23T15:00:00.000Z
   */
  timestamp: string;
}

export function toRescanDto(r: RescanResult): RescanResponseDto {
  return {
    message: `Rescan complete: ${r.modelsFound} models found, ${r.modelsAdded.length} added, ${r.modelsRemoved.length} removed`,
    modelsFound: r.modelsFound,
    modelsAdded: r.modelsAdded.length,
    modelsRemoved: r.modelsRemoved.length,
    added: r.modelsAdded,
    removed: r.modelsRemoved,
    timestamp: r.timestamp,
  };
}

export class SetTierDto {
  /** New tier override, or null to clear it (a bad value is 400 InvalidTier). */
  @ApiProperty({ enum: TIERS, nullable: true, example: 'fast' })
  @Allow()
  tier: Tier | null;
}

export class SetTierResponseDto {
  /**
   * What changed, in words.
   * @example "Tier of qwen3_4b_q4km set to fast"
   */
  message: string;
  /**
   * The model changed.
   * @example qwen3_4b_q4km
   */
  modelId: string;
  /** The effective tier now. */
  @ApiProperty({ enum: TIERS, example: 'fast' })
  tier: Tier;
  /**
   * True while a user override is in force; false once cleared.
   * @example true
   */
  override: boolean;
}

export class SetThinkingDto {
  /** New thinking override, or null to clear it. */
  @ApiProperty({ type: Boolean, nullable: true, example: true })
  @ValidateIf((o: SetThinkingDto) => o.thinking !== null)
  @IsBoolean()
  thinking: boolean | null;
}

export class SetThinkingResponseDto {
  /**
   * What changed, in words.
   * @example "Thinking flag of qwen3_4b_q4km set to true"
   */
  message: string;
  /**
   * The model changed.
   * @example qwen3_4b_q4km
   */
  modelId: string;
  /**
   * The effective thinking flag now.
   * @example true
   */
  thinking: boolean;
  /**
   * True while a user override is in force; false once cleared.
   * @example true
   */
  override: boolean;
  /**
   * Whether this call changed the model's effective tier.
   * @example false
   */
  tierChanged: boolean;
}

export class SetEnabledDto {
  /**
   * Whether the fleet may run this model.
   * @example false
   */
  @IsBoolean()
  enabled: boolean;
}

export class SetEnabledResponseDto {
  /**
   * What changed, in words.
   * @example "qwen3_4b_q4km disabled"
   */
  message: string;
  /**
   * The model changed.
   * @example qwen3_4b_q4km
   */
  modelId: string;
  /**
   * The flag now.
   * @example false
   */
  enabled: boolean;
  /**
   * False when the fleet applied the change live.
   * @example false
   */
  restartRequired: boolean;
}
