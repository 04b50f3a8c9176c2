import { Inject, Injectable } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import type { Logger as Pino } from 'pino';
import { AppError } from '../common/errors/app-error';
import { ROOT_LOGGER } from '../common/logging/app-logger';
import { FleetService } from '../servers/fleet.service';
import type { LoadTicket } from '../servers/load-scheduler';
import { GatewayMetrics } from './gateway-metrics';
import { ClientGoneError, LoadTimeoutError, bodyError } from './gateway.errors';
import { ReadyWaiter } from './ready-waiter';
import { RequestBody, RequestBodyError, readRequestBody } from './request-body';
import { RequestRecord, errorCodeOf, newRequestRecord } from './request-record';
import { GatewayEndpoint } from './route';
import { FleetRoute, RouteTable } from './route-table';
import { Sender } from './sender';

/**
 * The OpenAI-compatible gateway (API.md §8), one request at a time: read `model` from the
 * body, route it (RouteTable), ask the fleet for the load of an on-demand model and wait for
 * it, or for a starting server (ReadyWaiter), send it (Sender), then record its metrics and
 * its one log line. The request holds its load ticket until its answer ends, so the server
 * it waited for is neither cancelled nor evicted before it is served.
 */
@Injectable()
export class GatewayService {
  private readonly accessLog: Pino;

  constructor(
    private readonly routes: RouteTable,
    private readonly waiter: ReadyWaiter,
    private readonly sender: Sender,
    private readonly metrics: GatewayMetrics,
    private readonly fleet: FleetService,
    @Inject(ROOT_LOGGER) root: Pino,
  ) {
    // Its lines carry no header, key or token, so they skip the root's redaction pass.
    this.accessLog = root.child({ context: GatewayService.name }, { redact: [] });
  }

  /**
   * Answers one gateway request into `res` (the body is the bytes received). Rejects with
   * the error to answer when the request failed before its answer started; a client that
   * left is not an error.
   */
  async proxy(endpoint: GatewayEndpoint, rawBody: unknown, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    const record = newRequestRecord();
    let body: RequestBody | null = null;
    let ticket: LoadTicket | null = null;
    let keepLoading = false;
    try {
      body = parse(rawBody);
      const route = this.routes.resolve(body.model, endpoint);
      if (route.kind === 'litellm') {
        record.label = 'litellm';
        return await this.sender.toLiteLlm(endpoint, body, route.model, res, record);
      }
      record.label = route.key;
      const model = body.model;
      if (route.ready.length === 0 && route.load !== null) ticket = this.fleet.loadFor(route.load);
      const waitStart = performance.now();
      const ready = route.ready.length > 0 ? route : await this.waitForReady(model, endpoint, route, res, ticket);
      if (ticket) this.metrics.loadWaited((performance.now() - waitStart) / 1000);
      await this.sender.toFleet(endpoint, body, ready, res, record, () => this.fleetRouteOrNull(model, endpoint));
    } catch (e) {
      if (e instanceof ClientGoneError) {
        record.status = 499;
        record.error = 'client_disconnected';
        return;
      }
      // Told to come back (Retry-After) while its model still loads: the load goes on for it.
      keepLoading = e instanceof LoadTimeoutError;
      record.status = e instanceof AppError ? e.status : 500;
      record.error = errorCodeOf(e);
      // Our own error answers say which server was tried, when one was.
      if (record.upstream !== null && !res.headersSent) {
        res.setHeader('X-Magi-Model', record.servedAs ?? record.modelId ?? '');
        res.setHeader('X-Magi-Upstream', String(record.upstream));
      }
      throw e;
    } finally {
      ticket?.release(keepLoading);
      this.finished(endpoint, performance.now() - t0, record, body);
    }
  }

  private waitForReady(
    model: string,
    endpoint: GatewayEndpoint,
    route: FleetRoute,
    res: ServerResponse,
    ticket: LoadTicket | null,
  ) {
    const name = route.target.kind === 'model' ? route.target.modelId : route.target.tier;
    const gone = new AbortController();
    const onClose = (): void => gone.abort();
    if (res.destroyed) gone.abort();
    else res.once('close', onClose);
    return this.waiter
      .waitForReady(name, () => this.routes.resolve(model, endpoint), this.routes.changes$, gone.signal, ticket)
      .finally(() => res.off('close', onClose));
  }

  private fleetRouteOrNull(model: string, endpoint: GatewayEndpoint) {
    try {
      const r = this.routes.resolve(model, endpoint);
      return r.kind === 'fleet' ? r : null;
    } catch {
      return null;
    }
  }

  /** The request's metrics and its log line. */
  private finished(endpoint: GatewayEndpoint, ms: number, record: RequestRecord, body: RequestBody | null): void {
    this.metrics.finished(record.modelId ?? record.label, endpoint, record.status, ms, record.usage, record.error);
    const failed = record.status >= 500 || record.error === 'stream_broken';
    const line = {
      endpoint,
      model: body === null ? null : body.model.slice(0, 200),
      modelId: record.modelId,
      upstream: record.upstream,
      status: record.status,
      durationMs: Math.round(ms * 10) / 10,
      stream: body?.stream ?? false,
      retried: record.retried,
      ...(record.error ? { error: record.error } : {}),
    };
    if (failed) this.accessLog.warn(line, 'Gateway request failed');
    else this.accessLog.info(line, 'Gateway request');
  }
}

function parse(raw: unknown): RequestBody {
  try {
    return readRequestBody(raw);
  } catch (e) {
    if (e instanceof RequestBodyError) throw bodyError(e.problem);
    throw e;
  }
}
