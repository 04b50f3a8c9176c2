import { Counter, Gauge, Histogram } from 'prom-client';
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
  private readonly requests: Counter<'model' | 'endpoint' | 'status'>;
  private readonly errors: Counter<'model' | 'endpoint' | 'code'>;
  private readonly inFlight: Gauge<'model'>;
  private readonly duration: Histogram<'model' | 'endpoint'>;
  private readonly ttfb: Histogram<'model' | 'endpoint'>;
  private readonly promptTokens: Counter<'model'>;
  private readonly completionTokens: Counter<'model'>;
  private readonly retries: Counter<'model'>;
  /** Label-bound children per model/endpoint/status, so the hot path skips label hashing. */
  private readonly perModel = new Map<string, { inFlight: Gauge.Internal<'model'>; prompt: Counter.Internal; completion: Counter.Internal }>();
  private readonly perEndpoint = new Map<string, { duration: Histogram.Internal<'model' | 'endpoint'>; ttfb: Histogram.Internal<'model' | 'endpoint'> }>();
  private readonly perStatus = new Map<string, Counter.Internal>();

  constructor(metrics: MetricsService) {
    const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
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
    this.inFlight = metrics.gauge({
      name: 'magi_gateway_requests_in_flight',
      help: 'Gateway requests being answered, by model',
      labelNames: ['model'],
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
        inFlight: this.inFlight.labels({ model }),
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
    this.model(model).inFlight.inc();
  }

  ended(model: string): void {
    this.model(model).inFlight.dec();
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
    let requests = this.perStatus.get(key);
    if (!requests) {
      requests = this.requests.labels({ model, endpoint, status: String(status) });
      this.perStatus.set(key, requests);
    }
    requests.inc();
    this.endpoint(model, endpoint).duration.observe(ms / 1000);
    if (error) this.errors.inc({ model, endpoint, code: error });
    if (usage) {
      const m = this.model(model);
      if (usage.promptTokens > 0) m.prompt.inc(usage.promptTokens);
      if (usage.completionTokens > 0) m.completion.inc(usage.completionTokens);
    }
  }
}
