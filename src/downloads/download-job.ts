/**
 * A download job as it is kept (downloads.json beside STATE_PATH) and the moves its state
 * may make, declared as data. Pure.
 */

export const DOWNLOAD_STATES = ['queued', 'downloading', 'verifying', 'done', 'failed', 'cancelled'] as const;
export type DownloadState = (typeof DOWNLOAD_STATES)[number];

/** Where each state may go. `queued` again from a running state: MAGI stopped, the job waits for the next start. */
const TRANSITIONS: Readonly<Record<DownloadState, readonly DownloadState[]>> = {
  queued: ['downloading', 'failed', 'cancelled'],
  downloading: ['verifying', 'queued', 'failed', 'cancelled'],
  verifying: ['downloading', 'done', 'queued', 'failed', 'cancelled'],
  done: [],
  failed: [],
  cancelled: [],
};

export function canMove(from: DownloadState, to: DownloadState): boolean {
  return TRANSITIONS[from].includes(to);
}

export function isTerminal(state: DownloadState): boolean {
  return TRANSITIONS[state].length === 0;
}

/** One file of a job. */
export interface JobFile {
  /** Path in the repository. */
  path: string;
  sizeBytes: number;
  /** The hub's sha256 (`lfs.oid`) the bytes must match. */
  sha256: string;
  /**
   * Absolute path of the finished file (`{destination}/{path}`; a projector fetched with a model
   * lands beside the model instead); the bytes go to `{target}.part` first.
   */
  target: string;
  /** The part's bytes matched the sha256 (it waits for the job's last file to be renamed). */
  verified: boolean;
}

/** The error a job ended with, in the API's error shape. */
export interface JobError {
  error: string;
  message: string;
  details: Record<string, unknown>;
}

/** What is persisted of a job: never a token, a header or a signed URL. */
export interface DownloadJobRecord {
  id: string;
  state: DownloadState;
  /** `owner/name`. */
  repo: string;
  /** As asked (`main`, a tag, a commit). */
  revision: string;
  /** The commit every file is fetched at, so all shards come from one commit. */
  commit: string;
  files: JobFile[];
  /** `MODEL_SCAN_PATH/{owner}/{name}`. */
  destination: string;
  totalBytes: number;
  /** Bytes on disk so far (all files); updated as they arrive, persisted on state changes. */
  receivedBytes: number;
  error: JobError | null;
  /** Registry ids of the models the files became (set when done). */
  modelIds: string[];
  createdAt: string;
  finishedAt: string | null;
}
