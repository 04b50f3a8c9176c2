import type { ServerState, StartMode } from '../common/vocabulary/server-states';
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
  /** `always`: started at activation; `on_demand`: loaded by the first request that names it. */
  startMode: StartMode;
  /** Its memory estimate at the active profile's settings (0 when the header cannot tell). */
  memoryEstimateBytes: number;
  /** Measured memory of its process (resident plus the mapped model files); null when none runs. */
  memoryUsedBytes: number | null;
  /** ISO time of its last request (or of becoming ready); null before any. */
  lastUsedAt: string | null;
  /** Gateway requests it is answering now. */
  inFlight: number;
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
  /** The model file; for a split model every shard, the first one first (the one passed to --model). */
  modelPaths: string[];
  mmprojPath: string | null;
  tier: Tier;
  isThinking: boolean;
  /** The port the registry remembers for it. */
  preferredPort: number | null;
  /** `unloaded` for an on-demand server, `stopped` for an always one. */
  restState: 'stopped' | 'unloaded';
}

/** One server of the fleet as routing sees it. */
export interface FleetServer {
  modelId: string;
  state: ServerState;
  startMode: StartMode;
  /** Where it listens (meaningful when ready). */
  host: string;
  port: number | null;
  /** Its memory estimate, to choose the smallest model of a tier to load. */
  estimateBytes: number;
}

/** Why a server is not ready, for `/health/ready`. */
export interface NotReadyServer {
  modelId: string;
  state: ServerState;
  reason: string;
}
