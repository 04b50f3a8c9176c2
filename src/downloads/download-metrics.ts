import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service';
import { DOWNLOAD_STATES, DownloadState } from './download-job';

/** `magi_download_bytes_total` (bytes received from the hub) and `magi_downloads{state}` (jobs per state, read at scrape). */
@Injectable()
export class DownloadMetrics {
  private readonly bytes: Counter;
  private states: () => Iterable<DownloadState> = () => [];

  constructor(metrics: MetricsService) {
    this.bytes = metrics.counter({
      name: 'magi_download_bytes_total',
      help: 'Bytes of model files received from the hub',
    });
    const jobs: Gauge<'state'> = metrics.gauge({
      name: 'magi_downloads',
      help: 'Download jobs by state',
      labelNames: ['state'],
      collect: () => {
        const counts = new Map<DownloadState, number>(DOWNLOAD_STATES.map((s) => [s, 0]));
        for (const s of this.states()) counts.set(s, (counts.get(s) ?? 0) + 1);
        for (const [state, n] of counts) jobs.set({ state }, n);
      },
    });
  }

  /** Where the job states are read at scrape time. */
  countStatesOf(states: () => Iterable<DownloadState>): void {
    this.states = states;
  }

  received(bytes: number): void {
    if (bytes > 0) this.bytes.inc(bytes);
  }
}
