import type { NextFunction, Request, Response } from 'express';
import { MetricsService } from './metrics.service';

/**
 * Every request Express serves, observed once its answer is sent and labelled by its matched
 * route template (never the raw URL, so label cardinality stays bounded); requests that match
 * no route — unknown paths, and those refused before routing (401) — share `unmatched`.
 */
export function httpMetricsMiddleware(metrics: MetricsService) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const t0 = performance.now();
    res.once('finish', () => {
      const template = (req.route as { path?: string } | undefined)?.path;
      const route = template ? `${req.baseUrl}${template}` : 'unmatched';
      metrics.httpDuration.observe(
        { method: req.method, route, status: String(res.statusCode) },
        (performance.now() - t0) / 1000,
      );
    });
    next();
  };
}
