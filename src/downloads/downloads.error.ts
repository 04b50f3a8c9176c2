import { AppError } from '../common/errors/app-error';

/** Echoed names are cut so a hostile megabyte name is not sent back whole. */
export function echo(name: string): string {
  const s = JSON.stringify(name).slice(1, -1);
  return s.length > 120 ? `${s.slice(0, 120)}…` : s;
}

/** A repository, file or revision name that would leave MODEL_SCAN_PATH or is not a name at all. */
export class InvalidRepoNameError extends AppError {
  constructor(problems: Array<{ field: string; reason: string; value?: string }>) {
    const first = problems[0];
    super('ValidationFailed', 400, `Invalid ${first.field}: it ${first.reason}`, {
      fields: problems.map((p) => ({ ...p, value: p.value === undefined ? undefined : echo(p.value) })),
    });
  }
}

/** The hub knows no such repository, revision or file (or hides a private one). */
export class RepositoryNotFoundError extends AppError {
  constructor(repo: string, reason: string, details: Record<string, unknown> = {}) {
    super('RepositoryNotFound', 404, `Repository '${echo(repo)}' not found on the hub: ${reason}`, {
      repo: echo(repo),
      reason,
      ...details,
    });
  }
}

/** The hub refused the request: a gated or private repository without a (valid) HF_TOKEN. */
export class HubUnauthorizedError extends AppError {
  constructor(repo: string, status: number, reason: string) {
    super(
      'HubUnauthorized',
      401,
      `The hub refused access to '${echo(repo)}' (HTTP ${status}): ${reason}. ` +
        'A gated or private repository needs HF_TOKEN with access to it',
      { repo: echo(repo), hubStatus: status, reason },
    );
  }
}

/**
 * The hub or its file host answered with an error of its own (502), or cannot be reached at
 * all (503, as for every dependency MAGI cannot reach).
 */
export class HubUnavailableError extends AppError {
  constructor(message: string, details: Record<string, unknown> = {}, status: 502 | 503 = 502) {
    super('HubUnavailable', status, message, details, 'upstream_error');
  }
}

export class DownloadNotFoundError extends AppError {
  constructor(id: string) {
    super('DownloadNotFound', 404, `Download '${echo(id)}' not found`, { id: echo(id) });
  }
}

/** The same file is already queued or being downloaded. */
export class DownloadExistsError extends AppError {
  constructor(existingId: string, path: string) {
    super('DownloadExists', 409, `'${echo(path)}' is already being downloaded by job ${existingId}`, {
      id: existingId,
      path: echo(path),
    });
  }
}

/** The models folder's disk cannot hold what the downloads still need. */
export class InsufficientStorageError extends AppError {
  constructor(neededBytes: number, freeBytes: number, path: string) {
    super(
      'InsufficientStorage',
      507,
      `Not enough disk space: the download needs ${neededBytes} bytes (with the downloads already running), ` +
        `${freeBytes} are free`,
      { neededBytes, freeBytes, path },
    );
  }
}

/** A request that names no file of the repository, or more than one. */
export class FileChoiceError extends AppError {
  constructor(message: string, details: Record<string, unknown>) {
    super('ValidationFailed', 400, message, details);
  }
}
