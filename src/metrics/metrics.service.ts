import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { HotCounter, HotHistogram, HotHistogramSeries } from './hot-metrics';

type GaugeConfig<T extends string> = ConstructorParameters<typeof Gauge<T>>[0];
type CounterConfig<T extends string> = ConstructorParameters<typeof Counter<T>>[0];
type HistogramConfig<T extends string> = ConstructorParameters<typeof Histogram<T>>[0];

/**
 * One prom-client registry per app (so tests booting several apps never collide).
 * Feature modules create their own metrics here; gauges that mirror state use a
 * `collect` callback so they are read at scrape time, not pushed on every change.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  /** Observed for every request, so a hot-path histogram. */
  readonly httpDuration: HotHistogram<'method' | 'route' | 'status'>;
  /** Its series by route template, method and status (templates, so the set stays small). */
  private readonly httpSeries = new Map<string, Map<string, Map<number, HotHistogramSeries>>>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'magi_process_' });
    this.httpDuration = this.hotHistogram({
      name: 'magi_http_request_duration_seconds',
      help: 'HTTP request duration by method, route template and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    });
  }

  /** The httpDuration series of one method, route template and status. */
  httpDurationOf(method: string, route: string, status: number): HotHistogramSeries {
    // Nested by the values themselves: a joined key would be built and hashed per request.
    let byMethod = this.httpSeries.get(route);
    if (!byMethod) this.httpSeries.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (!series) byStatus.set(status, (series = this.httpDuration.series({ method, route, status: String(status) })));
    return series;
  }

  gauge<T extends string>(config: GaugeConfig<T>): Gauge<T> {
    return new Gauge<T>({ ...config, registers: [this.registry] });
  }

  counter<T extends string>(config: CounterConfig<T>): Counter<T> {
    return new Counter<T>({ ...config, registers: [this.registry] });
  }

  histogram<T extends string>(config: HistogramConfig<T>): Histogram<T> {
    return new Histogram<T>({ ...config, registers: [this.registry] });
  }

  /** A counter for per-request paths: resolve a series once, then `inc` is a plain add. */
  hotCounter<T extends string>(config: { name: string; help: string; labelNames: readonly T[] }): HotCounter<T> {
    return new HotCounter<T>(config, this.registry);
  }

  /** A histogram for per-request paths: resolve a series once, then `observe` is a bucket increment. */
  hotHistogram<T extends string>(config: {
    name: string;
    help: string;
    labelNames: readonly T[];
    buckets: readonly number[];
  }): HotHistogram<T> {
    return new HotHistogram<T>(config, this.registry);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
