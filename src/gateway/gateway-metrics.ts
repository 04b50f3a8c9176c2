import { Counter, Histogram } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service';
import type { GatewayEndpoint } from './route';
import type { Usage } from './forwarder';

/** Error codes counted by `magi_gateway_errors_total` (a closed set, so labels stay bounded). */
export type GatewayErrorCode =
  | 'invalid_request'
  | 'model_not_found'
  | 'model_not_running'
  | 'queue_timeout'
  | 'upstream_unavailable'
  | 'upstream_error'
  | 'stream_broken'
  | 'client_disconnected'
  | 'internal_error';

/**
 * The gateway's Prometheus metrics. The `model` label is a registry model id, a tier
 * (`tier:fast`), `litellm` or `unknown` — never the raw requested name — so its
 * cardinality is bounded by the registry.
 */
export class GatewayMetrics {
  private readonly errors: Counter<'model' | 'endpoint' | 'code'>;
  private readonly duration: Histogram<'model' | 'endpoint'>;
  private readonly ttfb: Histogram<'model' | 'endpoint'>;
  private readonly promptTokens: Counter<'model'>;
  private readonly completionTokens: Counter<'model'>;
  private readonly retries: Counter<'model'>;
  /** Requests in flight per model label, read by the gauge's collect(). */
  private readonly inFlightCounts = new Map<string, number>();
  /** Requests finished per series since the last scrape, added to the counter by its collect(). */
  private readonly pendingRequests = new Map<string, { labels: { model: string; endpoint: string; status: string }; n: number }>();
  /** Label-bound children per model/endpoint, so the hot path skips building label objects. */
  private readonly perModel = new Map<string, { prompt: Counter.Internal; completion: Counter.Internal }>();
  private readonly perEndpoint = new Map<string, { duration: Histogram.Internal<'model' | 'endpoint'>; ttfb: Histogram.Internal<'model' | 'endpoint'> }>();

  constructor(metrics: MetricsService) {
    const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
    // Counted in plain numbers per series and added to the counter at scrape time.
    const pending = this.pendingRequests;
    metrics.counter<'model' | 'endpoint' | 'status'>({
      name: 'magi_gateway_requests_total',
      help: 'Gateway requests by model, endpoint and answer status',
      labelNames: ['model', 'endpoint', 'status'],
      collect() {
        for (const series of pending.values()) {
          if (series.n === 0) continue;
          this.inc(series.labels, series.n);
          series.n = 0;
        }
      },
    });
    this.errors = metrics.counter({
      name: 'magi_gateway_errors_total',
      help: 'Gateway requests that failed, by model, endpoint and code (upstream_error = an upstream 4xx/5xx passed through)',
      labelNames: ['model', 'endpoint', 'code'],
    });
    // Read at scrape time from plain counts: two prom-client calls per request saved.
    const inFlight = this.inFlightCounts;
    metrics.gauge<'model'>({
      name: 'magi_gateway_requests_in_flight',
      help: 'Gateway requests being answered, by model',
      labelNames: ['model'],
      collect() {
        for (const [model, n] of inFlight) this.set({ model }, n);
      },
    });
    this.duration = metrics.histogram({
      name: 'magi_gateway_request_duration_seconds',
      help: 'Gateway request duration (to the end of the answer), by model and endpoint',
      labelNames: ['model', 'endpoint'],
      buckets,
    });
    this.ttfb = metrics.histogram({
      name: 'magi_gateway_upstream_first_byte_seconds',
      help: 'Time from sending a request upstream to its answer head, by model and endpoint',
      labelNames: ['model', 'endpoint'],
      buckets,
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

  private model(model: string) {
    let m = this.perModel.get(model);
    if (!m) {
      m = {
        prompt: this.promptTokens.labels({ model }),
        completion: this.completionTokens.labels({ model }),
      };
      this.perModel.set(model, m);
    }
    return m;
  }

  private endpoint(model: string, endpoint: GatewayEndpoint) {
    const key = `${model}\0${endpoint}`;
    let e = this.perEndpoint.get(key);
    if (!e) {
      e = { duration: this.duration.labels({ model, endpoint }), ttfb: this.ttfb.labels({ model, endpoint }) };
      this.perEndpoint.set(key, e);
    }
    return e;
  }

  started(model: string): void {
    this.inFlightCounts.set(model, (this.inFlightCounts.get(model) ?? 0) + 1);
  }

  ended(model: string): void {
    this.inFlightCounts.set(model, (this.inFlightCounts.get(model) ?? 1) - 1);
  }

  retried(model: string): void {
    this.retries.inc({ model });
  }

  firstByte(model: string, endpoint: GatewayEndpoint, ms: number): void {
    this.endpoint(model, endpoint).ttfb.observe(ms / 1000);
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
    const key = `${model}\0${endpoint}\0${status}`;
    const series = this.pendingRequests.get(key);
    if (series) series.n++;
    else this.pendingRequests.set(key, { labels: { model, endpoint, status: String(status) }, n: 1 });
    this.endpoint(model, endpoint).duration.observe(ms / 1000);
    if (error) this.errors.inc({ model, endpoint, code: error });
    if (usage) {
      const m = this.model(model);
      if (usage.promptTokens > 0) m.prompt.inc(usage.promptTokens);
      if (usage.completionTokens > 0) m.completion.inc(usage.completionTokens);
    }
  }
}
