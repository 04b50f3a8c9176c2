import { Inject, Injectable } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { MagiConfig } from '../../config/magi-config';
import { magiConfig } from '../../config/magi-config.provider';
import { UnauthorizedError } from '../errors/app-error';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** True when `path` is behind the token: /api and /v1 routes (API.md §1). */
export function isProtectedPath(path: string): boolean {
  return /^\/(api|v1)(\/|$)/i.test(path);
}

/**
 * Bearer-token check for /api and /v1 when API_TOKENS is set; applied as the first
 * middleware (app.setup.ts) so unknown routes under those prefixes are covered too. Tokens are compared as
 * SHA-256 digests with timingSafeEqual, so neither content nor length leaks through timing.
 */
@Injectable()
export class BearerAuthService {
  private readonly digests: Buffer[];

  constructor(@Inject(magiConfig.KEY) config: MagiConfig) {
    this.digests = config.auth.apiTokens.map(digest);
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** Throws UnauthorizedError unless the request may pass. */
  check(req: Request): void {
    this.authorize(req.path, req.headers.authorization);
  }

  /** The same check from a request's path and its Authorization header (the gateway's raw listener). */
  authorize(path: string, authorization: string | undefined): void {
    if (!this.enabled || !isProtectedPath(path)) return;
    const match = typeof authorization === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
    if (!match) throw new UnauthorizedError('Missing bearer token');
    const given = digest(match[1]);
    let ok = false;
    for (const d of this.digests) ok = timingSafeEqual(d, given) || ok;
    if (!ok) throw new UnauthorizedError('Invalid bearer token');
  }
}
