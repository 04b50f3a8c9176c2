import { AppError } from '../common/errors/app-error';
import { PROFILE_KEY_PATTERN } from './profile-key';

/** Echoed names are cut so a hostile megabyte name is not sent back whole. */
function echo(name: string): string {
  return name.length > 100 ? `${name.slice(0, 100)}…` : name;
}

/** A `{name}` in a path that is not a key, or a POSTed name whose key is unusable. */
export class InvalidProfileNameError extends AppError {
  constructor(name: string, reason: string, extra: Record<string, unknown> = {}) {
    super('InvalidProfileName', 400, `Invalid profile name '${echo(name)}': ${reason}`, {
      profileName: echo(name),
      reason,
      pattern: PROFILE_KEY_PATTERN.source,
      ...extra,
    });
  }
}

export class ProfileExistsError extends AppError {
  constructor(key: string, path: string) {
    super('ProfileExists', 409, `Profile '${key}' already exists`, { profileName: key, path });
  }
}

export class ProfileActiveError extends AppError {
  constructor(key: string) {
    super('ProfileActive', 409, `Profile '${key}' is the active profile; activate another one first`, {
      profileName: key,
    });
  }
}

/** A profile file that is not valid YAML or not a valid profile (the others are unaffected). */
export class InvalidProfileFileError extends AppError {
  constructor(key: string, file: string, reason: string, fields?: Record<string, string[]>) {
    super('InvalidProfileFile', 422, `Profile file '${file}' is invalid: ${reason}`, {
      profileName: key,
      file,
      reason,
      ...(fields ? { fields } : {}),
    });
  }
}
