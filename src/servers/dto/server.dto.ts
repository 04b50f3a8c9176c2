import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import type { ServerView } from '../fleet.types';
import { SERVER_STATES, ServerState } from '../../common/vocabulary/server-states';
import { TIERS, Tier } from '../../common/vocabulary/tiers';

/** The most lines `GET …/logs` hands out at once. */
export const MAX_LOG_LINES = 5000;
export const DEFAULT_LOG_LINES = 200;

export class ServerDto {
  /**
   * Registry id of the model this server runs (also its `--alias`).
   * @example qwen3_4b_q4km
   */
  modelId: string;
  /**
   * Human name of the model.
   * @example "Qwen3 4B"
   */
  displayName: string;
  /**
   * Port of PORT_RANGE the server listens on; null before one was allocated.
   * @example 8080
   */
  port: number | null;
  /**
   * Pid of the running llama-server (leader of its process group); null when no process runs.
   * @example 41237
   */
  pid: number | null;
  /** Supervisor state. */
  @ApiProperty({ enum: SERVER_STATES, example: 'ready' })
  state: ServerState;
  /**
   * True when its `GET /health` answered 200.
   * @example true
   */
  isReady: boolean;
  /**
   * True while a process exists (loading, ready or stopping).
   * @example true
   */
  isRunning: boolean;
  /**
   * Seconds since the current process started; 0 when none runs.
   * @example 812.4
   */
  uptimeSeconds: number;
  /**
   * Restarts since the fleet last started this server (crashes and port moves).
   * @example 0
   */
  restarts: number;
  /**
   * Why it failed or last exited, or a warning about a profile setting this llama-server build ignores; null when none.
   * @example "exited with code 1; last output: GGML_ASSERT(tensor != NULL) failed"
   */
  lastError: string | null;
  /** Effective tier of the model. */
  @ApiProperty({ enum: TIERS, example: 'fast' })
  tier: Tier;
  /**
   * Effective thinking flag of the model.
   * @example true
   */
  isThinking: boolean;
}

export class ServersResponseDto {
  /**
   * Servers the active profile wants (servers still stopping are listed but not counted).
   * @example 2
   */
  totalServers: number;
  /**
   * Wanted servers that are ready.
   * @example 1
   */
  readyServers: number;
  /** The wanted servers plus any still stopping, by model id. */
  servers: ServerDto[];
}

export class ServerLogsQueryDto {
  /**
   * How many of the newest lines to return (1–5000).
   * @example 200
   */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_LOG_LINES)
  lines?: number;
}

export class ServerLogsResponseDto {
  /**
   * The model whose server wrote these lines.
   * @example qwen3_4b_q4km
   */
  modelId: string;
  /**
   * The last lines of its stdout and stderr, oldest first; lines starting with `[magi]` are the fleet's own notes (launch command, exits, warnings).
   * @example ["main: HTTP server is listening, hostname: 127.0.0.1, port: 8080, http threads: 15", "main: model loaded"]
   */
  lines: string[];
}

export function toServerDto(v: ServerView): ServerDto {
  return { ...v };
}
