import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { EventEmitter2, OnEvent } from '@nestjs/event-emitter';
import { Observable, Subject, Subscription } from 'rxjs';
import { Clock } from '../common/io/clock';
import { FileStore } from '../common/io/file-store';
import { HttpClient } from '../common/io/http-client';
import { PortProbe } from '../common/io/port-probe';
import { ProcessLauncher } from '../common/io/process-launcher';
import { FleetConfig, MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { ProfileActivatedEvent, ProfileEvents } from '../profiles/profile.events';
import type { ProfileServerSettings } from '../common/vocabulary/server-settings';
import type { ActivationSummary } from '../profiles/profile.types';
import { missingModels, resolveEnabledModels } from '../profiles/profile.types';
import { ProfilesService } from '../profiles/profiles.service';
import { ModelEnabledChangedEvent, RegistryEvents } from '../registry/registry.events';
import type { DiscoveredModel } from '../registry/registry.service';
import { RegistryService } from '../registry/registry.service';
import type { FleetModel, NotReadyServer, ReadyServer, ServerPlan, ServerStateChange, ServerView } from './fleet.types';
import { HelpFlagsCache } from './help-flags-cache';
import { PortAllocator } from './port-allocator';
import { ServerNotFoundError } from './server.error';
import { ServerSupervisor, SupervisorDeps } from './server-supervisor';

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
export class FleetService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(FleetService.name);
  private readonly changes = new Subject<ServerStateChange>();
  private readonly supervisors = new Map<string, ServerSupervisor>();
  private readonly config: FleetConfig;
  private readonly ports: PortAllocator;
  private readonly help: HelpFlagsCache;
  private readonly deps: SupervisorDeps;
  private wanted = new Set<string>();
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
    @Inject(magiConfig.KEY) config: MagiConfig,
  ) {
    this.config = config.fleet;
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
      onStateChange: (change) => this.changes.next(change),
      events,
    };
  }

  /** Every state transition of every server (the gateway's queue and the metrics use it). */
  get stateChanges$(): Observable<ServerStateChange> {
    return this.changes.asObservable();
  }

  /** True once application shutdown began: no restarts, no reconciles. */
  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Starts the fleet for the active profile without waiting for readiness (the API listens at once). */
  onApplicationBootstrap(): void {
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
    const enabled = models.filter((m) => m.enabled);
    const desiredIds = resolveEnabledModels(
      patterns,
      enabled.map((m) => m.modelId),
    );
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
    const before = this.wanted;
    this.wanted = new Set(desiredIds);

    const remembered = new Map<string, number>();
    for (const id of desiredIds) {
      const port = byId.get(id)?.port;
      if (port !== null && port !== undefined) remembered.set(id, port);
    }
    this.ports.setRemembered(remembered);

    const summary: ActivationSummary = { started: [], stopped: [], kept: [] };
    const work: Promise<void>[] = [];
    for (const [id, sup] of this.supervisors) {
      if (this.wanted.has(id) || sup.state === 'stopped') continue;
      if (sup.state !== 'stopping') summary.stopped.push(id);
      work.push(sup.stop());
    }
    for (const id of desiredIds) {
      const plan = this.planFor(byId.get(id)!);
      let sup = this.supervisors.get(id);
      if (!sup) {
        sup = new ServerSupervisor(plan, this.deps);
        this.supervisors.set(id, sup);
      } else {
        sup.updatePlan(plan);
      }
      const idle = sup.state === 'stopped' || sup.state === 'stopping';
      if (idle || (retryFailed && sup.state === 'failed')) {
        summary.started.push(id);
        work.push(sup.start());
      } else {
        summary.kept.push(id);
      }
    }
    await Promise.all(work);
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

  private planFor(m: DiscoveredModel): ServerPlan {
    return {
      modelId: m.modelId,
      displayName: m.displayName,
      modelPath: m.filePath,
      mmprojPath: m.mmprojPath,
      tier: m.effectiveTier,
      isThinking: m.thinkingOverride ?? m.isThinkingModel,
      preferredPort: m.port,
    };
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

  /** Counts and reasons for `/health/ready`. */
  readiness(): FleetReadiness {
    const notReady: NotReadyServer[] = [];
    let ready = 0;
    for (const id of [...this.wanted].sort()) {
      const sup = this.supervisors.get(id);
      if (sup?.state === 'ready') ready++;
      else
        notReady.push({
          modelId: id,
          state: sup?.state ?? 'stopped',
          reason: sup?.state === 'failed' ? (sup.view().lastError ?? sup.reason) : (sup?.reason ?? 'not started'),
        });
    }
    return {
      readyServers: ready,
      totalServers: this.wanted.size,
      notReady,
      missingModels: [...this.missing],
      shuttingDown: this.shuttingDown,
    };
  }

  private viewOf(sup: ServerSupervisor): ServerView {
    const view = sup.view();
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
