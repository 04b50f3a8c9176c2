import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import type { Logger as Pino } from 'pino';
import { ROOT_LOGGER } from '../common/logging/app-logger';
import { Subscription } from 'rxjs';
import { AppError, ValidationFailedError } from '../common/errors/app-error';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { MetricsService } from '../metrics/metrics.service';
import type { ActiveProfile, Profile } from '../profiles/profile.types';
import { ProfilesService } from '../profiles/profiles.service';
import { RegistryService } from '../registry/registry.service';
import { FleetService } from '../servers/fleet.service';
import { AccessLine, AccessLog } from './access-log';
import { ForwardRequest, ForwardResult, Forwarder, Usage } from './forwarder';
import { GatewayErrorCode, GatewayMetrics } from './gateway-metrics';
import { RequestBody, RequestBodyError, RequestBodyProblem, readRequestBody, withModel } from './request-body';
import {
  BalancingStrategy,
  Balancer,
  GatewayEndpoint,
  ModelNotRunningError,
  Route,
  RouteContext,
  RouteModel,
  RouteServer,
  Upstream,
  resolveRoute,
  upstreamKey,
} from './route';

const UPSTREAM_PATHS: Record<GatewayEndpoint, string> = {
  chat: '/v1/chat/completions',
  completions: '/v1/completions',
  embeddings: '/v1/embeddings',
};

/** Errors of a refused connection: trying the same server again is pointless. */
const REFUSED = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export class UpstreamUnavailableError extends AppError {
  constructor(model: string, reason: string) {
    super(
      'UpstreamUnavailable',
      502,
      `No server of '${model}' could be reached: ${reason}`,
      { model, reason },
      'upstream_unavailable',
    );
  }
}

export class QueueTimeoutError extends AppError {
  constructor(model: string, waitedSeconds: number, retryAfterSeconds: number) {
    super(
      'ModelStarting',
      503,
      `No server of '${model}' became ready within ${waitedSeconds} s; it is still starting`,
      { model, waitedSeconds },
      'model_not_ready',
      { 'Retry-After': String(retryAfterSeconds) },
    );
  }
}

/**
 * How long the fleet/registry view used for routing may be reused. It is rebuilt at once on
 * every fleet state change, registry change and profile change; the age limit only bounds
 * the effect of a missed event.
 */
const SNAPSHOT_MAX_AGE_MS = 1000;
/**
 * How often the active profile is asked for (each ask re-reads its file in the background,
 * so hand-edits are seen); activations and API edits arrive at once through activeChanged$.
 */
const PROFILE_RECHECK_MS = 1000;

/** The fleet and registry as routing sees them, rebuilt on change rather than per request. */
interface FleetSnapshot {
  servers: RouteServer[];
  models: Map<string, RouteModel>;
  embeddings: boolean;
  at: number;
  /**
   * Fleet routes with a ready server, per endpoint and requested name, resolved once per
   * snapshot: the route depends on nothing else, and the names are bounded (model ids,
   * aliases, tiers — a name that resolves to nothing is never kept).
   */
  routes: Record<GatewayEndpoint, Map<string, FleetRoute>>;
}

/** A ready server with what a request to it needs, built once per snapshot rather than per request. */
interface ReadyUpstream extends Upstream {
  origin: string;
  /** upstreamKey(): in-flight counting and retry exclusion. */
  key: string;
  /** X-Magi-Model and X-Magi-Upstream of its answers. */
  answerHeaders: Record<string, string>;
}

type FleetRoute = Omit<Extract<Route, { kind: 'fleet' }>, 'ready'> & { ready: ReadyUpstream[] };

/** Headers of every request sent upstream (undici only reads them). */
const UPSTREAM_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
});

/** The client went away while the request waited: nothing more to answer. */
class ClientGone extends Error {}

/** What one request did, for its metrics and its log line. */
interface Outcome {
  label: string;
  modelId: string | null;
  upstream: number | string | null;
  /** The model LiteLLM was asked for (X-Magi-Model of its answers). */
  servedAs?: string;
  status: number;
  usage: Usage | null;
  error: GatewayErrorCode | null;
  retried: boolean;
}

const BODY_ERRORS: Record<RequestBodyProblem, () => AppError> = {
  empty: () =>
    new ValidationFailedError('The request body must be a JSON object with a `model`', { body: ['is empty'] }),
  invalid_json: () => new AppError('ValidationFailed', 400, 'The request body is not valid JSON', {}, 'invalid_json'),
  not_an_object: () =>
    new ValidationFailedError('The request body must be a JSON object', { body: ['must be an object'] }),
  no_model: () =>
    new ValidationFailedError('You must provide a model parameter', { model: ['must be a non-empty string'] }),
};

function parseBody(raw: unknown): RequestBody {
  try {
    return readRequestBody(raw);
  } catch (e) {
    if (e instanceof RequestBodyError) throw BODY_ERRORS[e.problem]();
    throw e;
  }
}

function connectHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

function origin(host: string, port: number): string {
  return host.includes(':') ? `http://[${host}]:${port}` : `http://${host}:${port}`;
}

function readyUpstream(u: Upstream): ReadyUpstream {
  return {
    modelId: u.modelId,
    host: u.host,
    port: u.port,
    origin: origin(u.host, u.port),
    key: upstreamKey(u),
    answerHeaders: { 'X-Magi-Model': u.modelId, 'X-Magi-Upstream': String(u.port) },
  };
}

const noRoutes = (): FleetSnapshot['routes'] => ({ chat: new Map(), completions: new Map(), embeddings: new Map() });

function statusCodeOf(e: unknown): number {
  return e instanceof AppError ? e.status : 500;
}

function errorCodeOf(e: unknown): GatewayErrorCode {
  if (e instanceof QueueTimeoutError) return 'queue_timeout';
  if (e instanceof UpstreamUnavailableError) return 'upstream_unavailable';
  if (e instanceof AppError) {
    if (e.openAiCode === 'model_not_found') return 'model_not_found';
    if (e.openAiCode === 'model_not_running') return 'model_not_running';
    if (e.status < 500) return 'invalid_request';
  }
  return 'internal_error';
}

/**
 * The OpenAI-compatible gateway (API.md §8): reads `model` from the body bytes, routes by alias, model
 * id or tier with the active profile's strategy (route.ts), waits for starting servers,
 * forwards (forwarder.ts) with one retry on another server when the first cannot be
 * reached, falls back to LiteLLM, and records metrics and one log line per request.
 */
@Injectable()
export class GatewayService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(GatewayService.name);
  /**
   * The per-request line (access-log.ts), on a child of the root logger nestjs-pino
   * configured: same level and output, no Nest Logger layers on the hot path. Null without
   * nestjs-pino's LoggerModule; Nest's Logger is used then.
   */
  private accessLog: AccessLog | null = null;
  private readonly balancer = new Balancer();
  private readonly metrics: GatewayMetrics;
  /** Requests in flight per upstream (`host:port`), for `least_loaded`. */
  private readonly load = new Map<string, number>();
  private readonly liteLlm: { origin: string; basePath: string; apiKey: string | null } | null;
  private readonly queueTimeoutMs: number;
  private readonly retryAfterSeconds: number;
  private readonly fleetHost: string;
  private readonly subscriptions: Subscription[] = [];
  private active: ActiveProfile | null = null;
  private activeAt = 0;
  private snapshot: FleetSnapshot | null = null;

  constructor(
    private readonly fleet: FleetService,
    private readonly profiles: ProfilesService,
    private readonly registry: RegistryService,
    private readonly forwarder: Forwarder,
    @Inject(magiConfig.KEY) config: MagiConfig,
    metrics: MetricsService,
    @Inject(ROOT_LOGGER) private readonly rootLogger: Pino,
  ) {
    this.metrics = new GatewayMetrics(metrics);
    this.queueTimeoutMs = config.gateway.queueTimeout * 1000;
    this.retryAfterSeconds = Math.max(1, Math.min(30, Math.ceil(config.gateway.queueTimeout)));
    this.fleetHost = connectHost(config.fleet.host);
    if (config.litellm.baseUrl) {
      const url = new URL(config.litellm.baseUrl);
      this.liteLlm = { origin: url.origin, basePath: url.pathname.replace(/\/+$/, ''), apiKey: config.litellm.apiKey };
    } else {
      this.liteLlm = null;
    }
  }

  onModuleInit(): void {
    // Without redaction: the line has no header, key or token field, and the redaction
    // pass (which walks every key for `*.apiKey` and `*.token`) cost as much as the line.
    this.accessLog = new AccessLog(this.rootLogger.child({ context: GatewayService.name }, { redact: [] }));
    this.subscriptions.push(
      this.fleet.stateChanges$.subscribe(() => {
        this.snapshot = null;
        // Pools of servers that went away (stopped, crashed, moved port) are closed at once.
        this.dropStalePools();
      }),
      this.registry.changes$.subscribe(() => (this.snapshot = null)),
      this.profiles.activeChanged$.subscribe((change) => {
        this.active = { key: change.key, profile: change.profile };
        this.activeAt = performance.now();
        this.snapshot = null;
      }),
    );
  }

  onModuleDestroy(): void {
    for (const s of this.subscriptions) s.unsubscribe();
  }

  /**
   * Answers one gateway request: routes it, forwards it, streams the answer into `res`.
   * `rawBody` is the request body as received (bytes). Errors before the answer started
   * reject, for the caller's error writer.
   */
  handle(endpoint: GatewayEndpoint, res: ServerResponse, rawBody: unknown): Promise<void> {
    return new Promise((resolve, reject) =>
      this.serve(endpoint, res, rawBody, (e) => (e === undefined ? resolve() : reject(e))),
    );
  }

  /**
   * handle() with a callback, called once: with the error when the request failed before
   * its answer started. The common case — a ready server reached at the first try — runs
   * on callbacks alone: at a few thousand requests/s the promises and microtask turns of
   * an async chain were a measurable share of the gateway's CPU. Waiting for a server,
   * retrying and LiteLLM take the async paths.
   */
  serve(endpoint: GatewayEndpoint, res: ServerResponse, rawBody: unknown, done: (error?: unknown) => void): void {
    const t0 = performance.now();
    const outcome: Outcome = {
      label: 'unknown',
      modelId: null,
      upstream: null,
      status: 0,
      usage: null,
      error: null,
      retried: false,
    };
    let body: RequestBody | null = null;
    let finished = false;
    const finish = (e?: unknown): void => {
      if (finished) return;
      finished = true;
      if (e instanceof ClientGone) {
        outcome.status = 499;
        outcome.error = 'client_disconnected';
        e = undefined;
      } else if (e !== undefined) {
        outcome.status = statusCodeOf(e);
        outcome.error = errorCodeOf(e);
        // Our own error answers say which server was tried, when one was.
        if (outcome.upstream !== null && !res.headersSent) {
          res.setHeader('X-Magi-Model', outcome.servedAs ?? outcome.modelId ?? '');
          res.setHeader('X-Magi-Upstream', String(outcome.upstream));
        }
      }
      this.record(endpoint, performance.now() - t0, outcome, body);
      done(e);
    };
    try {
      body = parseBody(rawBody);
      const profile = this.activeProfile();
      const route = this.route(body.model, endpoint, profile);
      if (route.kind === 'litellm') {
        outcome.label = 'litellm';
        this.forwardToLiteLlm(endpoint, body, route.model, res, outcome).then(() => finish(), finish);
        return;
      }
      outcome.label = route.target.kind === 'model' ? route.target.modelId : route.key;
      // `loadBalancing.enabled: false`: no spreading, the first ready server (others only for a retry).
      const lb = profile?.loadBalancing;
      const strategy = lb?.enabled === false ? null : (lb?.strategy ?? 'round_robin');
      if (route.ready.length > 0) this.forwardToFleet(endpoint, body, route, strategy, res, outcome, finish);
      else {
        const waiting = body;
        this.waitForReady(body.model, endpoint, route, res)
          .then((ready) => this.forwardToFleet(endpoint, waiting, ready, strategy, res, outcome, finish))
          .catch(finish);
      }
    } catch (e) {
      finish(e);
    }
  }

  /** The request's metrics and its log line. */
  private record(endpoint: GatewayEndpoint, ms: number, outcome: Outcome, body: RequestBody | null): void {
    const model = outcome.modelId ?? outcome.label;
    this.metrics.finished(model, endpoint, outcome.status, ms, outcome.usage, outcome.error);
    const line: AccessLine = {
      endpoint,
      model: body === null ? null : body.model.slice(0, 200),
      modelId: outcome.modelId,
      upstream: outcome.upstream,
      status: outcome.status,
      durationMs: Math.round(ms * 10) / 10,
      stream: body?.stream ?? false,
      retried: outcome.retried,
      error: outcome.error,
    };
    const failed = outcome.status >= 500 || outcome.error === 'stream_broken';
    if (this.accessLog) this.accessLog.write(failed, line);
    else if (failed) this.logger.warn(line, 'Gateway request failed');
    else this.logger.log(line, 'Gateway request');
  }

  /** The active profile, asked of ProfilesService at most every PROFILE_RECHECK_MS. */
  private activeProfile(): Profile | null {
    const now = performance.now();
    if (!this.active || now - this.activeAt > PROFILE_RECHECK_MS) {
      const next = this.profiles.getActive();
      if (next !== this.active) this.snapshot = null;
      this.active = next;
      this.activeAt = now;
    }
    return this.active.profile;
  }

  private fleetSnapshot(profile: Profile | null): FleetSnapshot {
    const embeddings = profile?.server?.embeddings === true;
    const now = performance.now();
    const cached = this.snapshot;
    if (cached && cached.embeddings === embeddings && now - cached.at < SNAPSHOT_MAX_AGE_MS) return cached;
    const models = new Map<string, RouteModel>();
    for (const m of this.registry.list())
      models.set(m.modelId, { modelId: m.modelId, effectiveTier: m.effectiveTier, enabled: m.enabled });
    const hosts = new Map(this.fleet.readyServers().map((s) => [s.modelId, s] as const));
    const servers: RouteServer[] = [];
    for (const v of this.fleet.list()) {
      const ready = hosts.get(v.modelId);
      if (v.port === null && !ready) {
        if (v.state === 'starting' || v.state === 'restarting') {
          servers.push({ modelId: v.modelId, host: '', port: 0, state: v.state, embeddings });
        }
        continue;
      }
      servers.push({
        modelId: v.modelId,
        host: connectHost(ready?.host ?? this.fleetHost),
        port: ready?.port ?? v.port ?? 0,
        // `ready` in the view but not among readyServers (no longer wanted): not routable
        state: v.state === 'ready' && !ready ? 'stopping' : v.state,
        embeddings,
      });
    }
    this.snapshot = { servers, models, embeddings, at: now, routes: noRoutes() };
    return this.snapshot;
  }

  /** Where `model` goes (route.ts), fleet routes with a ready server taken from the snapshot's cache. */
  private route(
    model: string,
    endpoint: GatewayEndpoint,
    profile: Profile | null = this.activeProfile(),
  ): FleetRoute | (Route & { kind: 'litellm' }) {
    const snapshot = this.fleetSnapshot(profile);
    const cached = snapshot.routes[endpoint].get(model);
    if (cached) return cached;
    const route = resolveRoute(model, this.routeContext(endpoint, profile, snapshot));
    if (route.kind !== 'fleet') return route;
    const fleetRoute: FleetRoute = { ...route, ready: route.ready.map(readyUpstream) };
    if (fleetRoute.ready.length > 0) snapshot.routes[endpoint].set(model, fleetRoute);
    return fleetRoute;
  }

  private routeContext(endpoint: GatewayEndpoint, profile: Profile | null, snapshot: FleetSnapshot): RouteContext {
    return {
      endpoint,
      aliases: profile?.aliases ?? {},
      findModel: (id) => snapshot.models.get(id),
      servers: snapshot.servers,
      liteLlm: this.liteLlm !== null,
    };
  }

  /**
   * Sends to one of the route's ready servers by the strategy; one that cannot be reached
   * is routed around once (retryElsewhere). `finish` is called once, with the error when
   * the request failed before its answer started.
   */
  private forwardToFleet(
    endpoint: GatewayEndpoint,
    body: RequestBody,
    route: FleetRoute,
    strategy: BalancingStrategy | null,
    res: ServerResponse,
    outcome: Outcome,
    finish: (error?: unknown) => void,
  ): void {
    const upstream = this.pick(route, strategy, route.ready);
    this.send(endpoint, body, upstream, res, outcome, (result) => {
      if (result.outcome === 'unreachable') {
        this.retryElsewhere(endpoint, body, route, strategy, upstream, result, res, outcome).then(
          () => finish(),
          finish,
        );
        return;
      }
      try {
        this.settle(result, outcome);
      } catch (e) {
        return finish(e);
      }
      finish();
    });
  }

  /**
   * `upstream` could not be reached: the request is routed around once — to another
   * ready server of the same target, or, for a reset on a kept-alive socket of the only
   * server, to the same one. Then 502 if that fails too.
   */
  private async retryElsewhere(
    endpoint: GatewayEndpoint,
    body: RequestBody,
    route: FleetRoute,
    strategy: BalancingStrategy | null,
    upstream: ReadyUpstream,
    failed: ForwardResult & { outcome: 'unreachable' },
    res: ServerResponse,
    outcome: Outcome,
  ): Promise<void> {
    let result: ForwardResult = failed;
    const again = this.routeOrNull(body.model, endpoint);
    const others = again ? again.ready.filter((u) => u.key !== upstream.key) : [];
    const code = (failed.error as NodeJS.ErrnoException).code ?? '';
    const next = others.length > 0 ? this.pick(route, strategy, others) : REFUSED.has(code) ? null : upstream;
    this.logger.warn(
      {
        modelId: upstream.modelId,
        upstream: upstream.port,
        error: code || failed.error.message,
        retryOn: next?.port ?? null,
      },
      'Upstream could not be reached',
    );
    if (next) {
      this.metrics.retried(upstream.modelId);
      outcome.retried = true;
      result = await new Promise<ForwardResult>((r) => this.send(endpoint, body, next, res, outcome, r));
    }
    if (result.outcome === 'unreachable') {
      const reason = (result.error as NodeJS.ErrnoException).code ?? result.error.message;
      throw new UpstreamUnavailableError(outcome.modelId ?? body.model, reason);
    }
    this.settle(result, outcome);
  }

  private routeOrNull(model: string, endpoint: GatewayEndpoint): FleetRoute | null {
    try {
      const r = this.route(model, endpoint);
      return r.kind === 'fleet' ? r : null;
    } catch {
      return null;
    }
  }

  private pick(
    route: FleetRoute,
    strategy: BalancingStrategy | null,
    candidates: readonly ReadyUpstream[],
  ): ReadyUpstream {
    if (strategy === null) return candidates[0];
    return this.balancer.pick(route.key, strategy, candidates, this.loadOf);
  }

  private readonly loadOf = (u: ReadyUpstream): number => this.load.get(u.key) ?? 0;

  /** One attempt on one server, with its in-flight accounting; `done` is called once. */
  private send(
    endpoint: GatewayEndpoint,
    body: RequestBody,
    upstream: ReadyUpstream,
    res: ServerResponse,
    outcome: Outcome,
    done: (result: ForwardResult) => void,
  ): void {
    const { key, modelId } = upstream;
    outcome.modelId = modelId;
    outcome.upstream = upstream.port;
    this.load.set(key, (this.load.get(key) ?? 0) + 1);
    this.metrics.started(modelId);
    const request: ForwardRequest = {
      origin: upstream.origin,
      path: UPSTREAM_PATHS[endpoint],
      headers: UPSTREAM_HEADERS,
      body: withModel(body, modelId),
      answerHeaders: upstream.answerHeaders,
      // A real llama-server closes the connection after each stream (the stand-in does too, endStream):
      // reused at once, it would fail the next request or, retried on another such socket, 502.
      closeAfter: body.stream,
    };
    this.forwarder.forwardTo(request, res, (result) => {
      const n = (this.load.get(key) ?? 1) - 1;
      if (n > 0) this.load.set(key, n);
      else this.load.delete(key);
      this.metrics.ended(modelId);
      // ttfb is only known for answers that completed
      if (result.outcome === 'completed') this.metrics.firstByte(modelId, endpoint, result.ttfbMs);
      done(result);
    });
  }

  private settle(result: ForwardResult, outcome: Outcome): void {
    switch (result.outcome) {
      case 'completed':
        outcome.status = result.status;
        outcome.usage = result.usage;
        if (result.status >= 400) outcome.error = 'upstream_error';
        return;
      case 'broken':
        outcome.status = result.status;
        outcome.error = 'stream_broken';
        return;
      case 'client-gone':
        throw new ClientGone();
      case 'unreachable':
        throw new UpstreamUnavailableError(outcome.modelId ?? 'unknown', result.error.message);
    }
  }

  private async forwardToLiteLlm(
    endpoint: GatewayEndpoint,
    body: RequestBody,
    model: string,
    res: ServerResponse,
    outcome: Outcome,
  ): Promise<void> {
    const lite = this.liteLlm!;
    const headers: Record<string, string> = { ...UPSTREAM_HEADERS };
    if (lite.apiKey) headers.authorization = `Bearer ${lite.apiKey}`;
    outcome.upstream = 'litellm';
    outcome.servedAs = model;
    const result = await this.forwarder.forward(
      {
        origin: lite.origin,
        path: `${lite.basePath}${UPSTREAM_PATHS[endpoint]}`,
        headers,
        body: withModel(body, model),
        answerHeaders: { 'X-Magi-Model': model, 'X-Magi-Upstream': 'litellm' },
      },
      res,
    );
    if (result.outcome === 'unreachable') {
      const reason = (result.error as NodeJS.ErrnoException).code ?? result.error.message;
      throw new UpstreamUnavailableError('litellm', reason);
    }
    this.settle(result, outcome);
  }

  /**
   * Waits until a server of the route's target is ready (re-resolving on every fleet
   * change, so a profile switch or a failure is seen at once), for at most
   * GATEWAY_QUEUE_TIMEOUT; then 503 with Retry-After. A client that leaves ends the wait.
   */
  private waitForReady(
    model: string,
    endpoint: GatewayEndpoint,
    route: FleetRoute,
    res: ServerResponse,
  ): Promise<FleetRoute> {
    const name = route.target.kind === 'model' ? route.target.modelId : route.target.tier;
    return new Promise((resolve, reject) => {
      let done = false;
      // Set below, after the callbacks that clear them are defined.
      const handles: { timer?: NodeJS.Timeout; poll?: NodeJS.Timeout; sub?: Subscription } = {};
      const finish = (fn: () => void): void => {
        if (done) return;
        done = true;
        clearTimeout(handles.timer);
        clearInterval(handles.poll);
        handles.sub?.unsubscribe();
        res.off('close', onClose);
        fn();
      };
      const check = (): void => {
        if (done) return;
        try {
          const r = this.route(model, endpoint);
          if (r.kind !== 'fleet')
            return finish(() => reject(new ModelNotRunningError(name, 'the active profile changed')));
          if (r.ready.length > 0) return finish(() => resolve(r));
          if (r.pending === 0)
            finish(() => reject(new ModelNotRunningError(name, 'no server of it is starting any more')));
        } catch (e) {
          finish(() => reject(e));
        }
      };
      const onClose = (): void => finish(() => reject(new ClientGone()));
      if (res.destroyed) return onClose();
      res.on('close', onClose);
      handles.timer = setTimeout(
        () => finish(() => reject(new QueueTimeoutError(name, this.queueTimeoutMs / 1000, this.retryAfterSeconds))),
        this.queueTimeoutMs,
      );
      // State changes drive the wait; the slow poll only guards against a missed event.
      handles.poll = setInterval(check, 1000);
      handles.sub = this.fleet.stateChanges$.subscribe(() => check());
      if (done) handles.sub.unsubscribe();
      check();
    });
  }

  /** Closes the pools of servers that are no longer ready (stopped, crashed, moved port). */
  private dropStalePools(): void {
    const keep = new Set<string>();
    for (const s of this.fleet.readyServers()) keep.add(origin(connectHost(s.host), s.port));
    if (this.liteLlm) keep.add(this.liteLlm.origin);
    this.forwarder.retain(keep);
  }
}
