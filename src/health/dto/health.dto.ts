import { ApiProperty } from '@nestjs/swagger';
import { SERVER_STATES, ServerState } from '../../common/vocabulary/server-states';

export class LiveResponseDto {
  /**
   * Always `ok` when the process answers.
   * @example ok
   */
  status: string;
}

export class NotReadyServerDto {
  /**
   * The model whose server is not ready.
   * @example qwen3_4b_q4km
   */
  modelId: string;
  /** Its supervisor state. */
  @ApiProperty({ enum: SERVER_STATES, example: 'starting' })
  state: ServerState;
  /**
   * Why it is not ready.
   * @example "GET /health answered 503 (Loading model)"
   */
  reason: string;
}

export class ReadyDetailsDto {
  /**
   * Models the active profile names that are not in the registry (logged; they do not hold readiness back).
   * @example ["llama_3_1_8b_q8_0"]
   */
  missingModels: string[];
}

export class ReadyResponseDto {
  /**
   * Always `ready`.
   * @example ready
   */
  status: 'ready';
  /**
   * Servers of the active profile that are ready.
   * @example 2
   */
  readyServers: number;
  /**
   * Servers the active profile wants.
   * @example 2
   */
  totalServers: number;
  /** Present only when the active profile names models the registry does not know. */
  details?: ReadyDetailsDto;
}

export class ReadinessDetailsDto {
  /** Each wanted server that is not ready, and why. */
  servers: NotReadyServerDto[];
  /**
   * Why the registry is not ready, when it is not.
   * @example "the model registry is not loaded yet"
   */
  registry?: string;
  /**
   * Models the active profile names that are not in the registry.
   * @example ["llama_3_1_8b_q8_0"]
   */
  missingModels?: string[];
  /**
   * True while MAGI shuts down.
   * @example true
   */
  shuttingDown?: boolean;
}

export class NotReadyResponseDto {
  /**
   * Always `not_ready`.
   * @example not_ready
   */
  status: 'not_ready';
  /**
   * Servers of the active profile that are ready.
   * @example 1
   */
  readyServers: number;
  /**
   * Servers the active profile wants.
   * @example 2
   */
  totalServers: number;
  /** What is not ready and why. */
  details: ReadinessDetailsDto;
}
