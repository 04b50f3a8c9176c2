import { plainToInstance } from 'class-transformer';
import { ValidationError, validateSync } from 'class-validator';
import { dump, load } from 'js-yaml';
import { flattenValidationErrors } from '../common/errors/validation';
import { ProfileDto, toProfile } from './dto/profile.dto';
import { PROFILE_SHAPE_LIMITS, plainShapeProblem } from '../common/validation/plain-shape';
import type { Profile } from './profile.types';

/** Profile files larger than this are refused unread (a profile is a few hundred bytes). */
export const MAX_PROFILE_FILE_BYTES = 1024 * 1024;

export type ProfileParseResult =
  { ok: true; profile: Profile } | { ok: false; reason: string; fields?: Record<string, string[]> };

/** The validator options of the global pipe, so a file is held to exactly what a body is. */
const VALIDATE_OPTIONS = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  validationError: { target: false, value: false },
};

/** Validates an already parsed value with the profile DTO classes; the Profile or the reasons. */
export function validateProfile(value: unknown): ProfileParseResult {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, reason: 'a profile must be a mapping of keys to values' };
  }
  const shape = plainShapeProblem(value, PROFILE_SHAPE_LIMITS);
  if (shape) return { ok: false, reason: `the profile ${shape}` };
  const dto = plainToInstance(ProfileDto, value);
  const errors: ValidationError[] = dto instanceof ProfileDto ? validateSync(dto, VALIDATE_OPTIONS) : [];
  if (!(dto instanceof ProfileDto)) return { ok: false, reason: 'a profile must be a mapping of keys to values' };
  if (errors.length) {
    const fields = flattenValidationErrors(errors);
    const reason = Object.entries(fields)
      .map(([field, why]) => `${field}: ${why.join('; ')}`)
      .join('; ');
    return { ok: false, reason: `invalid profile: ${reason}`, fields };
  }
  return { ok: true, profile: toProfile(dto) };
}

/**
 * Parses the text of a profile file with js-yaml's default (core, data-only) schema —
 * no custom tags, duplicate keys refused, nesting and aliases bounded — then validates it.
 */
export function parseProfileYaml(text: string): ProfileParseResult {
  let value: unknown;
  try {
    value = load(text, { maxDepth: PROFILE_SHAPE_LIMITS.maxDepth, maxAliases: 100 });
  } catch (e) {
    return { ok: false, reason: `not valid YAML: ${(e as Error).message.split('\n')[0]}` };
  }
  return validateProfile(value);
}

/** The YAML text written for a profile: camelCase keys in canonical order, block style. */
export function serializeProfile(profile: Profile): string {
  return dump(profile, { noRefs: true });
}
