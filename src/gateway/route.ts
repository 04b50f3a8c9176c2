/**
 * Which server answers a gateway request (API.md §8): pure functions over the active
 * profile's aliases and the fleet's models and servers, plus the small stateful balancer
 * that keeps round-robin cursors. No I/O, no Nest.
 */
import type { BalancingStrategy } from '../common/vocabulary/balancing-strategies';
import type { ServerState, StartMode } from '../common/vocabulary/server-states';
import { Tier, isTier } from '../common/vocabulary/tiers';
import { chooseTierServer } from '../servers/scheduler';
import { ModelNotFoundGatewayError, ModelNotRunningError } from './gateway.errors';

/** The three gateway routes. */
export type GatewayEndpoint = 'chat' | 'completions' | 'embeddings';

/** What routing needs to know of a registry model. */
export interface RouteModel {
  modelId: string;
  tier: Tier;
  enabled: boolean;
}

/** What routing needs to know of a fleet server. */
export interface RouteServer {
  modelId: string;
  host: string;
  port: number;
  state: ServerState;
  /** Started with --embeddings: serves /v1/embeddings only. */
  embeddings: boolean;
  startMode: StartMode;
  /** Its memory estimate: a tier loads its smallest on-demand model. */
  estimateBytes: number;
}

/** A ready server a request can be sent to. */
export interface Upstream {
  modelId: string;
  host: string;
  port: number;
}

/** A model id of the registry, or a tier. */
export type Target = { kind: 'model'; modelId: string } | { kind: 'tier'; tier: Tier };

/** Everything `resolveRoute` reads; built per request from the live services. */
export interface RouteContext {
  endpoint: GatewayEndpoint;
  /** Aliases of the active profile: requested name → model id or tier. */
  aliases: Readonly<Record<string, string>>;
  findModel(modelId: string): RouteModel | undefined;
  /** Every server the fleet knows, in any state. */
  servers: readonly RouteServer[];
  /** LITELLM_BASE_URL is set. */
  liteLlm: boolean;
}

/** Where a request goes. */
export type Route =
  | {
      kind: 'fleet';
      target: Target;
      /** Key of the target for balancing and logs: the model id, or `tier:<tier>`. */
      key: string;
      /** Ready servers of the target, in a stable order (model id, then port). */
      ready: Upstream[];
      /** Servers of the target that are starting, restarting or queued (worth waiting for). */
      pending: number;
      /**
       * With no server ready: the on-demand model whose load the request asks for (or joins,
       * when it is already under way) before waiting; null when there is nothing to load.
       */
      load: string | null;
    }
  | {
      kind: 'litellm';
      /** The model LiteLLM is asked for: the requested one, or what an alias names. */
      model: string;
    };

const WAITABLE: ReadonlySet<ServerState> = new Set(['starting', 'restarting', 'queued']);

/** Resolves an alias, model id or tier to a target, or to LiteLLM; throws 404 when nothing matches. */
export function resolveTarget(
  requested: string,
  ctx: Pick<RouteContext, 'aliases' | 'findModel' | 'liteLlm'>,
): Target | { kind: 'litellm'; model: string } {
  const aliased = Object.prototype.hasOwnProperty.call(ctx.aliases, requested) ? ctx.aliases[requested] : undefined;
  const name = aliased ?? requested;
  if (ctx.findModel(name)) return { kind: 'model', modelId: name };
  if (isTier(name)) return { kind: 'tier', tier: name };
  // An alias that names neither a model nor a tier may name a LiteLLM model.
  if (ctx.liteLlm) return { kind: 'litellm', model: name };
  throw new ModelNotFoundGatewayError(name, aliased !== undefined ? requested : undefined);
}

function compareUpstreams(a: Upstream, b: Upstream): number {
  return a.modelId < b.modelId ? -1 : a.modelId > b.modelId ? 1 : a.port - b.port;
}

/**
 * The route of one request (API.md §8, steps 1–4): the ready servers of its target and
 * how many are still starting. Throws 404 `model_not_found` or 503 `model_not_running`.
 */
export function resolveRoute(requested: string, ctx: RouteContext): Route {
  const target = resolveTarget(requested, ctx);
  if (target.kind === 'litellm') return target;
  const wantEmbeddings = ctx.endpoint === 'embeddings';
  const ready: Upstream[] = [];
  const eligible: RouteServer[] = [];
  let pending = 0;
  let wrongKind = 0;
  let present = 0;
  for (const s of ctx.servers) {
    if (target.kind === 'model') {
      if (s.modelId !== target.modelId) continue;
    } else {
      const m = ctx.findModel(s.modelId);
      if (!m || !m.enabled || m.tier !== target.tier) continue;
    }
    present++;
    if (s.embeddings !== wantEmbeddings) {
      wrongKind++;
      continue;
    }
    eligible.push(s);
    if (s.state === 'ready') ready.push({ modelId: s.modelId, host: s.host, port: s.port });
    else if (WAITABLE.has(s.state)) pending++;
  }
  ready.sort(compareUpstreams);
  const key = target.kind === 'model' ? target.modelId : `tier:${target.tier}`;
  const load = ready.length > 0 ? null : loadFor(target, eligible);
  if (ready.length > 0 || pending > 0 || load !== null) return { kind: 'fleet', target, key, ready, pending, load };

  const name = target.kind === 'model' ? target.modelId : target.tier;
  if (present > 0 && wrongKind === present) {
    throw new ModelNotRunningError(
      name,
      wantEmbeddings
        ? 'no server of it runs with embeddings (the active profile server block does not set embeddings: true)'
        : 'its servers run for embeddings only (the active profile sets embeddings: true); use /v1/embeddings',
    );
  }
  if (target.kind === 'tier') throw new ModelNotRunningError(name, `no server of tier '${name}' is running`);
  const model = ctx.findModel(target.modelId);
  if (model && !model.enabled) throw new ModelNotRunningError(name, 'it is disabled');
  const server = ctx.servers.find((s) => s.modelId === target.modelId);
  if (!server) throw new ModelNotRunningError(name, 'it is not in the active profile');
  throw new ModelNotRunningError(name, `its server is ${server.state}`);
}

/**
 * The on-demand model a request without a ready server loads (or joins the load of): the
 * model itself; for a tier, the one already loading, else its smallest on-demand model
 * (API.md §9). Null when there is nothing to load: an `always` server starts by itself.
 */
function loadFor(target: Target, eligible: readonly RouteServer[]): string | null {
  if (target.kind === 'model') {
    const s = eligible.find((x) => x.modelId === target.modelId);
    return s?.startMode === 'on_demand' ? s.modelId : null;
  }
  const choice = chooseTierServer(
    eligible.map((s) => ({ ...s, tier: target.tier })),
    target.tier,
  );
  if (choice.kind === 'load') return choice.modelId;
  if (choice.kind === 'loading') {
    const s = eligible.find((x) => x.modelId === choice.modelId);
    return s?.startMode === 'on_demand' ? s.modelId : null;
  }
  return null;
}

/** Keys of upstreams, for exclusion on retry and in-flight counting: `host:port`. */
export function upstreamKey(u: Pick<Upstream, 'host' | 'port'>): string {
  return `${u.host}:${u.port}`;
}

/**
 * Picks one ready server per request by strategy. Holds one cursor per target key, so
 * round robin is exactly even per target and least-loaded ties go in turn.
 */
export class Balancer {
  private readonly cursors = new Map<string, number>();

  constructor(private readonly random: () => number = Math.random) {}

  /**
   * One of `candidates` (non-empty, stable order). `load` gives the requests in flight
   * on a server, for `least_loaded`.
   */
  pick<U extends Upstream>(
    key: string,
    strategy: BalancingStrategy,
    candidates: readonly U[],
    load: (u: U) => number,
  ): U {
    const n = candidates.length;
    if (n === 1) return candidates[0];
    if (strategy === 'random') return candidates[Math.min(n - 1, Math.floor(this.random() * n))];
    const cursor = this.cursors.get(key) ?? 0;
    this.cursors.set(key, (cursor + 1) % 1_000_000_007);
    if (strategy === 'round_robin') return candidates[cursor % n];
    // least_loaded: the fewest in flight; ties taken in turn.
    let min = Infinity;
    let tied: U[] = [];
    for (const c of candidates) {
      const l = load(c);
      if (l < min) {
        min = l;
        tied = [c];
      } else if (l === min) tied.push(c);
    }
    return tied[cursor % tied.length];
  }
}
