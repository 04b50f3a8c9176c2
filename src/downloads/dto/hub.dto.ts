import { ApiProperty } from '@nestjs/swagger';
import { MemoryEstimateDto } from '../../registry/dto/model.dto';
import { IsOptional, IsString, MaxLength, MinLength } from 'class-validator';

export class HubQueryDto {
  /**
   * Branch, tag or commit of the repository; default `main`.
   * @example main
   */
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  revision?: string;
}

export class HubFileDto {
  /**
   * Path in the repository: the file, or the first shard of a split model.
   * @example Qwen3-4B-Q4_K_M.gguf
   */
  path: string;
  /**
   * Bytes to download (every shard of a split).
   * @example 2497280256
   */
  sizeBytes: number;
  /**
   * sha256 of the file (the first shard's for a split), as the hub states it (`lfs.oid`).
   * @example 7485fe6f11af29433bc51cab58009521f205840f5b4ae3a32fa7f92e8534fdf5
   */
  sha256: string | null;
  /**
   * From the header's `general.file_type`, else from the name.
   * @example Q4_K_M
   */
  quantization: string | null;
  /** Every shard's path in order, for a split model; null for a single file. */
  @ApiProperty({
    type: [String],
    nullable: true,
    example: ['Q4_K_M/Llama-3.3-70B-Q4_K_M-00001-of-00002.gguf', 'Q4_K_M/Llama-3.3-70B-Q4_K_M-00002-of-00002.gguf'],
  })
  shards: string[] | null;
  /**
   * A multimodal projector (mmproj), not a model of its own.
   * @example false
   */
  isProjector: boolean;
  /** Read from the file's header on the hub (a few Range requests, no download); null for a projector or a header that cannot tell. */
  memoryEstimate: MemoryEstimateDto | null;
  /**
   * Whether `memoryEstimate.totalBytes` fits in `freeBytes` now (always true without a budget); null without an estimate.
   * @example true
   */
  fits: boolean | null;
  /**
   * Why the header could not be read, when it could not.
   * @example null
   */
  headerError: string | null;
}

export class HubListingDto {
  /**
   * `owner/name`.
   * @example Qwen/Qwen3-4B-GGUF
   */
  repo: string;
  /**
   * As asked.
   * @example main
   */
  revision: string;
  /**
   * The commit the revision points at (what a download fetches); null when the repository has no GGUF file.
   * @example a9a60d12b2a3e4c5a7f1c2b9e0d1f2a3b4c5d6e7
   */
  commit: string | null;
  /**
   * The fleet's memory budget (the active profile's memoryBudget, else FLEET_MEMORY_BUDGET); null when it is off.
   * @example 23622320128
   */
  budgetBytes: number | null;
  /**
   * The budget minus what running and starting servers count for now: what `fits` compares with; null without a budget.
   * @example 17179869184
   */
  freeBytes: number | null;
  /** The repository's GGUF files, each split once. */
  files: HubFileDto[];
}
