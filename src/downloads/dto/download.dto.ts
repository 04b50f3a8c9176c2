import { ApiProperty } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { DOWNLOAD_STATES, DownloadState } from '../download-job';

export class CreateDownloadDto {
  /**
   * The hub repository, `owner/name`.
   * @example Qwen/Qwen3-4B-GGUF
   */
  @IsString()
  @MinLength(3)
  @MaxLength(200)
  repo: string;
  /**
   * Path of the file in the repository (any shard of a split names the whole split). Give this or `quantization`.
   * A model comes with the repository's projector, if it has one for it.
   * @example Qwen3-4B-Q4_K_M.gguf
   */
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(1024)
  file?: string;
  /**
   * Picks the one model file of this quantization (projectors aside); 400 when none or several match.
   * @example Q4_K_M
   */
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(32)
  quantization?: string;
  /**
   * Branch, tag or commit; default `main`.
   * @example main
   */
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  revision?: string;
}

export class DownloadFileDto {
  /**
   * Path in the repository.
   * @example Qwen3-4B-Q4_K_M.gguf
   */
  path: string;
  /**
   * The file's size in bytes, as the hub lists it.
   * @example 2497280256
   */
  sizeBytes: number;
  /**
   * The hub's sha256 the bytes are checked against.
   * @example 7485fe6f11af29433bc51cab58009521f205840f5b4ae3a32fa7f92e8534fdf5
   */
  sha256: string;
  /**
   * Bytes of this file on disk so far.
   * @example 1048576
   */
  receivedBytes: number;
}

export class DownloadErrorDto {
  /**
   * Error type, as in the error shape.
   * @example ChecksumMismatch
   */
  error: string;
  /**
   * What went wrong, in words.
   * @example "The sha256 of Qwen3-4B-Q4_K_M.gguf does not match the hub's: the download was discarded"
   */
  message: string;
  /** Context of the error. */
  @ApiProperty({ type: 'object', additionalProperties: true, example: { path: 'Qwen3-4B-Q4_K_M.gguf' } })
  details: Record<string, unknown>;
}

export class DownloadJobDto {
  /**
   * Job id.
   * @example 1f3c8a2e-5b7d-4c1e-9a0f-2b6d8e4c1a7f
   */
  id: string;
  /** Where the job is. */
  @ApiProperty({ enum: DOWNLOAD_STATES, example: 'downloading' })
  state: DownloadState;
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
   * The commit every file is fetched at.
   * @example a9a60d12b2a3e4c5a7f1c2b9e0d1f2a3b4c5d6e7
   */
  commit: string;
  /** Every file of the job: all shards of a split, then the projector fetched with a model (it lands beside the model). */
  files: DownloadFileDto[];
  /**
   * Folder the files land in: `MODEL_SCAN_PATH/{owner}/{name}`.
   * @example /models/Qwen/Qwen3-4B-GGUF
   */
  destination: string;
  /**
   * Bytes on disk so far, all files.
   * @example 1048576
   */
  receivedBytes: number;
  /**
   * Bytes the job downloads in all (every file of it).
   * @example 2497280256
   */
  totalBytes: number;
  /**
   * Transfer rate over the last seconds; 0 when not downloading.
   * @example 52428800
   */
  bytesPerSecond: number;
  /** Why the job failed or was cancelled; null otherwise. */
  error: DownloadErrorDto | null;
  /**
   * Registry ids of the models the files became, once done.
   * @example ["qwen3_4b_q4km"]
   */
  modelIds: string[];
  /**
   * When the job was created (ISO 8601).
   * @example 2026-12-01T10:00:00.000Z
   */
  createdAt: string;
  /**
   * When it ended (done, failed or cancelled).
   * @example null
   */
  finishedAt: string | null;
}

export class DownloadDoneEventDto {
  /**
   * Registry ids of the new models.
   * @example ["qwen3_4b_q4km"]
   */
  modelIds: string[];
}
