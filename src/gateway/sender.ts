import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { httpOrigin } from '../common/net/host';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { FleetUsage } from '../servers/fleet-usage';
import { ForwardResult, Forwarder } from './forwarder';
import { GatewayMetrics } from './gateway-metrics';
import { GATEWAY_PATHS } from './gateway-paths';
import { ClientGoneError, UpstreamUnavailableError } from './gateway.errors';
import { RequestBody, withModel } from './request-body';
import { RequestRecord } from './request-record';
import { Balancer, GatewayEndpoint, Upstream, upstreamKey } from './route';
import { FleetRoute } from './route-table';

/** Headers of every request sent upstream. */
const UPSTREAM_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
});

/** Errors of a refused connection: trying the same server again is pointless. */
const REFUSED = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

const codeOf = (e: Error): string => (e as NodeJS.ErrnoException).code ?? '';

/**
 * Sends a routed request upstream and streams the answer back: picks a ready server by the
 * route's strategy, counts requests in flight per server (for `least_loaded`), retries once
 * elsewhere when the first server cannot be reached (API.md §8), or sends to LiteLLM.
 * Throws the AppError to answer when the request failed before its answer started.
 */
@Injectable()
export class Sender {
  private readonly logger = new Logger(Sender.name);
  private readonly balancer = new Balancer();
  /** Requests in flight per upstream (upstreamKey). */
  private readonly inFlight = new Map<string, number>();
  private readonly liteLlm: { origin: string; basePath: string; apiKey: string | null } | null;

  constructor(
    private readonly forwarder: Forwarder,
    private readonly metrics: GatewayMetrics,
    private readonly fleet: FleetUsage,
    @Inject(magiConfig.KEY) config: MagiConfig,
  ) {
    const base = config.litellm.baseUrl;
    if (base) {
      const url = new URL(base);
      this.liteLlm = { origin: url.origin, basePath: url.pathname.replace(/\/+$/, ''), apiKey: config.litellm.apiKey };
    } else {
      this.liteLlm = null;
    }
  }

  /** Sends to one of the route's ready servers; one that cannot be reached is routed around once. */
  async toFleet(
    endpoint: GatewayEndpoint,
    body: RequestBody,
    route: FleetRoute,
    res: ServerResponse,
    record: RequestRecord,
    again: () => FleetRoute | null,
  ): Promise<void> {
    const first = this.pick(route, route.ready);
    let result = await this.send(endpoint, body, first, res, record);
    if (result.kind === 'unreachable') {
      // Another ready server of the same target; for a reset on a kept-alive socket of the
      // only server, the same one again. Then 502 if that fails too.
      const others = (again()?.ready ?? []).filter((u) => upstreamKey(u) !== upstreamKey(first));
      const code = codeOf(result.error);
      const next = others.length > 0 ? this.pick(route, others) : REFUSED.has(code) ? null : first;
      this.logger.warn(
        {
          modelId: first.modelId,
          upstream: first.port,
          error: code || result.error.message,
          retryOn: next?.port ?? null,
        },
        'Upstream could not be reached',
      );
      if (next) {
        this.metrics.retried(first.modelId);
        record.retried = true;
        result = await this.send(endpoint, body, next, res, record);
      }
    }
    settle(result, record, record.modelId ?? body.model);
  }

  /** Sends to LiteLLM (LITELLM_BASE_URL) as `model`, with its key instead of the client's token. */
  async toLiteLlm(
    endpoint: GatewayEndpoint,
    body: RequestBody,
    model: string,
    res: ServerResponse,
    record: RequestRecord,
  ): Promise<void> {
    const lite = this.liteLlm!;
    const headers: Record<string, string> = { ...UPSTREAM_HEADERS };
    if (lite.apiKey) headers.authorization = `Bearer ${lite.apiKey}`;
    record.upstream = 'litellm';
    record.servedAs = model;
    const result = await this.forwarder.forward(
      {
        origin: lite.origin,
        path: `${lite.basePath}${GATEWAY_PATHS[endpoint]}`,
        headers,
        body: withModel(body, model),
        answerHeaders: { 'X-Magi-Model': model, 'X-Magi-Upstream': 'litellm' },
      },
      res,
    );
    settle(result, record, 'litellm');
  }

  private pick(route: FleetRoute, candidates: readonly Upstream[]): Upstream {
    if (route.strategy === null) return candidates[0];
    return this.balancer.pick(route.key, route.strategy, candidates, (u) => this.inFlight.get(upstreamKey(u)) ?? 0);
  }

  /** One attempt on one server, with its in-flight accounting. */
  private async send(
    endpoint: GatewayEndpoint,
    body: RequestBody,
    upstream: Upstream,
    res: ServerResponse,
    record: RequestRecord,
  ): Promise<ForwardResult> {
    const { modelId, port } = upstream;
    const key = upstreamKey(upstream);
    record.modelId = modelId;
    record.upstream = port;
    this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
    this.metrics.started(modelId);
    // The fleet's own count: a server with a request in flight is never evicted or idle.
    this.fleet.requestStarted(modelId);
    try {
      const result = await this.forwarder.forward(
        {
          origin: httpOrigin(upstream.host, port),
          path: GATEWAY_PATHS[endpoint],
          headers: UPSTREAM_HEADERS,
          body: withModel(body, modelId),
          answerHeaders: { 'X-Magi-Model': modelId, 'X-Magi-Upstream': String(port) },
          // llama-server closes the connection after each stream although it announced
          // keep-alive: reused at once, the socket would fail the next request.
          closeAfter: body.stream,
        },
        res,
      );
      if (result.kind === 'completed') this.metrics.firstByte(modelId, endpoint, result.ttfbMs);
      return result;
    } finally {
      const n = (this.inFlight.get(key) ?? 1) - 1;
      if (n > 0) this.inFlight.set(key, n);
      else this.inFlight.delete(key);
      this.metrics.ended(modelId);
      this.fleet.requestEnded(modelId);
    }
  }
}

/** Writes a forward's result into the record; throws for the results that are failures. */
function settle(result: ForwardResult, record: RequestRecord, target: string): void {
  switch (result.kind) {
    case 'completed':
      record.status = result.status;
      record.usage = result.usage;
      if (result.status >= 400) record.error = 'upstream_error';
      return;
    case 'broken':
      record.status = result.status;
      record.error = 'stream_broken';
      return;
    case 'client-gone':
      throw new ClientGoneError();
    case 'unreachable':
      throw new UpstreamUnavailableError(target, codeOf(result.error) || result.error.message);
  }
}
