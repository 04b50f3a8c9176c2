import { HotCounter, HotCounterSeries, HotHistogram, HotHistogramSeries } from '../metrics/hot-metrics';
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

interface EndpointSeries {
  duration: HotHistogramSeries;
  ttfb: HotHistogramSeries;
  byStatus: Map<number, HotCounterSeries>;
  errors: Map<GatewayErrorCode, HotCounterSeries>;
}

interface ModelSeries {
  prompt: HotCounterSeries;
  completion: HotCounterSeries;
  retries: HotCounterSeries;
  endpoints: Map<GatewayEndpoint, EndpointSeries>;
}

/**
 * The gateway's Prometheus metrics. The `model` label is a registry model id, a tier
 * (`tier:fast`), `litellm` or `unknown` — never the raw requested name — so its
 * cardinality is bounded by the registry.
 *
 * Recorded on every request, so they are hot-path metrics (see hot-metrics.ts): each
 * series is resolved once per label set and kept here; recording is a plain add.
 */
export class GatewayMetrics {
  private readonly requests: HotCounter<'model' | 'endpoint' | 'status'>;
  private readonly errors: HotCounter<'model' | 'endpoint' | 'code'>;
  private readonly duration: HotHistogram<'model' | 'endpoint'>;
  private readonly ttfb: HotHistogram<'model' | 'endpoint'>;
  private readonly promptTokens: HotCounter<'model'>;
  private readonly completionTokens: HotCounter<'model'>;
  private readonly retries: HotCounter<'model'>;
  /** Requests in flight per model label, read by the gauge's collect(). */
  private readonly inFlightCounts = new Map<string, number>();
  private readonly perModel = new Map<string, ModelSeries>();

  constructor(metrics: MetricsService) {
    const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
    this.requests = metrics.hotCounter({
      name: 'magi_gateway_requests_total',
      help: 'Gateway requests by model, endpoint and answer status',
      labelNames: ['model', 'endpoint', 'status'],
    });
    this.errors = metrics.hotCounter({
      name: 'magi_gateway_errors_total',
      help: 'Gateway requests that failed, by model, endpoint and code (upstream_error = an upstream 4xx/5xx passed through)',
      labelNames: ['model', 'endpoint', 'code'],
    });
    const inFlight = this.inFlightCounts;
    metrics.gauge<'model'>({
      name: 'magi_gateway_requests_in_flight',
      help: 'Gateway requests being answered, by model',
      labelNames: ['model'],
      collect() {
        for (const [model, n] of inFlight) this.set({ model }, n);
      },
    });
    this.duration = metrics.hotHistogram({
      name: 'magi_gateway_request_duration_seconds',
      help: 'Gateway request duration (to the end of the answer), by model and endpoint',
      labelNames: ['model', 'endpoint'],
      buckets,
    });
    this.ttfb = metrics.hotHistogram({
      name: 'magi_gateway_upstream_first_byte_seconds',
      help: 'Time from sending a request upstream to its answer head, by model and endpoint',
      labelNames: ['model', 'endpoint'],
      buckets,
    });
    this.promptTokens = metrics.hotCounter({
      name: 'magi_gateway_prompt_tokens_total',
      help: 'Prompt tokens reported in answers’ usage, by model',
      labelNames: ['model'],
    });
    this.completionTokens = metrics.hotCounter({
      name: 'magi_gateway_completion_tokens_total',
      help: 'Completion tokens reported in answers’ usage, by model',
      labelNames: ['model'],
    });
    this.retries = metrics.hotCounter({
      name: 'magi_gateway_retries_total',
      help: 'Requests sent to a second server after the first could not be reached, by model of the first',
      labelNames: ['model'],
    });
  }

  /**
   * The series of one model label, resolved once. Nested maps keyed by the label values
   * themselves: a joined key string would be built and hashed on every request.
   */
  private model(model: string): ModelSeries {
    let m = this.perModel.get(model);
    if (!m) {
      m = {
        prompt: this.promptTokens.series({ model }),
        completion: this.completionTokens.series({ model }),
        retries: this.retries.series({ model }),
        endpoints: new Map(),
      };
      this.perModel.set(model, m);
    }
    return m;
  }

  private endpoint(model: string, endpoint: GatewayEndpoint): EndpointSeries {
    const m = this.model(model);
    let e = m.endpoints.get(endpoint);
    if (!e) {
      e = {
        duration: this.duration.series({ model, endpoint }),
        ttfb: this.ttfb.series({ model, endpoint }),
        byStatus: new Map(),
        errors: new Map(),
      };
      m.endpoints.set(endpoint, e);
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
    this.model(model).retries.inc();
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
    const e = this.endpoint(model, endpoint);
    let requests = e.byStatus.get(status);
    if (!requests)
      e.byStatus.set(status, (requests = this.requests.series({ model, endpoint, status: String(status) })));
    requests.inc();
    e.duration.observe(ms / 1000);
    if (error) {
      let errors = e.errors.get(error);
      if (!errors) e.errors.set(error, (errors = this.errors.series({ model, endpoint, code: error })));
      errors.inc();
    }
    if (usage) {
      const m = this.model(model);
      if (usage.promptTokens > 0) m.prompt.inc(usage.promptTokens);
      if (usage.completionTokens > 0) m.completion.inc(usage.completionTokens);
    }
  }
}
