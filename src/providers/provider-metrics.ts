import { Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service';
import { ProviderStatusService } from './provider-status.service';

/**
 * Provider health as gauges. A scrape asks ProviderStatusService, whose short cache and
 * shared in-flight checks keep scrapes from becoming a burst of upstream calls.
 */
@Injectable()
export class ProviderMetrics {
  constructor(metrics: MetricsService, status: ProviderStatusService) {
    const up: Gauge<'provider'> = metrics.gauge({
      name: 'magi_provider_up',
      help: '1 when the provider is connected',
      labelNames: ['provider'],
    });
    const latency: Gauge<'provider'> = metrics.gauge({
      name: 'magi_provider_check_latency_seconds',
      help: 'Duration of the last health check of each provider',
      labelNames: ['provider'],
      collect: async () => {
        for (const h of await status.statusAll()) {
          up.set({ provider: h.name }, h.connected ? 1 : 0);
          if (h.latencyMs !== null) latency.set({ provider: h.name }, h.latencyMs / 1000);
        }
      },
    });
  }
}
