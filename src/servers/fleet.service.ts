/** The llama-server fleet: which servers the active profile wants, their supervisors, the scheduler around them, and the views other modules read. */
import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { EventEmitter2, OnEvent } from '@nestjs/event-emitter';
import { Observable, Subject, Subscription } from 'rxjs';
import { Clock } from '../common/io/clock';
import { FileStore } from '../common/io/file-store';
import { HttpClient } from '../common/io/http-client';
import { PortProbe } from '../common/io/port-probe';
import { ProcessLauncher } from '../common/io/process-launcher';
import { ProcessMemory } from '../common/io/process-memory';
import type { StartMode } from '../common/vocabulary/server-states';
import { FleetConfig, MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { ProfileActivatedEvent, ProfileEvents } from '../profiles/profile.events';
import type { ProfileServerSettings } from '../common/vocabulary/server-settings';
import type { ActivationSummary, Profile } from '../profiles/profile.types';
import { DEFAULT_IDLE_TIMEOUT_SECONDS, missingModels, onDemandModels, profileOrder } from '../profiles/profile.types';
import { ProfilesService } from '../profiles/profiles.service';
import { ModelEnabledChangedEvent, RegistryEvents } from '../registry/registry.events';
import type { DiscoveredModel } from '../registry/registry.service';
import { RegistryService } from '../registry/registry.service';
import type {
  FleetModel,
  FleetServer,
  NotReadyServer,
  ReadyServer,
  ServerPlan,
  ServerStateChange,
  ServerView,
} from './fleet.types';
import type { FleetUsage } from './fleet-usage';
import { FleetBudget } from './fleet-budget';
import { HelpFlagsCache } from './help-flags-cache';
import { PortAllocator } from './port-allocator';
import { FleetPolicy, LoadEvent, LoadScheduler, LoadTicket, SchedulingHost } from './load-scheduler';
import type { MemoryView } from './scheduler';
import { AT_REST } from './server-state';
import { ServerNotFoundError } from './server.error';
import { ServerSupervisor, SupervisorDeps } from './server-supervisor';

/** How often idle on-demand servers are looked for (and the queue tried again). */
const TICK_MS = 250;
/** Running servers' memory is measured every this many ticks. */
const MEASURE_EVERY_TICKS = 8;

/** The fleet's readiness, for `/health/ready`. */
export interface FleetReadiness {
  /** Servers the active profile wants that are ready. */
  readyServers: number;
  /** Servers the active profile wants. */
  totalServers: number;
  notReady: NotReadyServer[];
  /** Literal `enabledModels` entries the registry does not know. */
  missingModels: string[];
  shuttingDown: boolean;
}

const NO_CHANGE: ActivationSummary = { started: [], stopped: [], kept: [] };

/** What `POST /api/models/servers/{id}/load|unload` answer. */
export interface LoadAnswer {
  modelId: string;
  state: ServerView['state'];
  /** True when it was already ready (200), false when the load was launched or queued (202). */
  alreadyReady: boolean;
}

/**
 * The llama-server fleet: one ServerSupervisor per model the active profile wants
 * (`enabledModels`, ids or globs, among registry models with `enabled: true`), reconciled
 * at bootstrap, on profile activation (ProfileEvents.Activated), on `PUT …/enabled`
 * (RegistryEvents.ModelEnabledChanged) and on registry changes. One reconcile runs at a
 * time and a burst of requests collapses into one more run; servers that stay wanted are
 * never touched. Each port a supervisor takes is announced (FleetEvents.ServerPortAssigned)
 * for the registry to remember. On shutdown every process group is stopped.
 */
@Injectable()
export class FleetService implements OnApplicationBootstrap, BeforeApplicationShutdown, SchedulingHost, FleetUsage {
  private readonly logger = new Logger(FleetService.name);
  private readonly changes = new Subject<ServerStateChange>();
  private readonly supervisors = new Map<string, ServerSupervisor>();
  private readonly config: FleetConfig;
  private readonly ports: PortAllocator;
  private readonly help: HelpFlagsCache;
  private readonly deps: SupervisorDeps;
  /** The servers the active profile wants, in its order. */
  private wanted = new Set<string>();
  private startModes = new Map<string, StartMode>();
  private profile: Profile | null = null;
  private readonly scheduler: LoadScheduler;
  private tick: NodeJS.Timeout | null = null;
  private ticks = 0;
  private missing: string[] = [];
  private settings: ProfileServerSettings | null = null;
  private running: Promise<ActivationSummary> | null = null;
  private queued: Promise<ActivationSummary> | null = null;
  private retryFailedQueued = false;
  private shuttingDown = false;
  private readonly subscriptions: Subscription[] = [];

  constructor(
    private readonly registry: RegistryService,
    private readonly profiles: ProfilesService,
    launcher: ProcessLauncher,
    http: HttpClient,
    clock: Clock,
    files: FileStore,
    portProbe: PortProbe,
    events: EventEmitter2,
    private readonly processMemory: ProcessMemory,
    private readonly budget: FleetBudget,
    @Inject(magiConfig.KEY) config: MagiConfig,
  ) {
    this.config = config.fleet;
    this.scheduler = new LoadScheduler(this, () => clock.now());
    this.ports = new PortAllocator(this.config.portRange, this.config.host, portProbe);
    this.help = new HelpFlagsCache(launcher);
    this.deps = {
      launcher,
      http,
      clock,
      files,
      ports: this.ports,
      help: this.help,
      config: this.config,
      settings: () => this.settings,
      onStateChange: (change) => {
        this.scheduler.stateChanged(change.modelId, change.from, change.to);
        this.changes.next(change);
        // Its first measure at once: what it holds once loaded is the figure that matters.
        if (change.to === 'ready') void this.measureOne(change.modelId);
      },
      events,
    };
  }

  /** Every state transition of every server (the gateway's queue and the metrics use it). */
  get stateChanges$(): Observable<ServerStateChange> {
    return this.changes.asObservable();
  }

  /** Loads, finished loads and unloads, as they happen (the metrics count them). */
  get loadEvents$(): Observable<LoadEvent> {
    return this.scheduler.events$;
  }

  /** True once application shutdown began: no restarts, no reconciles. */
  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Starts the fleet for the active profile without waiting for readiness (the API listens at once). */
  onApplicationBootstrap(): void {
    this.tick = setInterval(() => this.onTick(), TICK_MS).unref();
    this.subscriptions.push(
      this.registry.changes$.subscribe(() => this.reconcileInBackground('registry changed')),
      this.profiles.activeChanged$.subscribe((change) => {
        if (change.cause === 'updated') this.reconcileInBackground('active profile changed');
      }),
    );
    this.reconcileInBackground('bootstrap');
  }

  /**
   * Stops the whole fleet before the HTTP server closes: no more restarts or reconciles,
   * SIGTERM to every process group, SIGKILL after FLEET_STOP_GRACE_SECONDS, and resolves
   * once every process is gone.
   */
  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.shuttingDown = true;
    this.scheduler.close();
    if (this.tick) clearInterval(this.tick);
    for (const s of this.subscriptions) s.unsubscribe();
    this.help.abortAll();
    const running = [...this.supervisors.values()].filter((s) => s.state !== 'stopped');
    this.logger.log(
      { signal: signal ?? null, servers: running.map((s) => ({ modelId: s.modelId, port: s.port, pid: s.pid })) },
      'Stopping the fleet',
    );
    const started = Date.now();
    await Promise.all(running.map((s) => s.stop()));
    await Promise.allSettled([this.running, this.queued]);
    // A reconcile that was under way may have launched one more; stop it too.
    await Promise.all([...this.supervisors.values()].map((s) => s.stop()));
    this.logger.log({ stopped: running.length, durationMs: Date.now() - started }, 'Fleet stopped');
    this.changes.complete();
    this.scheduler.complete();
  }

  // ---------------------------------------------------------------- reconcile

  /**
   * Converges the fleet to the desired set: new servers start, servers no longer wanted
   * stop, the rest keep running untouched. Resolves once the stops are done and the starts
   * are launched (not ready). With `retryFailed`, wanted servers that gave up start again.
   */
  reconcile(opts: { retryFailed?: boolean } = {}): Promise<ActivationSummary> {
    if (this.shuttingDown) return Promise.resolve(NO_CHANGE);
    if (opts.retryFailed) this.retryFailedQueued = true;
    // Every request made while a run is under way shares the one run that follows it.
    if (this.queued) return this.queued;
    if (!this.running) return this.startRun();
    this.queued = this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = null;
        return this.startRun();
      });
    return this.queued;
  }

  private reconcileInBackground(why: string): void {
    this.reconcile().catch((e: Error) => this.logger.error({ err: e, why }, 'Fleet reconcile failed'));
  }

  private startRun(): Promise<ActivationSummary> {
    const retryFailed = this.retryFailedQueued;
    this.retryFailedQueued = false;
    const run: Promise<ActivationSummary> = this.runReconcile(retryFailed).finally(() => {
      if (this.running === run) this.running = null;
    });
    this.running = run;
    return run;
  }

  private async runReconcile(retryFailed: boolean): Promise<ActivationSummary> {
    if (this.shuttingDown) return NO_CHANGE;
    // Everything up to the first await runs synchronously, so the desired set and the
    // new servers' `starting` state are visible as soon as a reconcile begins.
    const { key, profile } = this.profiles.getActive();
    const models = this.registry.list();
    const patterns = profile?.enabledModels ?? [];
    const enabledIds = models.filter((m) => m.enabled).map((m) => m.modelId);
    const desiredIds = profileOrder(patterns, enabledIds);
    const onDemand = onDemandModels(profile, desiredIds);
    const byId = new Map(models.map((m) => [m.modelId, m]));
    const missing = missingModels(
      patterns,
      models.map((m) => m.modelId),
    );
    if (missing.join(',') !== this.missing.join(',') && missing.length) {
      this.logger.warn(
        { profile: key, missingModels: missing },
        'The active profile names models the registry does not know',
      );
    }
    this.missing = missing;
    this.settings = profile?.server ?? null;
    this.profile = profile;
    const before = this.wanted;
    this.wanted = new Set(desiredIds);
    this.startModes = new Map(desiredIds.map((id) => [id, onDemand.has(id) ? 'on_demand' : 'always']));
    this.scheduler.retain(new Set(models.map((m) => m.modelId)));

    const remembered = new Map<string, number>();
    for (const id of desiredIds) {
      const port = byId.get(id)?.port;
      if (port !== null && port !== undefined) remembered.set(id, port);
    }
    this.ports.setRemembered(remembered);

    const summary: ActivationSummary = { started: [], stopped: [], kept: [] };
    const work: Promise<void>[] = [];
    for (const [id, sup] of this.supervisors) {
      if (this.wanted.has(id) || sup.state === 'stopped' || sup.state === 'unloaded') continue;
      if (sup.state !== 'stopping') summary.stopped.push(id);
      work.push(this.scheduler.dropped(sup));
    }
    const placeable: string[] = [];
    for (const id of desiredIds) {
      const plan = this.planFor(byId.get(id)!, this.startModes.get(id)!);
      let sup = this.supervisors.get(id);
      if (!sup) {
        sup = new ServerSupervisor(plan, this.deps);
        this.supervisors.set(id, sup);
      } else {
        sup.updatePlan(plan);
      }
      // A reconcile places always servers that never ran (or whose process a stop is ending);
      // an activation also those that failed or were unloaded by hand.
      if (plan.restState === 'stopped' && (sup.state === 'stopped' || sup.state === 'stopping')) placeable.push(id);
    }
    const decisions = this.scheduler.activate(retryFailed ? undefined : placeable);
    const started = new Set(decisions.filter((d) => d.kind === 'start' || d.kind === 'queue').map((d) => d.modelId));
    for (const id of desiredIds) (started.has(id) ? summary.started : summary.kept).push(id);
    await Promise.all([...work, ...this.scheduler.takeLaunches()]);
    if (summary.started.length || summary.stopped.length) {
      this.logger.log(
        {
          profile: key,
          serversBefore: before.size,
          serversAfter: this.wanted.size,
          started: summary.started,
          stopped: summary.stopped,
          kept: summary.kept,
          missingModels: missing,
        },
        'Fleet reconciled',
      );
    }
    return summary;
  }

  /**
   * A profile was activated: reconcile, starting again the wanted servers that gave up,
   * and answer what changed (the activation route returns it).
   */
  @OnEvent(ProfileEvents.Activated, { suppressErrors: false })
  reconcileActivated(_event: ProfileActivatedEvent): Promise<ActivationSummary> {
    return this.reconcile({ retryFailed: true });
  }

  /** A model was enabled or disabled: reconcile, and answer true (applied live) unless shutting down. */
  @OnEvent(RegistryEvents.ModelEnabledChanged, { suppressErrors: false })
  async applyEnabledChange({ modelId, enabled }: ModelEnabledChangedEvent): Promise<boolean> {
    if (this.shuttingDown) return false;
    const summary = await this.reconcile();
    this.logger.log(
      { modelId, enabled, started: summary.started, stopped: summary.stopped },
      'Enabled change applied to the fleet',
    );
    return true;
  }

  private planFor(m: DiscoveredModel, startMode: StartMode): ServerPlan {
    return {
      modelId: m.modelId,
      displayName: m.displayName,
      modelPaths: shardPaths(m.filePath),
      mmprojPath: m.mmprojPath,
      tier: m.effectiveTier,
      isThinking: m.thinkingOverride ?? m.isThinkingModel,
      preferredPort: m.port,
      restState: startMode === 'on_demand' ? 'unloaded' : 'stopped',
    };
  }

  // ---------------------------------------------------------------- scheduling (API.md §9)

  /** SchedulingHost: the wanted servers in the profile's order, then any others still holding a process. */
  scheduled(): ServerSupervisor[] {
    const out: ServerSupervisor[] = [];
    for (const id of this.wanted) {
      const sup = this.supervisors.get(id);
      if (sup) out.push(sup);
    }
    for (const [id, sup] of this.supervisors) if (!this.wanted.has(id) && !AT_REST.has(sup.state)) out.push(sup);
    return out;
  }

  startModeOf(modelId: string): StartMode {
    return this.startModes.get(modelId) ?? 'always';
  }

  estimateOf(modelId: string): number {
    return this.registry.find(modelId)?.memoryEstimate?.totalBytes ?? 0;
  }

  policy(): FleetPolicy {
    const profile = this.profile;
    return {
      budgetBytes: this.budget.bytesFor(profile?.memoryBudget),
      maxRunning: profile?.maxRunning ?? null,
      idleTimeoutMs: (profile?.onDemand?.idleTimeoutSeconds ?? DEFAULT_IDLE_TIMEOUT_SECONDS) * 1000,
    };
  }

  /** The budget and what the fleet's servers count for now. */
  memory(): MemoryView {
    return this.scheduler.memory();
  }

  /**
   * A gateway request names an on-demand model (or a loading one): it waits for the load
   * through the ticket it gets, released when it no longer waits. Throws ModelTooLargeError.
   */
  loadFor(modelId: string): LoadTicket {
    this.wantedOrThrow(modelId);
    return this.scheduler.load(modelId, 'request')!;
  }

  /** `POST …/load`: launched, queued, or already ready. ServerNotFound when the profile does not run it. */
  load(modelId: string): LoadAnswer {
    const sup = this.wantedOrThrow(modelId);
    if (sup.state === 'ready') return { modelId, state: 'ready', alreadyReady: true };
    this.scheduler.load(modelId, 'api');
    return { modelId, state: this.viewOf(sup).state, alreadyReady: false };
  }

  /** `POST …/unload`: stops it now (an always server stays down until the next activation or load). */
  async unload(modelId: string): Promise<LoadAnswer> {
    const sup = this.wantedOrThrow(modelId);
    await this.scheduler.unload(sup);
    return { modelId, state: sup.state, alreadyReady: false };
  }

  /** The gateway sends a request to this model's server (and when it ended): LRU, idle time, in-flight protection. */
  requestStarted(modelId: string): void {
    this.scheduler.requestStarted(modelId);
  }

  requestEnded(modelId: string): void {
    this.scheduler.requestEnded(modelId);
  }

  private wantedOrThrow(modelId: string): ServerSupervisor {
    const sup = this.wanted.has(modelId) ? this.supervisors.get(modelId) : undefined;
    if (!sup)
      throw new ServerNotFoundError(
        modelId,
        `The active profile does not run a server for model '${modelId}' (not in its enabledModels, disabled or unknown)`,
      );
    return sup;
  }

  private onTick(): void {
    if (this.shuttingDown) return;
    this.scheduler.idleCheck();
    if (++this.ticks % MEASURE_EVERY_TICKS === 0) void this.measure();
  }

  /** Measures each running server's memory (resident plus its mapped model files). */
  private async measure(): Promise<void> {
    await Promise.all(this.scheduled().map((sup) => this.measureOne(sup.modelId)));
  }

  private async measureOne(modelId: string): Promise<void> {
    const sup = this.supervisors.get(modelId);
    const pid = sup?.pid ?? null;
    if (!sup || pid === null) return;
    const bytes = await this.processMemory.residentBytes(pid, sup.files);
    if (sup.pid === pid) this.scheduler.measured(modelId, bytes);
  }

  // ---------------------------------------------------------------- views for other modules

  /** Every model of the registry as routing sees it: its id, effective tier and enabled flag. */
  models(): FleetModel[] {
    return this.registry.list().map((m) => ({ modelId: m.modelId, tier: m.effectiveTier, enabled: m.enabled }));
  }

  /** Emits when the registry's models change (added, removed, a tier or enabled flag changed). */
  get modelsChanged$(): Observable<unknown> {
    return this.registry.changes$;
  }

  /** Every server the fleet knows, as routing sees it: state, start mode, where it listens, its estimate. */
  servers(): FleetServer[] {
    return this.list().map((v) => ({
      modelId: v.modelId,
      state: this.wanted.has(v.modelId) ? v.state : 'stopping',
      startMode: v.startMode,
      host: this.supervisors.get(v.modelId)?.host ?? this.config.host,
      port: v.port,
      estimateBytes: v.memoryEstimateBytes,
    }));
  }

  /** The servers the fleet wants plus any still stopping, by model id (`GET /api/models/servers`). */
  list(): ServerView[] {
    const out: ServerView[] = [];
    for (const [id, sup] of this.supervisors) {
      if (this.wanted.has(id) || sup.state === 'stopping') out.push(this.viewOf(sup));
    }
    return out.sort((a, b) => a.modelId.localeCompare(b.modelId));
  }

  /** Wanted servers whose `/health` answered 200: where the gateway may send requests. */
  readyServers(): ReadyServer[] {
    const out: ReadyServer[] = [];
    for (const id of this.wanted) {
      const sup = this.supervisors.get(id);
      if (sup?.state === 'ready' && sup.port !== null) out.push({ modelId: id, port: sup.port, host: sup.host });
    }
    return out.sort((a, b) => a.modelId.localeCompare(b.modelId));
  }

  /** The last `lines` lines of a server's output; ServerNotFound for a model never run. */
  logs(modelId: string, lines: number): { modelId: string; lines: string[] } {
    const sup = this.supervisors.get(modelId);
    if (!sup) throw new ServerNotFoundError(modelId);
    return { modelId, lines: sup.logTail(lines) };
  }

  /**
   * Counts and reasons for `/health/ready`: the `always` servers must be ready; an on-demand
   * one counts only while it is ready (unloaded is its normal rest, not a fault).
   */
  readiness(): FleetReadiness {
    const notReady: NotReadyServer[] = [];
    let ready = 0;
    let total = 0;
    for (const id of [...this.wanted].sort()) {
      const sup = this.supervisors.get(id);
      const onDemand = this.startModeOf(id) === 'on_demand';
      if (!onDemand || sup?.state === 'ready') total++;
      if (sup?.state === 'ready') ready++;
      else if (!onDemand)
        notReady.push({
          modelId: id,
          state: sup?.state ?? 'stopped',
          reason: sup?.state === 'failed' ? (sup.view().lastError ?? sup.reason) : (sup?.reason ?? 'not started'),
        });
    }
    return {
      readyServers: ready,
      totalServers: total,
      notReady,
      missingModels: [...this.missing],
      shuttingDown: this.shuttingDown,
    };
  }

  /** Counts for `GET /api/models/servers`: every wanted server, on-demand ones included. */
  counts(): { totalServers: number; readyServers: number } {
    let ready = 0;
    for (const id of this.wanted) if (this.supervisors.get(id)?.state === 'ready') ready++;
    return { totalServers: this.wanted.size, readyServers: ready };
  }

  private viewOf(sup: ServerSupervisor): ServerView {
    const usage = this.scheduler.usageOf(sup.modelId);
    const view: ServerView = {
      ...sup.view(),
      // A load waiting for a stopping process shows as queued once that process is gone.
      state: this.scheduler.schedStateOf(sup),
      startMode: this.startModeOf(sup.modelId),
      memoryEstimateBytes: this.estimateOf(sup.modelId),
      memoryUsedBytes: sup.pid === null ? null : usage.usedBytes,
      lastUsedAt: usage.lastUsedAt === null ? null : new Date(usage.lastUsedAt).toISOString(),
      inFlight: usage.inFlight,
    };
    const m = this.registry.find(sup.modelId);
    if (!m) return view;
    return {
      ...view,
      displayName: m.displayName,
      tier: m.effectiveTier,
      isThinking: m.thinkingOverride ?? m.isThinkingModel,
    };
  }
}

const SHARD = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i;

/** A split model's every shard (llama-server maps them all), from the first shard's name; else the one file. */
function shardPaths(first: string): string[] {
  const m = SHARD.exec(first);
  if (!m) return [first];
  const count = Number(m[3]);
  const width = m[2].length;
  return Array.from({ length: count }, (_, i) => `${m[1]}-${String(i + 1).padStart(width, '0')}-of-${m[3]}.gguf`);
}
