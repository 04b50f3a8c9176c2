import { Injectable } from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service';
import type { Usage } from './forwarder';
import type { GatewayEndpoint } from './route';

/** Error codes counted by `magi_gateway_errors_total` (a closed set, so labels stay bounded). */
export type GatewayErrorCode =
  | 'invalid_request'
  | 'model_not_found'
  | 'model_not_running'
  | 'queue_timeout'
  | 'insufficient_memory'
  | 'model_too_large'
  | 'upstream_unavailable'
  | 'upstream_error'
  | 'stream_broken'
  | 'client_disconnected'
  | 'internal_error';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * The gateway's Prometheus metrics. The `model` label is a registry model id, a tier
 * (`tier:fast`), `litellm` or `unknown` — never the raw requested name — so its
 * cardinality is bounded by the registry.
 */
@Injectable()
export class GatewayMetrics {
  private readonly requests: Counter<'model' | 'endpoint' | 'status'>;
  private readonly errors: Counter<'model' | 'endpoint' | 'code'>;
  private readonly duration: Histogram<'model' | 'endpoint'>;
  private readonly ttfb: Histogram<'model' | 'endpoint'>;
  private readonly promptTokens: Counter<'model'>;
  private readonly completionTokens: Counter<'model'>;
  private readonly retries: Counter<'model'>;
  private readonly loadWait: Histogram;
  /** Requests in flight per model label, read by the gauge's collect(). */
  private readonly inFlight = new Map<string, number>();

  constructor(metrics: MetricsService) {
    this.requests = metrics.counter({
      name: 'magi_gateway_requests_total',
      help: 'Gateway requests by model, endpoint and answer status',
      labelNames: ['model', 'endpoint', 'status'],
    });
    this.errors = metrics.counter({
      name: 'magi_gateway_errors_total',
      help: 'Gateway requests that failed, by model, endpoint and code (upstream_error = an upstream 4xx/5xx passed through)',
      labelNames: ['model', 'endpoint', 'code'],
    });
    const inFlight = this.inFlight;
    metrics.gauge<'model'>({
      name: 'magi_gateway_requests_in_flight',
      help: 'Gateway requests being answered, by model',
      labelNames: ['model'],
      collect() {
        for (const [model, n] of inFlight) this.set({ model }, n);
      },
    });
    this.loadWait = metrics.histogram({
      name: 'magi_gateway_load_wait_seconds',
      help: 'Time gateway requests waited for the load of an on-demand model (queue and start)',
      buckets: BUCKETS,
    });
    this.duration = metrics.histogram({
      name: 'magi_gateway_request_duration_seconds',
      help: 'Gateway request duration (to the end of the answer), by model and endpoint',
      labelNames: ['model', 'endpoint'],
      buckets: BUCKETS,
    });
    this.ttfb = metrics.histogram({
      name: 'magi_gateway_upstream_first_byte_seconds',
      help: 'Time from sending a request upstream to its answer head, by model and endpoint',
      labelNames: ['model', 'endpoint'],
      buckets: BUCKETS,
    });
    this.promptTokens = metrics.counter({
      name: 'magi_gateway_prompt_tokens_total',
      help: 'Prompt tokens reported in answers’ usage, by model',
      labelNames: ['model'],
    });
    this.completionTokens = metrics.counter({
      name: 'magi_gateway_completion_tokens_total',
      help: 'Completion tokens reported in answers’ usage, by model',
      labelNames: ['model'],
    });
    this.retries = metrics.counter({
      name: 'magi_gateway_retries_total',
      help: 'Requests sent to a second server after the first could not be reached, by model of the first',
      labelNames: ['model'],
    });
  }

  /** A request waited this long for its on-demand model's load. */
  loadWaited(seconds: number): void {
    this.loadWait.observe(seconds);
  }

  started(model: string): void {
    this.inFlight.set(model, (this.inFlight.get(model) ?? 0) + 1);
  }

  ended(model: string): void {
    this.inFlight.set(model, (this.inFlight.get(model) ?? 1) - 1);
  }

  retried(model: string): void {
    this.retries.inc({ model });
  }

  firstByte(model: string, endpoint: GatewayEndpoint, ms: number): void {
    this.ttfb.observe({ model, endpoint }, ms / 1000);
  }

  /** One finished request: its status, duration, tokens and error code if any. */
  finished(
    model: string,
    endpoint: GatewayEndpoint,
    status: number,
    ms: number,
    usage: Usage | null,
    error: GatewayErrorCode | null,
  ): void {
    this.requests.inc({ model, endpoint, status: String(status) });
    this.duration.observe({ model, endpoint }, ms / 1000);
    if (error) this.errors.inc({ model, endpoint, code: error });
    if (usage?.promptTokens) this.promptTokens.inc({ model }, usage.promptTokens);
    if (usage?.completionTokens) this.completionTokens.inc({ model }, usage.completionTokens);
  }
}
