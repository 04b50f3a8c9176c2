import { Inject, Injectable, Logger } from '@nestjs/common';
import { redactSecrets } from '../common/io/http-client';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { HubUnauthorizedError, HubUnavailableError, RepositoryNotFoundError } from './downloads.error';
import type { HubTreeEntry } from './hub-files';
import { HubHttp, HubHttpResponse, HubTransportError } from './hub-http';
import type { RangeFetch } from './ranged-byte-source';
import { RepoId, repoIdText } from './repo-path';

/** What `resolve` says about a file before any byte of it is fetched. */
export interface HubFileMeta {
  /** `X-Repo-Commit`: the commit the revision points at. */
  commit: string | null;
  /** `X-Linked-Size`, else `Content-Length` of a direct answer. */
  sizeBytes: number | null;
  /** `X-Linked-Etag` unquoted: the sha256 of an LFS file. */
  sha256: string | null;
}

/** An answer to a file request after the redirects, with what the hub said on the way. */
export interface HubFileResponse extends HubHttpResponse {
  commit: string | null;
  /** Where the bytes came from (the file host's URL, with its signature). */
  url: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;
const MAX_TREE_PAGES = 1000;
const MAX_JSON_BYTES = 64 * 1024 * 1024;
const SHA256 = /^[0-9a-f]{64}$/i;

/** Reads a whole (small) body; refuses one over `limit` bytes. */
export async function readBody(res: HubHttpResponse, limit = MAX_JSON_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > limit) {
      res.body.destroy();
      throw new HubUnavailableError(`The hub's answer is larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, n);
}

/** `length` bytes of a body after skipping `skip`; the rest is not read. */
async function readSpan(res: HubHttpResponse, skip: number, length: number): Promise<Buffer> {
  const out = Buffer.allocUnsafe(length);
  let got = 0;
  let toSkip = skip;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    let c = chunk;
    if (toSkip > 0) {
      const n = Math.min(toSkip, c.length);
      toSkip -= n;
      c = c.subarray(n);
    }
    const n = Math.min(c.length, length - got);
    c.copy(out, got, 0, n);
    got += n;
    if (got >= length) break;
  }
  if (!res.body.destroyed) discard(res);
  return got === length ? out : out.subarray(0, got);
}

function discard(res: HubHttpResponse): void {
  res.body.on('error', () => undefined);
  res.body.destroy();
}

/** `<url>; rel="next"` of a Link header (the hub paginates like GitHub). */
export function nextPageUrl(link: string | undefined): string | null {
  if (!link) return null;
  for (const part of link.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]+)>\s*;(.*)$/.exec(part);
    if (m && /\brel\s*=\s*"?next"?/i.test(m[2])) return m[1];
  }
  return null;
}

/**
 * The hub's API as MAGI uses it (the calls `huggingface_hub` makes): the recursive tree
 * listing with its Link pagination, `resolve` with its redirect to a file host, and ranged
 * reads. The token goes to the hub's own origin only: a redirect to any other origin (the
 * file host, a CDN) is followed without `Authorization`, as `huggingface_hub` drops it in
 * `_get_metadata_or_catch_error`. Errors carry URLs and hub messages with the token removed.
 */
@Injectable()
export class HubClient {
  private readonly logger = new Logger(HubClient.name);
  readonly endpoint: string;
  private readonly origin: string;
  private readonly token: string | null;

  constructor(
    @Inject(magiConfig.KEY) config: MagiConfig,
    private readonly http: HubHttp,
  ) {
    this.endpoint = config.downloads.hfEndpoint.replace(/\/+$/, '');
    this.origin = new URL(this.endpoint).origin;
    this.token = config.downloads.hfToken || null;
  }

  /** A URL for logs and errors: no query (a file host's signature) and no credentials. */
  private safeUrl(url: string): string {
    const u = new URL(url);
    return this.redact(`${u.protocol}//${u.host}${u.pathname}`);
  }

  /** Text with the token and anything credential-like removed: for errors and logs. */
  redact(text: string): string {
    return redactSecrets(text, this.token ? [this.token] : []);
  }

  /** `{endpoint}/{owner}/{name}/resolve/{revision}/{path}`, each part encoded as the hub's client does. */
  resolveUrl(repo: RepoId, revision: string, path: string): string {
    const file = path.split('/').map(encodeURIComponent).join('/');
    return `${this.endpoint}/${repoIdText(repo)}/resolve/${encodeURIComponent(revision)}/${file}`;
  }

  /** Every entry of the repository at `revision` (all pages of `tree/{revision}?recursive=true`). */
  async listTree(repo: RepoId, revision: string, signal?: AbortSignal): Promise<HubTreeEntry[]> {
    let url: string | null =
      `${this.endpoint}/api/models/${repoIdText(repo)}/tree/${encodeURIComponent(revision)}?recursive=true`;
    const out: HubTreeEntry[] = [];
    for (let page = 0; url && page < MAX_TREE_PAGES; page++) {
      const res = await this.send('GET', url, { Accept: 'application/json' }, signal);
      if (res.status !== 200) throw await this.failure(res, repo, revision, 'list the repository');
      let entries: unknown;
      try {
        entries = JSON.parse((await readBody(res)).toString('utf8'));
      } catch (e) {
        if (e instanceof HubUnavailableError) throw e;
        throw new HubUnavailableError(`The hub's tree listing of '${repoIdText(repo)}' is not JSON`);
      }
      if (!Array.isArray(entries)) {
        throw new HubUnavailableError(`The hub's tree listing of '${repoIdText(repo)}' is not a list`);
      }
      out.push(...(entries as HubTreeEntry[]));
      const next = nextPageUrl(res.headers.link);
      url = next ? new URL(next, url).toString() : null;
    }
    return out;
  }

  /**
   * `HEAD resolve/{revision}/{path}` without following the redirect to the file host: the
   * commit, size and sha256 the hub states for the file.
   */
  async fileMeta(repo: RepoId, revision: string, path: string, signal?: AbortSignal): Promise<HubFileMeta> {
    let url = this.resolveUrl(repo, revision, path);
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const res = await this.send('HEAD', url, { 'Accept-Encoding': 'identity' }, signal);
      discard(res);
      const location = res.headers.location;
      // A relative redirect stays on the hub (a renamed repository): follow it, as the hub's client does.
      if (REDIRECTS.has(res.status) && location && !/^[a-z][a-z0-9+.-]*:/i.test(location)) {
        url = new URL(location, url).toString();
        continue;
      }
      if (res.status >= 400) throw await this.failure(res, repo, revision, `read ${path}`);
      const etag = (res.headers['x-linked-etag'] ?? res.headers.etag ?? '').replace(/^W\//, '').replace(/"/g, '');
      const size = Number(
        res.headers['x-linked-size'] ?? (REDIRECTS.has(res.status) ? NaN : res.headers['content-length']),
      );
      return {
        commit: res.headers['x-repo-commit'] ?? null,
        sizeBytes: Number.isSafeInteger(size) && size >= 0 ? size : null,
        sha256: SHA256.test(etag) ? etag.toLowerCase() : null,
      };
    }
    throw new HubUnavailableError(`Too many redirects reading ${path} of '${repoIdText(repo)}'`);
  }

  /**
   * GET of a file through `resolve`, following its redirects (the token dropped off the hub's
   * origin), from byte `start` (a `Range` request when above 0) up to `end` inclusive when given.
   * Answers any status; the caller reads or discards the body.
   */
  async openFile(
    repo: RepoId,
    revision: string,
    path: string,
    range: { start: number; end?: number } | null,
    signal?: AbortSignal,
  ): Promise<HubFileResponse> {
    return this.openUrl(this.resolveUrl(repo, revision, path), range, signal);
  }

  /** GET of a file URL (the `resolve` URL, or a file host URL a previous answer came from). */
  async openUrl(
    start: string,
    range: { start: number; end?: number } | null,
    signal?: AbortSignal,
  ): Promise<HubFileResponse> {
    const headers: Record<string, string> = { 'Accept-Encoding': 'identity' };
    if (range && (range.start > 0 || range.end !== undefined)) {
      headers.Range = `bytes=${range.start}-${range.end ?? ''}`;
    }
    let url = start;
    let commit: string | null = null;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const res = await this.send('GET', url, headers, signal);
      commit ??= res.headers['x-repo-commit'] ?? null;
      const location = res.headers.location;
      if (REDIRECTS.has(res.status) && location) {
        discard(res);
        const next = new URL(location, url);
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          throw new HubUnavailableError(`The hub redirected to a ${next.protocol} URL`);
        }
        url = next.toString();
        continue;
      }
      return { ...res, commit, url };
    }
    throw new HubUnavailableError('Too many redirects fetching a file from the hub');
  }

  /**
   * Ranged reads of one file for the remote header reader: the first goes through `resolve`,
   * the next ones straight to the file host URL it led to (no hub round trip each time);
   * a file host URL that stops working (a signature expired) is resolved again once.
   */
  rangeReader(repo: RepoId, revision: string, path: string, signal?: AbortSignal): RangeFetch {
    let direct: string | null = null;
    return async (start, end) => {
      for (let attempt = 0; ; attempt++) {
        const res = await this.openUrl(direct ?? this.resolveUrl(repo, revision, path), { start, end }, signal);
        if (res.status === 206 || res.status === 200) {
          direct = res.url;
          // A 200 is the whole file (the Range ignored): skip to `start`.
          return readSpan(res, res.status === 200 ? start : 0, end - start + 1);
        }
        if (res.status === 416) {
          discard(res);
          return Buffer.alloc(0);
        }
        if (direct && attempt === 0) {
          discard(res);
          direct = null;
          continue;
        }
        throw await this.failure(res, repo, revision, `read ${path}`);
      }
    };
  }

  /** The error a failed answer stands for: 404, 401/403 and anything else. Consumes the body. */
  async failure(res: HubHttpResponse, repo: RepoId, revision: string, what: string): Promise<Error> {
    const body = await readBody(res, 64 * 1024).catch(() => Buffer.alloc(0));
    let reason = res.headers['x-error-message'] ?? '';
    if (!reason) {
      try {
        const parsed = JSON.parse(body.toString('utf8')) as { error?: unknown };
        if (typeof parsed?.error === 'string') reason = parsed.error;
      } catch {
        reason = body.toString('utf8').slice(0, 200);
      }
    }
    reason = this.redact(reason.replace(/\s+/g, ' ').trim()) || `HTTP ${res.status}`;
    const code = res.headers['x-error-code'];
    const id = repoIdText(repo);
    if (code === 'RepoNotFound' || code === 'RevisionNotFound' || code === 'EntryNotFound' || res.status === 404) {
      return new RepositoryNotFoundError(id, `${reason} (cannot ${what} at revision '${revision}')`, {
        revision,
        hubStatus: res.status,
        ...(code ? { hubError: code } : {}),
      });
    }
    if (res.status === 401 || res.status === 403) return new HubUnauthorizedError(id, res.status, reason);
    return new HubUnavailableError(`The hub answered HTTP ${res.status} when asked to ${what} of '${id}': ${reason}`, {
      repo: id,
      hubStatus: res.status,
    });
  }

  /** One exchange, with the token only when the URL is on the hub's own origin. */
  private async send(
    method: 'GET' | 'HEAD',
    url: string,
    extra: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<HubHttpResponse> {
    const headers: Record<string, string> = { 'User-Agent': 'magi/0.1', ...extra };
    if (this.token && new URL(url).origin === this.origin) headers.Authorization = `Bearer ${this.token}`;
    try {
      const res = await this.http.send({ method, url, headers, signal });
      this.logger.debug(
        { method, url: this.safeUrl(url), status: res.status, range: extra.Range ?? null },
        'Hub answered',
      );
      return res;
    } catch (e) {
      if (e instanceof HubTransportError) {
        throw new HubTransportError(
          e.code,
          e.retryable,
          `${method} ${this.safeUrl(url)} failed: ${this.redact(e.message)}`,
        );
      }
      throw e;
    }
  }
}
