import type { ServerState } from '../common/vocabulary/server-states';
import type { Tier } from '../common/vocabulary/tiers';

/** One server as `GET /api/models/servers` and the other modules see it. */
export interface ServerView {
  modelId: string;
  displayName: string;
  /** Port it listens on (or last listened on); null before one was allocated. */
  port: number | null;
  /** Pid of the running process (leader of its process group); null when none runs. */
  pid: number | null;
  state: ServerState;
  isReady: boolean;
  /** A process exists (it may still be loading, or be stopping). */
  isRunning: boolean;
  /** Seconds since the current process started; 0 when none runs. */
  uptimeSeconds: number;
  /** Restarts since the fleet last started this server (crashes and port moves). */
  restarts: number;
  /** Why it failed or last exited, or a warning about an ignored setting; null when none. */
  lastError: string | null;
  tier: Tier;
  isThinking: boolean;
}

/** A model of the registry as routing sees it. */
export interface FleetModel {
  modelId: string;
  /** Its effective tier. */
  tier: Tier;
  enabled: boolean;
}

/** A ready server the gateway can send requests to. */
export interface ReadyServer {
  modelId: string;
  port: number;
  /** Host to connect to (LLAMA_SERVER_HOST, or loopback when it binds every address). */
  host: string;
}

/** Emitted on `FleetService.stateChanges$` for every state transition. */
export interface ServerStateChange {
  modelId: string;
  from: ServerState;
  to: ServerState;
  port: number | null;
  pid: number | null;
  /** Why, in a sentence (e.g. the failure reason). */
  reason: string | null;
  /** Epoch ms. */
  at: number;
}

/** What a server of the desired set needs to be launched. */
export interface ServerPlan {
  modelId: string;
  displayName: string;
  modelPath: string;
  mmprojPath: string | null;
  tier: Tier;
  isThinking: boolean;
  /** The port the registry remembers for it. */
  preferredPort: number | null;
}

/** Why a server is not ready, for `/health/ready`. */
export interface NotReadyServer {
  modelId: string;
  state: ServerState;
  reason: string;
}
