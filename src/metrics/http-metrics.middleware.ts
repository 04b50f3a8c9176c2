import type { NextFunction, Request, Response } from 'express';
import type { ServerResponse } from 'node:http';
import { MetricsService } from './metrics.service';

/**
 * Observes one request's duration once its answer is sent, labelled by `route()` read at
 * that moment (a route template, never the raw URL, so label cardinality stays bounded).
 */
export function observeHttpRequest(
  metrics: MetricsService,
  method: string,
  res: ServerResponse,
  route: () => string,
): void {
  const t0 = performance.now();
  res.once('finish', () =>
    metrics.httpDuration.observe(
      { method, route: route(), status: String(res.statusCode) },
      (performance.now() - t0) / 1000,
    ),
  );
}

/**
 * Every request Express serves, by its matched route template; requests that match no
 * route — unknown paths, and those refused before routing (401) — share `unmatched`.
 */
export function httpMetricsMiddleware(metrics: MetricsService) {
  return (req: Request, res: Response, next: NextFunction): void => {
    observeHttpRequest(metrics, req.method, res, () => {
      const template = (req.route as { path?: string } | undefined)?.path;
      return template ? `${req.baseUrl}${template}` : 'unmatched';
    });
    next();
  };
}
