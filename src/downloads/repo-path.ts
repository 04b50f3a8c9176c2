/**
 * Names that come from a client (owner, repository, revision, file) or from a hub's tree
 * listing (file paths) and end up in a URL or under MODEL_SCAN_PATH. Pure: every check is
 * on the string, so a name is refused before anything is fetched or written.
 *
 * A file lands at `MODEL_SCAN_PATH/{owner}/{repo}/{path}`. Refused, in any spelling a layer
 * could turn into a traversal: `.` and `..` segments, `/` or `\` inside a name, absolute
 * paths and drive letters, NUL and control characters, `%` (so no percent-encoding is left
 * for anyone to decode later), and characters that Unicode compatibility folding (NFKC)
 * turns into a dot or a slash (`․`, `‥`, `．`, `／`, `＼`, …).
 */

/** Why a name was refused: the field and the reason, for a 400's details. */
export interface NameProblem {
  field: string;
  reason: string;
}

/** The hub's rule for a user, organisation or repository name, kept strict: ASCII only. */
const REPO_PART = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;
/** Control characters, the separators of every platform, and what Windows refuses in names. */
// eslint-disable-next-line no-control-regex
const FORBIDDEN_IN_SEGMENT = /[\u0000-\u001f\u007f-\u009f/\\:*?"<>|%]/;
const MAX_PATH = 1024;
const MAX_SEGMENT = 255;
const MAX_DEPTH = 16;

function folded(s: string): string {
  return s.normalize('NFKC');
}

/** Problem with an owner or repository name, or null. */
export function repoPartProblem(value: string): string | null {
  if (!REPO_PART.test(value)) {
    return 'must be 1–96 ASCII letters, digits, `.`, `_` or `-`, starting with a letter or digit';
  }
  if (value.includes('..')) return 'must not contain `..`';
  if (/\.(git|lock)$/i.test(value)) return 'must not end in .git or .lock';
  return null;
}

/** Problem with one segment of a repository file path, or null. */
function segmentProblem(segment: string): string | null {
  if (segment === '') return 'has an empty segment (`//`, or a leading or trailing `/`)';
  if (segment.length > MAX_SEGMENT) return `has a segment longer than ${MAX_SEGMENT} characters`;
  for (const form of [segment, folded(segment)]) {
    if (form === '.' || form === '..') return 'has a `.` or `..` segment';
    if (FORBIDDEN_IN_SEGMENT.test(form)) {
      return 'has a control character, `\\`, `%`, `:` or another character not allowed in a file name';
    }
    if (/^\.+$/.test(form) || /[. ]$/.test(form)) return 'has a segment of dots or ending in a dot or space';
  }
  return null;
}

/** Problem with a file path inside a repository (`sub/dir/Model-Q4_K_M.gguf`), or null. */
export function repoFilePathProblem(path: string): string | null {
  if (typeof path !== 'string' || path.length === 0) return 'is empty';
  if (path.length > MAX_PATH) return `is longer than ${MAX_PATH} characters`;
  if (path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:/.test(path)) return 'is absolute';
  if (folded(path).startsWith('/')) return 'is absolute';
  const segments = path.split('/');
  if (segments.length > MAX_DEPTH) return `is deeper than ${MAX_DEPTH} folders`;
  for (const s of segments) {
    const problem = segmentProblem(s);
    if (problem) return problem;
  }
  return null;
}

/**
 * Problem with a revision (branch, tag, commit or `refs/pr/1`), or null. It only ever goes
 * into a URL, percent-encoded as one segment, never into a file path.
 */
export function revisionProblem(revision: string): string | null {
  if (typeof revision !== 'string' || revision.length === 0) return 'is empty';
  if (revision.length > 256) return 'is longer than 256 characters';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f-\u009f\\]/.test(revision)) return 'has a space, control character or `\\`';
  if (revision.split('/').some((s) => s === '' || s === '.' || s === '..')) return 'has an empty, `.` or `..` part';
  return null;
}

/** A repository id `owner/name`, checked. */
export interface RepoId {
  owner: string;
  name: string;
}

/** Splits and checks `owner/name`; returns the problems (empty when it is fine). */
export function parseRepoId(value: unknown): { repo: RepoId | null; problems: NameProblem[] } {
  if (typeof value !== 'string') return { repo: null, problems: [{ field: 'repo', reason: 'must be a string' }] };
  const parts = value.split('/');
  if (parts.length !== 2) {
    return { repo: null, problems: [{ field: 'repo', reason: 'must be `owner/name` (exactly one `/`)' }] };
  }
  return checkRepo(parts[0], parts[1]);
}

/** Checks an owner and a repository name given apart (route parameters). */
export function checkRepo(owner: string, name: string): { repo: RepoId | null; problems: NameProblem[] } {
  const problems: NameProblem[] = [];
  const o = repoPartProblem(owner);
  if (o) problems.push({ field: 'owner', reason: o });
  const n = repoPartProblem(name);
  if (n) problems.push({ field: 'repo', reason: n });
  return { repo: problems.length ? null : { owner, name }, problems };
}

/** `owner/name`. */
export function repoIdText(repo: RepoId): string {
  return `${repo.owner}/${repo.name}`;
}

/**
 * A repository file path as path segments under the models folder: `[owner, name, ...dirs, file]`.
 * Throws when the path has a problem (call repoFilePathProblem first to report it).
 */
export function destinationSegments(repo: RepoId, path: string): string[] {
  const problem = repoPartProblem(repo.owner) ?? repoPartProblem(repo.name) ?? repoFilePathProblem(path);
  if (problem) throw new Error(`unsafe destination: ${problem}`);
  return [repo.owner, repo.name, ...path.split('/')];
}
