import type { NextFunction, Request, Response } from 'express';
import { MetricsService } from './metrics.service';

/**
 * Records every request's duration labelled by its route template (never the raw URL,
 * so label cardinality stays bounded); unmatched paths share one label.
 */
export function httpMetricsMiddleware(metrics: MetricsService) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const end = metrics.httpDuration.startTimer();
    res.once('finish', () => {
      // Routes served ahead of Nest's router (the gateway) name their template in res.locals.
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : ((res.locals.routeTemplate as string | undefined) ?? 'unmatched');
      end({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  };
}
