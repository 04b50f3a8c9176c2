import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Observable, Subscription } from 'rxjs';
import { MagiConfig } from '../config/magi-config';
import { magiConfig } from '../config/magi-config.provider';
import { connectHost, httpOrigin } from '../common/net/host';
import type { ActiveProfile, Profile } from '../profiles/profile.types';
import { ProfilesService } from '../profiles/profiles.service';
import { FleetService } from '../servers/fleet.service';
import { Forwarder } from './forwarder';
import type { BalancingStrategy } from '../common/vocabulary/balancing-strategies';
import { GatewayEndpoint, Route, RouteContext, RouteModel, RouteServer, resolveRoute } from './route';

/** A route to servers of the fleet, with the strategy that picks one of them. */
export type FleetRoute = Extract<Route, { kind: 'fleet' }> & {
  /** The active profile's strategy; null when `loadBalancing.enabled` is false (first ready server). */
  strategy: BalancingStrategy | null;
};

export type GatewayRoute = FleetRoute | Extract<Route, { kind: 'litellm' }>;

/** The fleet as routing sees it; rebuilt after a change, not per request. */
interface Snapshot {
  models: Map<string, RouteModel>;
  servers: RouteServer[];
  embeddings: boolean;
}

/**
 * How often the active profile is asked for: each ask re-reads its file in the background
 * (so hand-edits are seen); activations and API edits arrive at once through activeChanged$.
 */
const PROFILE_RECHECK_MS = 1000;

/**
 * Where a gateway request goes (API.md §8): the active profile's aliases and strategy over
 * the fleet's models and servers, resolved by route.ts. Holds the one snapshot of both,
 * dropped whenever the fleet, its models or the active profile change; and keeps the
 * Forwarder's pools to the servers it can route to.
 */
@Injectable()
export class RouteTable implements OnModuleInit, OnApplicationShutdown {
  private readonly liteLlmOrigin: string | null;
  private readonly fleetHost: string;
  private active: ActiveProfile | null = null;
  private activeAt = 0;
  private snapshot: Snapshot | null = null;
  private subscription: Subscription | null = null;

  constructor(
    private readonly fleet: FleetService,
    private readonly profiles: ProfilesService,
    private readonly forwarder: Forwarder,
    @Inject(magiConfig.KEY) config: MagiConfig,
  ) {
    this.liteLlmOrigin = config.litellm.baseUrl ? new URL(config.litellm.baseUrl).origin : null;
    this.fleetHost = connectHost(config.fleet.host);
  }

  onModuleInit(): void {
    const subscription = this.fleet.modelsChanged$.subscribe(() => (this.snapshot = null));
    subscription.add(
      this.fleet.stateChanges$.subscribe(() => {
        this.snapshot = null;
        this.dropStalePools();
      }),
    );
    this.subscription = subscription;
    subscription.add(
      this.profiles.activeChanged$.subscribe((change) => {
        this.active = { key: change.key, profile: change.profile };
        this.activeAt = performance.now();
        this.snapshot = null;
      }),
    );
  }

  /**
   * Not onModuleDestroy: that runs before the fleet stops (beforeApplicationShutdown), and
   * requests still served meanwhile must see the servers it stops.
   */
  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
  }

  /** Emits whenever the fleet's servers change state. */
  get changes$(): Observable<unknown> {
    return this.fleet.stateChanges$;
  }

  /** The route of a request naming `model` (throws 404 model_not_found / 503 model_not_running). */
  resolve(model: string, endpoint: GatewayEndpoint): GatewayRoute {
    const profile = this.activeProfile();
    const snapshot = this.current(profile);
    const context: RouteContext = {
      endpoint,
      aliases: profile?.aliases ?? {},
      findModel: (id) => snapshot.models.get(id),
      servers: snapshot.servers,
      liteLlm: this.liteLlmOrigin !== null,
    };
    const route = resolveRoute(model, context);
    if (route.kind === 'litellm') return route;
    const lb = profile?.loadBalancing;
    return { ...route, strategy: lb?.enabled === false ? null : (lb?.strategy ?? 'round_robin') };
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

  private current(profile: Profile | null): Snapshot {
    const embeddings = profile?.server?.embeddings === true;
    if (this.snapshot?.embeddings === embeddings) return this.snapshot;
    const models = new Map<string, RouteModel>();
    for (const m of this.fleet.models()) models.set(m.modelId, m);
    const servers: RouteServer[] = this.fleet.servers().map((s) => ({
      modelId: s.modelId,
      host: connectHost(s.host ?? this.fleetHost),
      port: s.port ?? 0,
      state: s.state,
      embeddings,
      startMode: s.startMode,
      estimateBytes: s.estimateBytes,
    }));
    this.snapshot = { models, servers, embeddings };
    return this.snapshot;
  }

  /** Closes the upstream pools of servers that are no longer ready (stopped, crashed, moved port). */
  private dropStalePools(): void {
    const keep = new Set<string>();
    for (const s of this.fleet.readyServers()) keep.add(httpOrigin(connectHost(s.host), s.port));
    if (this.liteLlmOrigin) keep.add(this.liteLlmOrigin);
    this.forwarder.retain(keep);
  }
}
