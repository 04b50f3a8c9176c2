import { AppError } from '../common/errors/app-error';
import { ModelNotRunningError } from './gateway.errors';
import type { Tier } from '../common/vocabulary/tiers';
import {
  Balancer,
  RouteContext,
  RouteModel,
  RouteServer,
  Upstream,
  resolveRoute,
  resolveTarget,
  upstreamKey,
} from './route';

const models: Record<string, RouteModel> = {
  qwen3_4b_q4km: { modelId: 'qwen3_4b_q4km', tier: 'fast', enabled: true },
  phi_4_14b_q4km: { modelId: 'phi_4_14b_q4km', tier: 'balanced', enabled: true },
  llama_8b_q8: { modelId: 'llama_8b_q8', tier: 'balanced', enabled: true },
  qwq_32b_q4km: { modelId: 'qwq_32b_q4km', tier: 'powerful', enabled: true },
  disabled_7b: { modelId: 'disabled_7b', tier: 'fast', enabled: false },
  idle_7b: { modelId: 'idle_7b', tier: 'fast', enabled: true },
};

function server(
  modelId: string,
  port: number,
  state: RouteServer['state'] = 'ready',
  embeddings = false,
  startMode: RouteServer['startMode'] = 'always',
  estimateBytes = 1,
): RouteServer {
  return { modelId, host: '127.0.0.1', port, state, embeddings, startMode, estimateBytes };
}

function ctx(over: Partial<RouteContext> = {}): RouteContext {
  return {
    endpoint: 'chat',
    aliases: { 'gpt-4o-mini': 'qwen3_4b_q4km', 'gpt-4o': 'balanced', 'claude-ish': 'anthropic/claude-3' },
    findModel: (id) => (Object.prototype.hasOwnProperty.call(models, id) ? models[id] : undefined),
    servers: [server('qwen3_4b_q4km', 8081), server('phi_4_14b_q4km', 8082), server('llama_8b_q8', 8083)],
    liteLlm: false,
    ...over,
  };
}

function errorOf(fn: () => unknown): AppError {
  try {
    fn();
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected an AppError');
}

describe('resolveTarget', () => {
  it('resolves an alias of the active profile to the model id it names', () => {
    expect(resolveTarget('gpt-4o-mini', ctx())).toEqual({ kind: 'model', modelId: 'qwen3_4b_q4km' });
  });

  it('resolves an alias that names a tier to that tier', () => {
    expect(resolveTarget('gpt-4o', ctx())).toEqual({ kind: 'tier', tier: 'balanced' });
  });

  it('takes an alias before a model id of the same name', () => {
    const c = ctx({ aliases: { qwen3_4b_q4km: 'qwq_32b_q4km' } });
    expect(resolveTarget('qwen3_4b_q4km', c)).toEqual({ kind: 'model', modelId: 'qwq_32b_q4km' });
  });

  it('resolves a registry model id, then a tier', () => {
    expect(resolveTarget('phi_4_14b_q4km', ctx())).toEqual({ kind: 'model', modelId: 'phi_4_14b_q4km' });
    for (const tier of ['fast', 'balanced', 'powerful'] as Tier[])
      expect(resolveTarget(tier, ctx())).toEqual({ kind: 'tier', tier });
  });

  it('sends an unknown name to LiteLLM unchanged when it is configured', () => {
    expect(resolveTarget('gpt-4.1', ctx({ liteLlm: true }))).toEqual({ kind: 'litellm', model: 'gpt-4.1' });
  });

  it('sends an alias naming neither a model nor a tier to LiteLLM under the name it names', () => {
    expect(resolveTarget('claude-ish', ctx({ liteLlm: true }))).toEqual({
      kind: 'litellm',
      model: 'anthropic/claude-3',
    });
  });

  it('is 404 model_not_found for an unknown name without LiteLLM', () => {
    const e = errorOf(() => resolveTarget('gpt-4.1', ctx()));
    expect([e.status, e.openAiCode]).toEqual([404, 'model_not_found']);
    expect(e.message).toContain("'gpt-4.1'");
  });

  it('does not take tier names in another case, nor inherited object keys', () => {
    expect(errorOf(() => resolveTarget('Fast', ctx())).status).toBe(404);
    expect(errorOf(() => resolveTarget('constructor', ctx())).status).toBe(404);
    expect(errorOf(() => resolveTarget('toString', ctx())).status).toBe(404);
  });
});

describe('resolveRoute', () => {
  it('routes a model id to its ready server', () => {
    const r = resolveRoute('phi_4_14b_q4km', ctx());
    expect(r).toEqual({
      kind: 'fleet',
      target: { kind: 'model', modelId: 'phi_4_14b_q4km' },
      key: 'phi_4_14b_q4km',
      load: null,
      ready: [{ modelId: 'phi_4_14b_q4km', host: '127.0.0.1', port: 8082 }],
      pending: 0,
    });
  });

  it('routes a tier to every ready server whose model has that effective tier, in a stable order', () => {
    const r = resolveRoute('balanced', ctx());
    expect(r.kind === 'fleet' && r.ready.map((u) => u.port)).toEqual([8083, 8082]);
    expect(r.kind === 'fleet' && r.key).toBe('tier:balanced');
  });

  it('counts starting and restarting servers as pending, and leaves out the others', () => {
    const c = ctx({
      servers: [
        server('qwen3_4b_q4km', 8081, 'starting'),
        server('idle_7b', 8084, 'restarting'),
        server('disabled_7b', 8085),
      ],
    });
    const r = resolveRoute('fast', c);
    expect(r).toMatchObject({ kind: 'fleet', ready: [], pending: 2 });
  });

  it('is 503 model_not_running for a disabled model, one not in the profile, or a failed server', () => {
    const notInProfile = errorOf(() => resolveRoute('qwq_32b_q4km', ctx()));
    expect([notInProfile.status, notInProfile.openAiCode]).toEqual([503, 'model_not_running']);
    expect(notInProfile.message).toContain('not in the active profile');
    expect(errorOf(() => resolveRoute('disabled_7b', ctx())).message).toContain('disabled');
    const failed = errorOf(() =>
      resolveRoute('qwen3_4b_q4km', ctx({ servers: [server('qwen3_4b_q4km', 8081, 'failed')] })),
    );
    expect([failed.status, failed.message]).toEqual([503, expect.stringContaining('failed')]);
  });

  it('is 503 model_not_running for a tier no server runs', () => {
    const e = errorOf(() => resolveRoute('powerful', ctx()));
    expect([e.status, e.openAiCode]).toEqual([503, 'model_not_running']);
  });

  it('routes embeddings only to embedding servers, and chat only to the others', () => {
    const servers = [server('qwen3_4b_q4km', 8081, 'ready', true), server('phi_4_14b_q4km', 8082)];
    expect(resolveRoute('qwen3_4b_q4km', ctx({ endpoint: 'embeddings', servers }))).toMatchObject({
      ready: [{ port: 8081 }],
    });
    const noEmb = errorOf(() => resolveRoute('phi_4_14b_q4km', ctx({ endpoint: 'embeddings', servers })));
    expect([noEmb.status, noEmb.message]).toEqual([503, expect.stringContaining('embeddings: true')]);
    const chatToEmb = errorOf(() => resolveRoute('qwen3_4b_q4km', ctx({ servers })));
    expect(chatToEmb.status).toBe(503);
    expect(resolveRoute('fast', ctx({ endpoint: 'embeddings', servers }))).toMatchObject({ ready: [{ port: 8081 }] });
  });

  it('gives LiteLLM the request when nothing in the fleet matches', () => {
    expect(resolveRoute('gpt-4.1', ctx({ liteLlm: true }))).toEqual({ kind: 'litellm', model: 'gpt-4.1' });
  });
});

describe('Balancer.pick', () => {
  const three: Upstream[] = [8081, 8082, 8083].map((port) => ({ modelId: `m${port}`, host: '127.0.0.1', port }));
  const idle = (): number => 0;

  it('round_robin: takes the servers in turn, exactly evenly, per target', () => {
    const sut = new Balancer();
    const ports = Array.from({ length: 9 }, () => sut.pick('tier:fast', 'round_robin', three, idle).port);
    expect(ports).toEqual([8081, 8082, 8083, 8081, 8082, 8083, 8081, 8082, 8083]);
    expect(sut.pick('tier:balanced', 'round_robin', three, idle).port).toBe(8081);
  });

  it('least_loaded: takes the server with the fewest requests in flight', () => {
    const sut = new Balancer();
    const load = new Map([
      ['127.0.0.1:8081', 2],
      ['127.0.0.1:8082', 0],
      ['127.0.0.1:8083', 1],
    ]);
    const byLoad = (u: Upstream): number => load.get(upstreamKey(u)) ?? 0;
    expect(sut.pick('k', 'least_loaded', three, byLoad).port).toBe(8082);
    load.set('127.0.0.1:8082', 5);
    expect(sut.pick('k', 'least_loaded', three, byLoad).port).toBe(8083);
  });

  it('least_loaded: breaks ties in turn', () => {
    const sut = new Balancer();
    const busy = (u: Upstream): number => (u.port === 8081 ? 1 : 0);
    const ports = Array.from({ length: 4 }, () => sut.pick('k', 'least_loaded', three, busy).port);
    expect(ports).toEqual([8082, 8083, 8082, 8083]);
    expect(Array.from({ length: 3 }, () => sut.pick('k2', 'least_loaded', three, idle).port)).toEqual([
      8081, 8082, 8083,
    ]);
  });

  it('random: draws with the injected generator', () => {
    const draws = [0.0, 0.5, 0.99, 0.34];
    const sut = new Balancer(() => draws.shift()!);
    expect(Array.from({ length: 4 }, () => sut.pick('k', 'random', three, idle).port)).toEqual([
      8081, 8082, 8083, 8082,
    ]);
  });

  it('returns the only candidate without consuming a turn', () => {
    const sut = new Balancer();
    expect(sut.pick('k', 'round_robin', [three[1]], idle).port).toBe(8082);
    expect(sut.pick('k', 'round_robin', three, idle).port).toBe(8081);
  });
});

describe('resolveRoute with on-demand servers (API.md §9)', () => {
  const od = (id: string, port: number, state: RouteServer['state'], estimate = 1): RouteServer =>
    server(id, port, state, false, 'on_demand', estimate);

  it('asks for the load of an unloaded on-demand model named by id, and waits for nothing else', () => {
    const r = resolveRoute('idle_7b', ctx({ servers: [od('idle_7b', 0, 'unloaded')] }));
    expect(r).toMatchObject({ kind: 'fleet', ready: [], pending: 0, load: 'idle_7b' });
  });

  it('joins a load under way (queued or starting) rather than asking for another', () => {
    for (const state of ['queued', 'starting'] as const) {
      const r = resolveRoute('idle_7b', ctx({ servers: [od('idle_7b', 8085, state)] }));
      expect(r).toMatchObject({ pending: 1, load: 'idle_7b' });
    }
  });

  it('loads a stopping or failed on-demand model again, but not an always server that is stopped', () => {
    expect(resolveRoute('idle_7b', ctx({ servers: [od('idle_7b', 8085, 'stopping')] }))).toMatchObject({
      load: 'idle_7b',
    });
    expect(resolveRoute('idle_7b', ctx({ servers: [od('idle_7b', 8085, 'failed')] }))).toMatchObject({
      load: 'idle_7b',
    });
    expect(() => resolveRoute('idle_7b', ctx({ servers: [server('idle_7b', 8085, 'stopped')] }))).toThrow(
      ModelNotRunningError,
    );
  });

  it('sends a ready on-demand server its request without a load', () => {
    const r = resolveRoute('idle_7b', ctx({ servers: [od('idle_7b', 8085, 'ready')] }));
    expect(r).toMatchObject({ load: null, ready: [{ modelId: 'idle_7b', port: 8085 }] });
  });

  it('for a tier: any ready server first, else the one loading, else the smallest on-demand model', () => {
    const tierFast = (servers: RouteServer[]) => resolveRoute('fast', ctx({ servers }));
    expect(tierFast([od('qwen3_4b_q4km', 8081, 'ready', 9), od('idle_7b', 0, 'unloaded', 1)])).toMatchObject({
      load: null,
      ready: [{ modelId: 'qwen3_4b_q4km' }],
    });
    expect(tierFast([od('qwen3_4b_q4km', 0, 'unloaded', 9), od('idle_7b', 0, 'unloaded', 1)])).toMatchObject({
      load: 'idle_7b',
      pending: 0,
    });
    expect(tierFast([od('qwen3_4b_q4km', 8081, 'starting', 9), od('idle_7b', 0, 'unloaded', 1)])).toMatchObject({
      load: 'qwen3_4b_q4km',
      pending: 1,
    });
    // An always server starting is waited for; nothing is loaded beside it.
    expect(tierFast([server('qwen3_4b_q4km', 8081, 'starting'), od('idle_7b', 0, 'unloaded', 1)])).toMatchObject({
      load: null,
      pending: 1,
    });
  });

  it('never loads a model the request cannot use (an embeddings server for chat)', () => {
    const servers = [server('idle_7b', 0, 'unloaded', true, 'on_demand')];
    expect(() => resolveRoute('idle_7b', ctx({ servers }))).toThrow(ModelNotRunningError);
  });
});
