import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
  /** Every HTTP request Express answers, by method, route template and status. */
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'magi_process_' });
    this.httpDuration = this.histogram({
      name: 'magi_http_request_duration_seconds',
      help: 'HTTP request duration by method, route template and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    });
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

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
