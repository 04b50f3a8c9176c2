import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import type { ServerView } from '../fleet.types';
import { SERVER_STATES, START_MODES, ServerState, StartMode } from '../../common/vocabulary/server-states';
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
  /** `always`: started when the profile is activated; `on_demand`: loaded by the first request that names it, stopped when idle. */
  @ApiProperty({ enum: START_MODES, example: 'on_demand' })
  startMode: StartMode;
  /**
   * Its memory estimate in bytes at the active profile's settings (weights, KV cache, compute, projector); 0 when the header cannot tell.
   * @example 5368709120
   */
  memoryEstimateBytes: number;
  /**
   * Measured memory of its process in bytes (resident memory, with the mapped model files counted whole); null when no process runs or not measured yet.
   * @example 5033164800
   */
  memoryUsedBytes: number | null;
  /**
   * When it last answered a request (or became ready); null before that.
   * @example "2026-12-06T17:45:00.000Z"
   */
  lastUsedAt: string | null;
  /**
   * Gateway requests it is answering now.
   * @example 0
   */
  inFlight: number;
}

export class FleetMemoryDto {
  /**
   * The memory budget in bytes (the profile's `memoryBudget`, else FLEET_MEMORY_BUDGET); null when it is `off`.
   * @example 25769803776
   */
  budgetBytes: number | null;
  /**
   * What running and starting servers count for: each at the larger of its estimate and its measured memory.
   * @example 10737418240
   */
  reservedBytes: number;
  /**
   * The budget minus what is reserved, never below 0; null without a budget.
   * @example 15032385536
   */
  freeBytes: number | null;
}

export class ServerLoadResponseDto {
  /**
   * The model whose server was loaded or unloaded.
   * @example qwen3_4b_q4km
   */
  modelId: string;
  /** Its state after the call: `ready` (already loaded), `starting` or `queued` after a load; `unloaded` or `stopped` after an unload. */
  @ApiProperty({ enum: SERVER_STATES, example: 'starting' })
  state: ServerState;
}

export class ServersResponseDto {
  /**
   * Servers the active profile wants, on-demand ones included (servers still stopping are listed but not counted).
   * @example 2
   */
  totalServers: number;
  /**
   * Wanted servers that are ready.
   * @example 1
   */
  readyServers: number;
  /** The wanted servers (on-demand ones included, whether loaded or not) plus any still stopping, by model id. */
  servers: ServerDto[];
  /** The memory budget and what the fleet holds of it. */
  memory: FleetMemoryDto;
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
