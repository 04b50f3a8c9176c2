import { Injectable } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { Gauge, Histogram } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service';
import { RegistryEvents, RegistryRescannedEvent } from './registry.events';
import { RegistryService } from './registry.service';

/** Registry metrics: the model count, read at scrape time, and the duration of each scan. */
@Injectable()
export class RegistryMetrics {
  private readonly scanSeconds: Histogram;

  constructor(metrics: MetricsService, registry: RegistryService, events: EventEmitter2) {
    const models: Gauge = metrics.gauge({
      name: 'magi_registry_models',
      help: 'Models in the registry',
      collect: () => models.set(registry.size),
    });
    this.scanSeconds = metrics.histogram({
      name: 'magi_registry_scan_duration_seconds',
      help: 'Duration of registry scans',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    });
    // Subscribed here rather than with @OnEvent: @OnEvent listeners are attached at
    // application bootstrap, after the first scan (RegistryService.onModuleInit) has run.
    events.on(RegistryEvents.Rescanned, (e: RegistryRescannedEvent) => this.scanned(e));
  }

  /** Records one finished scan. */
  scanned(event: RegistryRescannedEvent): void {
    this.scanSeconds.observe(event.durationMs / 1000);
  }
}
