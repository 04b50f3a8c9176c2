/**
 * The scheduler's decisions, event by event, then a property check: random event sequences
 * applied by a small simulator of the fleet never pass the budget or maxRunning, never evict
 * a busy server, and leave no load queued once the fleet falls quiet.
 */
import { chooseTierServer, Decision, memoryView, schedule, SchedServer, SchedState, TierServer } from './scheduler';

const GiB = 1024 ** 3;
const NOW = 10_000_000;
const OPTS = { idleTimeoutMs: 600_000 };
const sut = schedule;

function server(modelId: string, over: Partial<SchedServer> = {}): SchedServer {
  return {
    modelId,
    startMode: 'on_demand',
    state: 'unloaded',
    estimateBytes: 6 * GiB,
    usedBytes: null,
    inFlight: 0,
    lastUsedAt: 0,
    waiters: 0,
    queuedAt: null,
    ...over,
  };
}
const ready = (modelId: string, over: Partial<SchedServer> = {}): SchedServer =>
  server(modelId, { state: 'ready', ...over });

function fleet(servers: SchedServer[], over: Partial<SchedState> = {}): SchedState {
  return { servers, budgetBytes: 24 * GiB, maxRunning: null, now: NOW, ...over };
}

const kinds = (ds: Decision[]): string[] =>
  ds.map((d) => (d.kind === 'stop' ? `stop:${d.modelId}:${d.reason}` : `${d.kind}:${d.modelId}`));

describe('schedule: load', () => {
  it('starts a model at once when it fits', () => {
    const state = fleet([ready('a'), server('b')]);
    expect(sut(state, { kind: 'load', modelId: 'b' }, OPTS)).toEqual([{ kind: 'start', modelId: 'b' }]);
  });

  it('does nothing for a ready model or one already on its way', () => {
    const state = fleet([
      ready('a'),
      server('b', { state: 'starting' }),
      server('c', { state: 'queued', queuedAt: 1 }),
    ]);
    expect(sut(state, { kind: 'load', modelId: 'a' }, OPTS)).toEqual([{ kind: 'already-ready', modelId: 'a' }]);
    expect(kinds(sut(state, { kind: 'load', modelId: 'b' }, OPTS))).toEqual(['already-loading:b']);
    expect(kinds(sut(state, { kind: 'load', modelId: 'c' }, OPTS))).toEqual(['already-loading:c']);
  });

  it('answers nothing for a model the state does not list', () => {
    expect(sut(fleet([ready('a')]), { kind: 'load', modelId: 'zz' }, OPTS)).toEqual([]);
  });

  it('refuses at once, with the figures, a model whose estimate alone exceeds the budget', () => {
    const state = fleet([ready('a'), server('huge', { estimateBytes: 25 * GiB })]);
    expect(sut(state, { kind: 'load', modelId: 'huge' }, OPTS)).toEqual([
      { kind: 'refuse', modelId: 'huge', error: 'model_too_large', needBytes: 25 * GiB, budgetBytes: 24 * GiB },
    ]);
  });

  it('accepts a model exactly as large as the budget', () => {
    const state = fleet([server('whole', { estimateBytes: 24 * GiB })]);
    expect(kinds(sut(state, { kind: 'load', modelId: 'whole' }, OPTS))).toEqual(['start:whole']);
  });

  it('evicts idle on-demand servers least recently used first, over four models', () => {
    const four = [
      ready('a', { lastUsedAt: 400 }),
      ready('b', { lastUsedAt: 100 }),
      ready('c', { lastUsedAt: 300 }),
      ready('d', { lastUsedAt: 200 }),
    ];
    const one = sut(fleet([...four, server('e')]), { kind: 'load', modelId: 'e' }, OPTS);
    expect(kinds(one)).toEqual(['stop:b:evicted', 'queue:e']);
    expect(one[0]).toEqual({ kind: 'stop', modelId: 'b', reason: 'evicted', forModelId: 'e' });
    const three = sut(fleet([...four, server('e', { estimateBytes: 18 * GiB })]), { kind: 'load', modelId: 'e' }, OPTS);
    expect(kinds(three)).toEqual(['stop:b:evicted', 'stop:d:evicted', 'stop:c:evicted', 'queue:e']);
  });

  it('evicts exactly enough and no more, counting the memory already free', () => {
    const four = ['a', 'b', 'c', 'd'].map((id, i) => ready(id, { lastUsedAt: i }));
    // 24 of 26 GiB reserved: 2 free + one 6 GiB eviction = 8 >= 7.
    const state = fleet([...four, server('e', { estimateBytes: 7 * GiB })], { budgetBytes: 26 * GiB });
    expect(kinds(sut(state, { kind: 'load', modelId: 'e' }, OPTS))).toEqual(['stop:a:evicted', 'queue:e']);
    // 0 free: one eviction gives 6 < 7, two give 12.
    const full = fleet([...four, server('e', { estimateBytes: 7 * GiB })]);
    expect(kinds(sut(full, { kind: 'load', modelId: 'e' }, OPTS))).toEqual([
      'stop:a:evicted',
      'stop:b:evicted',
      'queue:e',
    ]);
  });

  it('names the evicted servers and the figures in the queued reason', () => {
    const state = fleet([ready('a'), ready('b'), ready('c'), ready('d'), server('e')]);
    const queued = sut(state, { kind: 'load', modelId: 'e' }, OPTS).find((d) => d.kind === 'queue');
    expect(queued).toEqual({
      kind: 'queue',
      modelId: 'e',
      reason: 'Waiting for idle a to stop to make room (needs 6.0 GiB, 0 B free of 24.0 GiB)',
      position: 1,
      queuedAt: NOW,
      needBytes: 6 * GiB,
      freeBytes: 0,
    });
  });

  it('never evicts a server with requests in flight', () => {
    const state = fleet([
      ready('a', { lastUsedAt: 1, inFlight: 1 }),
      ready('b', { lastUsedAt: 2 }),
      ready('c', { lastUsedAt: 3, inFlight: 2 }),
      ready('d', { lastUsedAt: 4 }),
      server('e', { estimateBytes: 12 * GiB }),
    ]);
    expect(kinds(sut(state, { kind: 'load', modelId: 'e' }, OPTS))).toEqual([
      'stop:b:evicted',
      'stop:d:evicted',
      'queue:e',
    ]);
  });

  it('queues without evicting anyone when even every idle server would not make room', () => {
    const state = fleet([
      ready('a', { inFlight: 1 }),
      ready('b', { inFlight: 1 }),
      ready('c'),
      server('e', { estimateBytes: 13 * GiB }),
    ]);
    expect(sut(state, { kind: 'load', modelId: 'e' }, OPTS)).toEqual([
      {
        kind: 'queue',
        modelId: 'e',
        reason: 'Waiting for room (needs 13.0 GiB, 6.0 GiB free of 24.0 GiB); no idle on-demand server to stop',
        position: 1,
        queuedAt: NOW,
        needBytes: 13 * GiB,
        freeBytes: 6 * GiB,
      },
    ]);
  });

  it('never evicts an always server, a starting one, or one somebody waits for', () => {
    const state = fleet([
      ready('always', { startMode: 'always', lastUsedAt: 1 }),
      server('starting', { state: 'starting', lastUsedAt: 2 }),
      ready('awaited', { lastUsedAt: 3, waiters: 1 }),
      ready('idle', { lastUsedAt: 4 }),
      server('e'),
    ]);
    expect(kinds(sut(state, { kind: 'load', modelId: 'e' }, OPTS))).toEqual(['stop:idle:evicted', 'queue:e']);
  });

  it('applies maxRunning alone when the budget is off', () => {
    const big = (id: string, over: Partial<SchedServer> = {}): SchedServer =>
      server(id, { estimateBytes: 500 * GiB, ...over });
    const off = { budgetBytes: null, maxRunning: 2 };
    expect(
      kinds(sut(fleet([big('a', { state: 'ready' }), big('b')], off), { kind: 'load', modelId: 'b' }, OPTS)),
    ).toEqual(['start:b']);
    const two = [big('a', { state: 'ready', lastUsedAt: 2 }), big('b', { state: 'ready', lastUsedAt: 1 }), big('c')];
    expect(kinds(sut(fleet(two, off), { kind: 'load', modelId: 'c' }, OPTS))).toEqual(['stop:b:evicted', 'queue:c']);
    const busy = two.map((s) => (s.state === 'ready' ? { ...s, inFlight: 1 } : s));
    expect(sut(fleet(busy, off), { kind: 'load', modelId: 'c' }, OPTS)).toEqual([
      {
        kind: 'queue',
        modelId: 'c',
        reason: 'Waiting for room (2 of maxRunning 2 servers running); no idle on-demand server to stop',
        position: 1,
        queuedAt: NOW,
        needBytes: 500 * GiB,
        freeBytes: null,
      },
    ]);
  });

  it('counts a running server at the larger of its estimate and its measured memory', () => {
    const grown = fleet([
      ready('a', { estimateBytes: 4 * GiB, usedBytes: 10 * GiB }),
      server('b', { estimateBytes: 16 * GiB }),
    ]);
    expect(kinds(sut(grown, { kind: 'load', modelId: 'b' }, OPTS))).toEqual(['stop:a:evicted', 'queue:b']);
    const smaller = fleet([
      ready('a', { estimateBytes: 4 * GiB, usedBytes: 3 * GiB }),
      server('b', { estimateBytes: 20 * GiB }),
    ]);
    expect(kinds(sut(smaller, { kind: 'load', modelId: 'b' }, OPTS))).toEqual(['start:b']);
  });

  it('counts a starting server at its estimate and a stopping one until it has exited', () => {
    const state = fleet([
      server('starting', { state: 'starting', estimateBytes: 10 * GiB }),
      server('stopping', { state: 'stopping', estimateBytes: 10 * GiB, usedBytes: 9 * GiB }),
      server('b', { estimateBytes: 6 * GiB }),
    ]);
    expect(sut(state, { kind: 'load', modelId: 'b' }, OPTS)).toEqual([
      {
        kind: 'queue',
        modelId: 'b',
        reason: 'Waiting for stopping to stop (needs 6.0 GiB, 4.0 GiB free of 24.0 GiB)',
        position: 1,
        queuedAt: NOW,
        needBytes: 6 * GiB,
        freeBytes: 4 * GiB,
      },
    ]);
  });

  it('queues a load of a stopping server until its old process has exited, then starts it', () => {
    const stopping = fleet([server('a', { state: 'stopping' })]);
    expect(kinds(sut(stopping, { kind: 'load', modelId: 'a' }, OPTS))).toEqual(['queue:a']);
    const exited = fleet([server('a', { state: 'queued', queuedAt: NOW })]);
    expect(kinds(sut(exited, { kind: 'room-freed' }, OPTS))).toEqual(['start:a']);
  });

  it('puts a new load behind earlier queued ones even when it would fit now', () => {
    const state = fleet(
      [
        ready('busy', { inFlight: 1, estimateBytes: 8 * GiB }),
        server('big', { state: 'queued', queuedAt: 5, estimateBytes: 8 * GiB }),
        server('small', { estimateBytes: 2 * GiB }),
      ],
      { budgetBytes: 12 * GiB },
    );
    const ds = sut(state, { kind: 'load', modelId: 'small' }, OPTS);
    expect(kinds(ds)).toEqual(['queue:big', 'queue:small']);
    expect(ds[1]).toMatchObject({
      position: 2,
      reason: 'Queued behind big (position 2): loads are served in arrival order',
    });
  });

  it('keeps arrival order for two loads in the same millisecond: the later one is placed 1 ms after', () => {
    const state = fleet([
      ready('busy', { inFlight: 1, estimateBytes: 20 * GiB }),
      server('z', { state: 'queued', queuedAt: NOW }),
      server('a'),
    ]);
    expect(sut(state, { kind: 'load', modelId: 'a' }, OPTS)).toEqual([
      expect.objectContaining({ kind: 'queue', modelId: 'z', position: 1, queuedAt: NOW }),
      expect.objectContaining({ kind: 'queue', modelId: 'a', position: 2, queuedAt: NOW + 1 }),
    ]);
  });
});

describe('schedule: room-freed', () => {
  it('admits queued loads in arrival order, not the order the profile lists them', () => {
    const state = fleet(
      [
        server('c', { state: 'queued', queuedAt: 30, estimateBytes: 2 * GiB }),
        server('b', { state: 'queued', queuedAt: 10, estimateBytes: 8 * GiB }),
        server('d', { state: 'queued', queuedAt: 20, estimateBytes: 3 * GiB }),
      ],
      { budgetBytes: 12 * GiB },
    );
    expect(kinds(sut(state, { kind: 'room-freed' }, OPTS))).toEqual(['start:b', 'start:d', 'queue:c']);
  });

  it('keeps a later small load waiting behind an earlier big one (strict FIFO)', () => {
    const state = fleet(
      [
        ready('busy', { inFlight: 1, estimateBytes: 8 * GiB }),
        server('big', { state: 'queued', queuedAt: 1, estimateBytes: 8 * GiB }),
        server('small', { state: 'queued', queuedAt: 2, estimateBytes: 2 * GiB }),
      ],
      { budgetBytes: 12 * GiB },
    );
    expect(kinds(sut(state, { kind: 'room-freed' }, OPTS))).toEqual(['queue:big', 'queue:small']);
    const idle = { ...state, servers: state.servers.map((s) => (s.modelId === 'busy' ? { ...s, inFlight: 0 } : s)) };
    expect(kinds(sut(idle, { kind: 'room-freed' }, OPTS))).toEqual(['stop:busy:evicted', 'queue:big', 'queue:small']);
    const stopping = {
      ...state,
      servers: state.servers.map((s) => (s.modelId === 'busy' ? { ...s, state: 'stopping' as const } : s)),
    };
    expect(kinds(sut(stopping, { kind: 'room-freed' }, OPTS))).toEqual(['queue:big', 'queue:small']);
    const gone = { ...state, servers: state.servers.filter((s) => s.modelId !== 'busy') };
    expect(kinds(sut(gone, { kind: 'room-freed' }, OPTS))).toEqual(['start:big', 'start:small']);
  });

  it('does not evict again while the servers it evicted are still stopping', () => {
    const state = fleet([
      server('a', { state: 'stopping' }),
      ready('b', { lastUsedAt: 1 }),
      ready('c', { lastUsedAt: 2 }),
      ready('d', { lastUsedAt: 3 }),
      server('e', { state: 'queued', queuedAt: 1 }),
    ]);
    expect(sut(state, { kind: 'room-freed' }, OPTS)).toEqual([
      expect.objectContaining({
        kind: 'queue',
        modelId: 'e',
        reason: expect.stringContaining('Waiting for a to stop'),
      }),
    ]);
  });

  it('refuses a queued load that no longer fits a budget that shrank, and moves on', () => {
    const state = fleet(
      [
        server('big', { state: 'queued', queuedAt: 1, estimateBytes: 20 * GiB }),
        server('b', { state: 'queued', queuedAt: 2 }),
      ],
      { budgetBytes: 16 * GiB },
    );
    expect(kinds(sut(state, { kind: 'room-freed' }, OPTS))).toEqual(['refuse:big', 'start:b']);
  });

  it('puts queued always servers ahead of on-demand loads', () => {
    const state = fleet([
      server('od', { state: 'queued', queuedAt: 1, estimateBytes: 20 * GiB }),
      server('al', { startMode: 'always', state: 'queued', queuedAt: 5, estimateBytes: 20 * GiB }),
    ]);
    expect(kinds(sut(state, { kind: 'room-freed' }, OPTS))).toEqual(['start:al', 'queue:od']);
  });
});

describe('schedule: idle-check', () => {
  const at = (lastUsedAt: number, over: Partial<SchedServer> = {}): SchedState =>
    fleet([ready('a', { lastUsedAt, ...over })]);

  it('stops an on-demand server idle for exactly the timeout, not a millisecond before', () => {
    expect(sut(at(NOW - OPTS.idleTimeoutMs), { kind: 'idle-check' }, OPTS)).toEqual([
      { kind: 'stop', modelId: 'a', reason: 'idle' },
    ]);
    expect(sut(at(NOW - OPTS.idleTimeoutMs + 1), { kind: 'idle-check' }, OPTS)).toEqual([]);
  });

  it('keeps a server with requests in flight or waiters, an always server and one not ready', () => {
    const old = NOW - 10 * OPTS.idleTimeoutMs;
    for (const over of [
      { inFlight: 1 },
      { waiters: 1 },
      { startMode: 'always' as const },
      { state: 'starting' as const },
      { state: 'restarting' as const },
    ])
      expect(sut(at(old, over), { kind: 'idle-check' }, OPTS)).toEqual([]);
  });

  it('counts the idle stops as room on the way for the queue, evicting nobody else', () => {
    const old = NOW - OPTS.idleTimeoutMs;
    const state = fleet([
      ready('idle', { lastUsedAt: old }),
      ready('fresh', { lastUsedAt: NOW - 1 }),
      ready('x', { lastUsedAt: NOW - 1, inFlight: 1 }),
      ready('y', { lastUsedAt: NOW - 1, inFlight: 1 }),
      server('e', { state: 'queued', queuedAt: 1 }),
    ]);
    expect(kinds(sut(state, { kind: 'idle-check' }, OPTS))).toEqual(['stop:idle:idle', 'queue:e']);
  });
});

describe('schedule: waiters-gone', () => {
  it('drops a queued load nobody waits for and admits the next one', () => {
    const state = fleet(
      [
        ready('busy', { inFlight: 1, estimateBytes: 8 * GiB }),
        server('big', { state: 'queued', queuedAt: 1, estimateBytes: 8 * GiB }),
        server('small', { state: 'queued', queuedAt: 2, estimateBytes: 2 * GiB, waiters: 1 }),
      ],
      { budgetBytes: 12 * GiB },
    );
    expect(kinds(sut(state, { kind: 'waiters-gone', modelId: 'big' }, OPTS))).toEqual([
      'stop:big:cancelled',
      'start:small',
    ]);
  });

  it('stops a starting load nobody waits for, and counts its memory as on the way back', () => {
    const state = fleet([
      server('a', { state: 'starting', estimateBytes: 20 * GiB }),
      server('b', { state: 'queued', queuedAt: 1, estimateBytes: 10 * GiB, waiters: 1 }),
    ]);
    const ds = sut(state, { kind: 'waiters-gone', modelId: 'a' }, OPTS);
    expect(kinds(ds)).toEqual(['stop:a:cancelled', 'queue:b']);
    expect(ds[1]).toMatchObject({ reason: expect.stringContaining('Waiting for a to stop') });
  });

  it('cancels the restart waiting behind a stopping process', () => {
    const state = fleet([server('a', { state: 'stopping', queuedAt: 1 })]);
    expect(kinds(sut(state, { kind: 'waiters-gone', modelId: 'a' }, OPTS))).toEqual(['stop:a:cancelled']);
  });

  it('leaves ready servers, always servers and loads somebody still waits for', () => {
    for (const s of [
      ready('a'),
      server('a', { state: 'starting', startMode: 'always' }),
      server('a', { state: 'queued', queuedAt: 1, waiters: 1 }),
      server('a'),
    ])
      expect(sut(fleet([s]), { kind: 'waiters-gone', modelId: 'a' }, OPTS)).toEqual([]);
  });
});

describe('schedule: activate', () => {
  const always = (id: string, gib: number, over: Partial<SchedServer> = {}): SchedServer =>
    server(id, { startMode: 'always', state: 'stopped', estimateBytes: gib * GiB, ...over });

  it('places always servers in the profile order and fails those that do not fit, with the figures', () => {
    const state = fleet(
      [always('a', 8), always('b', 10), always('c', 6), always('d', 2), server('od', { estimateBytes: GiB })],
      {
        budgetBytes: 20 * GiB,
      },
    );
    const ds = sut(state, { kind: 'activate' }, OPTS);
    expect(kinds(ds)).toEqual(['start:a', 'start:b', 'fail:c', 'start:d']);
    expect(ds[2]).toEqual({
      kind: 'fail',
      modelId: 'c',
      reason: 'Does not fit beside the servers placed before it: needs 6.0 GiB, 2.0 GiB free of 20.0 GiB',
      needBytes: 6 * GiB,
      freeBytes: 2 * GiB,
    });
  });

  it('fails an always server larger than the whole budget', () => {
    const ds = sut(fleet([always('a', 30)]), { kind: 'activate' }, OPTS);
    expect(ds).toEqual([expect.objectContaining({ kind: 'fail', modelId: 'a', needBytes: 30 * GiB })]);
    expect(ds[0]).toMatchObject({ reason: 'Larger than the whole memory budget: needs 30.0 GiB, budget 24.0 GiB' });
  });

  it('honours maxRunning in the profile order', () => {
    const state = fleet([always('a', 1), always('b', 1), always('c', 1)], { budgetBytes: null, maxRunning: 2 });
    const ds = sut(state, { kind: 'activate' }, OPTS);
    expect(kinds(ds)).toEqual(['start:a', 'start:b', 'fail:c']);
    expect(ds[2]).toMatchObject({
      reason: expect.stringContaining('2 of maxRunning 2 servers running'),
      freeBytes: null,
    });
  });

  it('skips running always servers and leaves on-demand ones unloaded', () => {
    const state = fleet([
      always('a', 8, { state: 'ready' }),
      always('b', 8, { state: 'starting' }),
      server('od'),
      always('c', 8, { state: 'failed' }),
    ]);
    expect(kinds(sut(state, { kind: 'activate' }, OPTS))).toEqual(['start:c']);
  });

  it('evicts idle on-demand servers for an always server, and keeps its claim from later ones', () => {
    const state = fleet([
      ready('od1', { lastUsedAt: 1, estimateBytes: 10 * GiB }),
      ready('od2', { lastUsedAt: 2, estimateBytes: 10 * GiB, inFlight: 1 }),
      always('a', 12),
      always('b', 2),
      always('c', 4),
      server('q', { state: 'queued', queuedAt: 1, estimateBytes: GiB }),
    ]);
    // 4 GiB free now; a needs 12: evict od1 (4 + 10 >= 12) and wait, claiming 12 of those 14.
    // b takes 2 of the 2 left; c would have to take a's claim and nobody else is idle: it fails.
    // The on-demand load q waits behind a.
    const ds = sut(state, { kind: 'activate' }, OPTS);
    expect(kinds(ds)).toEqual(['stop:od1:evicted', 'queue:a', 'start:b', 'fail:c', 'queue:q']);
    expect(ds[3]).toMatchObject({ needBytes: 4 * GiB, freeBytes: 0 });
    expect(ds[4]).toMatchObject({
      position: 2,
      reason: 'Queued behind a (position 2): loads are served in arrival order',
    });
  });

  it('waits for a previous profile still stopping rather than failing', () => {
    const state = fleet([server('old', { state: 'stopping', estimateBytes: 20 * GiB }), always('a', 20)]);
    expect(kinds(sut(state, { kind: 'activate' }, OPTS))).toEqual(['queue:a']);
  });
});

describe('memoryView', () => {
  it('sums what every server holding a process counts for', () => {
    const state = fleet([
      server('starting', { state: 'starting', estimateBytes: 2 * GiB }),
      ready('ready', { estimateBytes: 2 * GiB, usedBytes: 3 * GiB }),
      server('restarting', { state: 'restarting', estimateBytes: 4 * GiB }),
      server('stopping', { state: 'stopping', estimateBytes: 5 * GiB }),
      server('queued', { state: 'queued', queuedAt: 1 }),
      server('unloaded'),
      server('failed', { state: 'failed' }),
      server('stopped', { state: 'stopped' }),
    ]);
    expect(memoryView(state)).toEqual({ budgetBytes: 24 * GiB, reservedBytes: 14 * GiB, freeBytes: 10 * GiB });
  });

  it('never reports free memory below 0, and none without a budget', () => {
    const over = [ready('a', { usedBytes: 30 * GiB })];
    expect(memoryView(fleet(over))).toEqual({ budgetBytes: 24 * GiB, reservedBytes: 30 * GiB, freeBytes: 0 });
    expect(memoryView(fleet(over, { budgetBytes: null }))).toEqual({
      budgetBytes: null,
      reservedBytes: 30 * GiB,
      freeBytes: null,
    });
  });
});

describe('chooseTierServer', () => {
  const t = (modelId: string, over: Partial<TierServer> = {}): TierServer => ({
    modelId,
    tier: 'fast',
    startMode: 'on_demand',
    state: 'unloaded',
    estimateBytes: 4 * GiB,
    ...over,
  });

  it('prefers every ready server of the tier, in profile order', () => {
    const servers = [
      t('small'),
      t('r1', { state: 'ready', estimateBytes: 9 * GiB }),
      t('r2', { state: 'ready' }),
      t('other', { tier: 'balanced', state: 'ready' }),
    ];
    expect(chooseTierServer(servers, 'fast')).toEqual({ kind: 'ready', modelIds: ['r1', 'r2'] });
  });

  it('waits for one already loading rather than loading a second', () => {
    const servers = [t('small', { estimateBytes: GiB }), t('big', { state: 'starting', estimateBytes: 9 * GiB })];
    expect(chooseTierServer(servers, 'fast')).toEqual({ kind: 'loading', modelId: 'big' });
  });

  it('else loads the on-demand model with the smallest estimate, first in profile order on a tie', () => {
    const servers = [
      t('always', { startMode: 'always', state: 'stopped', estimateBytes: GiB }),
      t('broken', { state: 'failed', estimateBytes: GiB }),
      t('elsewhere', { tier: 'balanced', estimateBytes: GiB }),
      t('b', { estimateBytes: 3 * GiB }),
      t('a', { state: 'stopped', estimateBytes: 2 * GiB }),
      t('c', { estimateBytes: 2 * GiB }),
    ];
    expect(chooseTierServer(servers, 'fast')).toEqual({ kind: 'load', modelId: 'a' });
  });

  it('loads a stopping on-demand model again rather than answering none (its load waits for the exit)', () => {
    const servers = [t('idle', { state: 'stopping' }), t('always', { startMode: 'always', state: 'stopping' })];
    expect(chooseTierServer(servers, 'fast')).toEqual({ kind: 'load', modelId: 'idle' });
  });

  it('says none when the tier has nothing to run', () => {
    expect(chooseTierServer([t('x', { tier: 'powerful' }), t('y', { state: 'failed' })], 'fast')).toEqual({
      kind: 'none',
    });
  });
});

/**
 * A tiny fleet: applies decisions to the state as FleetService would, and models what the
 * world does between events (processes become ready and exit, requests finish, clients leave).
 */
class Sim {
  servers: SchedServer[];
  now = 0;
  constructor(
    servers: SchedServer[],
    readonly budgetBytes: number | null,
    readonly maxRunning: number | null,
  ) {
    this.servers = servers;
  }

  state(): SchedState {
    return { servers: this.servers, budgetBytes: this.budgetBytes, maxRunning: this.maxRunning, now: this.now };
  }

  send(event: Parameters<typeof schedule>[1]): void {
    for (const d of schedule(this.state(), event, OPTS)) {
      const key = d.kind === 'stop' ? `stop:${d.reason}` : d.kind;
      this.seen.set(key, (this.seen.get(key) ?? 0) + 1);
      this.apply(d);
      this.checkLimits(d);
    }
  }

  private apply(d: Decision): void {
    const s = this.get(d.modelId);
    switch (d.kind) {
      case 'start':
        if (!['unloaded', 'stopped', 'failed', 'queued'].includes(s.state)) this.violate(d, `started from ${s.state}`);
        if (this.waitingAhead(s).length > 0) this.violate(d, `started ahead of ${this.waitingAhead(s).join(', ')}`);
        this.set(d.modelId, { state: 'starting', queuedAt: null });
        return;
      case 'stop':
        if (d.reason === 'evicted' && !(s.state === 'ready' && s.inFlight === 0 && s.waiters === 0))
          this.violate(d, `evicted a ${s.state} server with ${s.inFlight} in flight, ${s.waiters} waiting`);
        if (s.state === 'queued') this.set(d.modelId, { state: 'unloaded', queuedAt: null });
        else this.set(d.modelId, { state: 'stopping', queuedAt: null });
        return;
      case 'queue':
        if (s.state !== 'stopping') this.set(d.modelId, { state: 'queued' });
        this.set(d.modelId, { queuedAt: d.queuedAt });
        return;
      case 'refuse':
      case 'fail':
        this.set(d.modelId, { waiters: 0, state: s.state === 'queued' ? 'unloaded' : s.state, queuedAt: null });
        return;
      case 'already-ready':
        this.set(d.modelId, { waiters: s.waiters - 1, inFlight: s.inFlight + 1, lastUsedAt: this.now });
        return;
      case 'already-loading':
        return;
    }
  }

  /** Loads still waiting that arrived before `s` (a load not queued yet arrives now, after all of them). */
  private waitingAhead(s: SchedServer): string[] {
    const order = (x: SchedServer): [number, number] => [
      x.queuedAt ?? this.now,
      x.queuedAt === null ? Infinity : this.servers.indexOf(x),
    ];
    const [at, index] = order(s);
    return this.servers
      .filter((x) => x !== s && (x.state === 'queued' || (x.state === 'stopping' && x.queuedAt !== null)))
      .filter((x) => order(x)[0] < at || (order(x)[0] === at && order(x)[1] < index))
      .map((x) => x.modelId);
  }

  /**
   * Counted here by the rule itself, not through the module: every process (starting, ready,
   * restarting, stopping) at the larger of estimate and measurement. Measured memory may grow past
   * the estimate on its own, so the limits are checked where a decision adds a process: a start.
   */
  private checkLimits(d: Decision): void {
    if (d.kind !== 'start') return;
    const holding = this.servers.filter((s) => ['starting', 'ready', 'restarting', 'stopping'].includes(s.state));
    const reserved = holding.reduce((n, s) => n + Math.max(s.estimateBytes, s.usedBytes ?? 0), 0);
    if (this.budgetBytes !== null && reserved > this.budgetBytes) this.violate(d, `reserved ${reserved}`);
    if (this.maxRunning !== null && holding.length > this.maxRunning) this.violate(d, `${holding.length} running`);
  }

  /** How often each decision was taken: the sequences must exercise every rule. */
  readonly seen = new Map<string, number>();

  /** Plain checks in the hot loop (an expect per decision is slow); the test asserts the list is empty. */
  readonly violations: string[] = [];
  private violate(d: Decision, what: string): void {
    this.violations.push(`${JSON.stringify(d)}: ${what}`);
  }

  get(modelId: string): SchedServer {
    const s = this.servers.find((x) => x.modelId === modelId);
    if (!s) throw new Error(`no ${modelId}`);
    return s;
  }

  set(modelId: string, change: Partial<SchedServer>): void {
    this.servers = this.servers.map((s) => (s.modelId === modelId ? { ...s, ...change } : s));
  }

  // The world, between events.
  request(modelId: string): void {
    this.set(modelId, { waiters: this.get(modelId).waiters + 1 });
    this.send({ kind: 'load', modelId });
  }
  becomeReady(modelId: string, used: number): void {
    const s = this.get(modelId);
    this.set(modelId, {
      state: 'ready',
      usedBytes: used,
      inFlight: s.inFlight + s.waiters,
      waiters: 0,
      lastUsedAt: this.now,
    });
  }
  finish(modelId: string): void {
    const s = this.get(modelId);
    this.set(modelId, { inFlight: s.inFlight - 1, lastUsedAt: this.now });
    if (s.inFlight === 1) this.send({ kind: 'room-freed' });
  }
  exit(modelId: string): void {
    const s = this.get(modelId);
    this.set(modelId, { state: s.queuedAt === null ? 'unloaded' : 'queued', usedBytes: null });
    this.send({ kind: 'room-freed' });
  }
  leave(modelId: string): void {
    const s = this.get(modelId);
    this.set(modelId, { waiters: s.waiters - 1 });
    if (s.waiters === 1) this.send({ kind: 'waiters-gone', modelId });
  }
}

/** mulberry32: a seeded generator, so a failing sequence can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('schedule: random event sequences over six on-demand models with room for two', () => {
  // Any two fit in 20 GiB by their estimates, no three do; measured memory runs 70-130 % of the estimate.
  // maxRunning 2 says the same without a budget.
  const estimates = [7, 8, 9, 10, 7.5, 8.5].map((g) => g * GiB);
  const limits: [string, number | null, number | null][] = [
    ['budget', 20 * GiB, null],
    ['maxRunning', null, 2],
    ['both', 20 * GiB, 2],
  ];

  it.each(limits)(
    'stays within the limits, never evicts a busy server, keeps arrival order and drains the queue (%s)',
    (_name, budget, maxRunning) => {
      const seen = new Set<string>();
      for (let seed = 1; seed <= 150; seed++) {
        const rnd = random(seed);
        const pick = <T>(list: readonly T[]): T | undefined =>
          list.length ? list[Math.floor(rnd() * list.length)] : undefined;
        const sim = new Sim(
          estimates.map((e, i) => server(`m${i}`, { estimateBytes: e })),
          budget,
          maxRunning,
        );
        const step = (): void => {
          const roll = rnd();
          const { servers } = sim;
          const id = (f: (s: SchedServer) => boolean): string | undefined => pick(servers.filter(f))?.modelId;
          let target: string | undefined;
          if (roll < 0.3) sim.request(pick(servers)!.modelId);
          else if (roll < 0.45 && (target = id((s) => s.state === 'starting')))
            sim.becomeReady(target, Math.round(sim.get(target).estimateBytes * (0.7 + 0.6 * rnd())));
          else if (roll < 0.65 && (target = id((s) => s.inFlight > 0))) sim.finish(target);
          else if (roll < 0.75 && (target = id((s) => s.state === 'stopping'))) sim.exit(target);
          else if (roll < 0.85 && (target = id((s) => s.waiters > 0 && s.state !== 'ready'))) sim.leave(target);
          else {
            sim.now += Math.floor(rnd() * OPTS.idleTimeoutMs * 0.6);
            sim.send({ kind: 'idle-check' });
          }
        };
        for (let i = 0; i < 200; i++) step();

        // The fleet falls quiet: every process settles, every request finishes. Nothing may stay queued.
        for (let round = 0; round < 50; round++) {
          for (const s of sim.servers.filter((x) => x.state === 'starting'))
            sim.becomeReady(s.modelId, s.estimateBytes);
          for (const s of sim.servers.filter((x) => x.inFlight > 0))
            for (let n = s.inFlight; n > 0; n--) sim.finish(s.modelId);
          for (const s of sim.servers.filter((x) => x.state === 'stopping')) sim.exit(s.modelId);
        }
        for (const key of sim.seen.keys()) seen.add(key);
        expect({ seed, violations: sim.violations }).toEqual({ seed, violations: [] });
        expect({
          seed,
          queued: sim.servers.filter((s) => s.state === 'queued' || s.waiters > 0).map((s) => s.modelId),
        }).toEqual({
          seed,
          queued: [],
        });
      }
      expect([...seen].sort()).toEqual(
        ['already-loading', 'already-ready', 'queue', 'start', 'stop:cancelled', 'stop:evicted', 'stop:idle'].sort(),
      );
    },
  );
});
