/**
 * Supervision with real stand-in processes: readiness timeout, crash restarts with
 * back-off, give-up, SIGKILL escalation, no orphans, flag drift, missing model file.
 */
import { rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STANDIN_HELP_PATH, isPidAlive, listProcesses } from '../support/fixtures';
import { FleetApp, idOf, pidsOf, serverOf, startFleetApp, waitForServers } from './fleet.helpers';

jest.setTimeout(60000);

const A = idOf('alpha');
const B = idOf('bravo');

const logsOf = async (app: FleetApp, id: string): Promise<string[]> =>
  (await app.get(`/api/models/servers/${id}/logs?lines=5000`)).body.lines;

describe('Readiness timeout', () => {
  let app: FleetApp;
  afterEach(async () => app?.close());

  it('kills a server that is not ready within MAX_STARTUP_TIME and marks it failed with the reason and output tail', async () => {
    app = await startFleetApp({
      models: ['alpha'],
      standin: { '*': { LOAD_MS: 60000 } },
      env: { MAX_STARTUP_TIME: '1' },
    });
    const starting = await waitForServers(app, (b) => serverOf(b, A)?.pid && b, 5000, 'pid');
    const pid = serverOf(starting, A).pid;
    const body = await waitForServers(app, (b) => serverOf(b, A).state === 'failed' && b, 10000, 'failed');
    const s = serverOf(body, A);
    expect(s.lastError).toMatch(
      /^not ready within MAX_STARTUP_TIME \(1 s\): GET \/health answered 503 \(Loading model\); killed; last output: .*loading model/,
    );
    expect(s.pid).toBeNull();
    expect(s.isRunning).toBe(false);
    expect(isPidAlive(pid)).toBe(false);
    // Failed for good: no restart.
    expect(app.events().filter((e) => e.event === 'start')).toHaveLength(1);
  });
});

describe('Crash restarts', () => {
  let app: FleetApp;
  afterEach(async () => app?.close());

  it('restarts a server that exits unexpectedly with a doubling back-off, on a new pid and the same port', async () => {
    app = await startFleetApp({ models: ['alpha'], standin: { '*': { LOAD_MS: 50, CRASH_AFTER_MS: 250 } } });
    const first = serverOf(await waitForServers(app, (b) => serverOf(b, A)?.state === 'ready' && b, 10000, 'ready'), A);
    // Three crashes, then it stays up.
    await waitForServers(app, (b) => serverOf(b, A).restarts >= 3, 15000, '3 restarts');
    app.setStandin({ '*': { LOAD_MS: 50 } });
    const body = await waitForServers(
      app,
      (b) => {
        const s = serverOf(b, A);
        return s.state === 'ready' && app.events().filter((e) => e.event === 'crash').length === s.restarts && b;
      },
      15000,
      'ready after the crashes',
    );
    const s = serverOf(body, A);
    expect(s.restarts).toBeGreaterThanOrEqual(3);
    expect(s.pid).not.toBe(first.pid);
    expect(s.port).toBe(first.port);
    expect(s.lastError).toMatch(/^exited with code 1; last output: .*GGML_ASSERT/);
    const delays = (await logsOf(app, A))
      .map((l) => /^\[magi\] exited with code 1; restarting in (\d+) ms/.exec(l)?.[1])
      .filter(Boolean)
      .map(Number);
    // FLEET_BACKOFF_INITIAL_MS=100 doubling, capped at FLEET_BACKOFF_MAX_MS=400.
    expect(delays.slice(0, 4)).toEqual([100, 200, 400, 400].slice(0, Math.min(4, delays.length)));
    expect(delays.length).toBeGreaterThanOrEqual(3);
    const pids = new Set(
      app
        .events()
        .filter((e) => e.event === 'start')
        .map((e) => e.pid),
    );
    expect(pids.size).toBe(s.restarts + 1);
  });

  it('gives up after FLEET_MAX_FAILURES failures within the window and stays failed', async () => {
    app = await startFleetApp({
      models: ['alpha', 'bravo'],
      standin: { [A]: { EXIT_AT_ONCE: 7 } },
      env: { FLEET_MAX_FAILURES: '3' },
    });
    const body = await waitForServers(
      app,
      (b) => serverOf(b, A).state === 'failed' && serverOf(b, B).state === 'ready' && b,
      15000,
      'failed',
    );
    const s = serverOf(body, A);
    expect(s.lastError).toMatch(
      /^gave up after 3 failures within 600 s; last: exited with code 7; last output: .*STANDIN_EXIT_AT_ONCE/,
    );
    expect(s.restarts).toBe(2);
    await new Promise((r) => setTimeout(r, 800));
    expect(app.events().filter((e) => e.event === 'start' && e.alias === A)).toHaveLength(3);
    // The other server is not affected.
    expect(serverOf((await app.get('/api/models/servers')).body, B).state).toBe('ready');
    // Activating the profile again retries a failed server.
    app.setStandin({});
    const act = await app.send('POST', '/api/models/profiles/development/activate');
    expect(act.status).toBe(200);
    expect(act.body.started).toEqual([A]);
    expect(act.body.kept).toEqual([B]);
    const again = serverOf(await waitForServers(app, (b) => serverOf(b, A).state === 'ready' && b, 10000, 'ready'), A);
    expect(again.restarts).toBe(0);
  });

  it('fails at once, without a crash loop, when llama-server rejects an argument value', async () => {
    app = await startFleetApp({ models: ['alpha'], server: { extraArgs: ['--flash-attn', 'maybe'] } });
    const s = serverOf(await waitForServers(app, (b) => serverOf(b, A)?.state === 'failed' && b, 10000, 'failed'), A);
    expect(s.lastError).toMatch(
      /^llama-server rejected the value of --flash-attn \(exited with code 1\); last output: .*unknown value for --flash-attn/,
    );
    expect(s.restarts).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(app.events().filter((e) => e.event === 'start')).toHaveLength(0); // rejected before it started
    expect(serverOf((await app.get('/api/models/servers')).body, A).state).toBe('failed');
  });
});

describe('Stopping', () => {
  let app: FleetApp;
  afterEach(async () => app?.close());

  it('sends SIGKILL to a server that ignores SIGTERM once FLEET_STOP_GRACE_SECONDS have passed', async () => {
    app = await startFleetApp({
      models: ['alpha', 'bravo'],
      standin: { [A]: { IGNORE_SIGTERM: 1 } },
      env: { FLEET_STOP_GRACE_SECONDS: '0.5' },
    });
    const body = await waitForServers(app, (b) => b.readyServers === 2 && b, 10000, 'ready');
    const pid = serverOf(body, A).pid;
    const res = await app.send('PUT', `/api/models/${A}/enabled`, { enabled: false });
    expect(res.status).toBe(200);
    expect(res.body.restartRequired).toBe(false);
    // The PUT answers once the stop is done: the process is gone.
    expect(isPidAlive(pid)).toBe(false);
    const sigterm = app.events().filter((e) => e.event === 'sigterm' && e.pid === pid);
    expect(sigterm).toHaveLength(1);
    expect(sigterm[0].fields.ignored).toBe('1');
    expect(app.events().some((e) => e.event === 'exit' && e.pid === pid)).toBe(false); // killed, no exit handler ran
    const logs = await logsOf(app, A);
    expect(logs.some((l) => l.includes('still running 0.5 s after SIGTERM; sending SIGKILL'))).toBe(true);
    const after = (await app.get('/api/models/servers')).body;
    expect(after.totalServers).toBe(1);
    expect(after.servers.map((s: { modelId: string }) => s.modelId)).toEqual([B]);
  });

  it('leaves no process behind after app.close(), forked grandchildren included', async () => {
    app = await startFleetApp({ models: ['alpha', 'bravo'], standin: { '*': { FORK_GRANDCHILD: 1 } } });
    await waitForServers(app, (b) => b.readyServers === 2, 10000, 'ready');
    const events = app.events();
    const grandchildren = events.filter((e) => e.event === 'grandchild').map((e) => Number(e.fields.grandchild));
    expect(grandchildren).toHaveLength(2);
    const pids = pidsOf(events);
    expect(pids.filter(isPidAlive)).toHaveLength(4);
    const groups = new Set(events.filter((e) => e.event === 'start').map((e) => e.pid));
    for (const g of grandchildren) expect(groups.has(listProcesses().find((p) => p.pid === g)!.pgid)).toBe(true);
    await app.t.close({ keepDirs: true });
    expect(pids.filter(isPidAlive)).toEqual([]);
    expect(listProcesses().filter((p) => groups.has(p.pgid) && p.state !== 'Z')).toEqual([]);
    await app.close();
  });

  it('kills the grandchild a crashed server left behind before restarting it', async () => {
    app = await startFleetApp({ models: ['alpha'], standin: { '*': { FORK_GRANDCHILD: 1 } } });
    const first = serverOf(await waitForServers(app, (b) => b.readyServers === 1 && b, 10000, 'ready'), A);
    const grandchild = Number(app.events().find((e) => e.event === 'grandchild')!.fields.grandchild);
    process.kill(first.pid, 'SIGKILL');
    await waitForServers(
      app,
      (b) => serverOf(b, A).state === 'ready' && serverOf(b, A).pid !== first.pid,
      10000,
      'restarted',
    );
    expect(isPidAlive(grandchild)).toBe(false);
  });
});

describe('Reconcile', () => {
  let app: FleetApp;
  afterEach(async () => app?.close());

  it('applies PUT enabled live: the others keep their pids, the disabled one stops, re-enabling starts it again', async () => {
    app = await startFleetApp({ models: ['alpha', 'bravo', 'charlie'] });
    const body = await waitForServers(app, (b) => b.readyServers === 3 && b, 10000, 'ready');
    const pid = (id: string, b = body) => serverOf(b, id).pid;
    const C = idOf('charlie');
    const off = await app.send('PUT', `/api/models/${B}/enabled`, { enabled: false });
    expect(off.body).toEqual(expect.objectContaining({ modelId: B, enabled: false, restartRequired: false }));
    const afterOff = (await app.get('/api/models/servers')).body;
    expect(afterOff.servers.map((s: { modelId: string }) => s.modelId)).toEqual([A, C]);
    expect(pid(A, afterOff)).toBe(pid(A));
    expect(pid(C, afterOff)).toBe(pid(C));
    expect(isPidAlive(pid(B))).toBe(false);

    const on = await app.send('PUT', `/api/models/${B}/enabled`, { enabled: true });
    expect(on.body.restartRequired).toBe(false);
    const afterOn = await waitForServers(app, (b) => b.readyServers === 3 && b, 10000, 'ready again');
    expect(pid(A, afterOn)).toBe(pid(A));
    expect(pid(C, afterOn)).toBe(pid(C));
    expect(pid(B, afterOn)).not.toBe(pid(B));
  });

  it('activating a profile keeps the servers that stay, stops the others and starts the new ones', async () => {
    const C = idOf('charlie');
    const D = idOf('delta');
    app = await startFleetApp({
      models: ['alpha', 'bravo', 'charlie', 'delta'],
      enabledModels: [A, B, C],
      profiles: { other: [B, C, D] },
    });
    const body = await waitForServers(app, (b) => b.readyServers === 3 && b, 10000, 'ready');
    const res = await app.send('POST', '/api/models/profiles/other/activate');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(
      expect.objectContaining({ activeProfile: 'other', started: [D], stopped: [A], kept: [B, C] }),
    );
    // It answered once the stop was done and the start launched.
    expect(isPidAlive(serverOf(body, A).pid)).toBe(false);
    const now = (await app.get('/api/models/servers')).body;
    expect(now.totalServers).toBe(3);
    expect(serverOf(now, D).pid).toEqual(expect.any(Number));
    const after = await waitForServers(app, (b) => b.readyServers === 3 && b, 10000, 'ready');
    expect(serverOf(after, B).pid).toBe(serverOf(body, B).pid);
    expect(serverOf(after, C).pid).toBe(serverOf(body, C).pid);
    expect(after.servers.map((s: { modelId: string }) => s.modelId)).toEqual([B, C, D]);
  });

  it('converges to the last of a burst of changes', async () => {
    app = await startFleetApp({ models: ['alpha', 'bravo'] });
    const body = await waitForServers(app, (b) => b.readyServers === 2 && b, 10000, 'ready');
    const toggles = [false, true, false, true, false];
    const results = await Promise.all(
      toggles.map((enabled) => app.send('PUT', `/api/models/${B}/enabled`, { enabled })),
    );
    for (const r of results) expect(r.status).toBe(200);
    const registry = (await app.get(`/api/models/registry/${B}`)).body;
    const final = await waitForServers(
      app,
      (b) => b.totalServers === (registry.enabled ? 2 : 1) && b.readyServers === b.totalServers && b,
      10000,
      'converged',
    );
    expect(final.servers.map((s: { modelId: string }) => s.modelId)).toEqual(registry.enabled ? [A, B] : [A]);
    expect(serverOf(final, A).pid).toBe(serverOf(body, A).pid);
    // No server of the stopped model is left running.
    const running = app
      .events()
      .filter((e) => e.alias === B && e.event === 'start')
      .map((e) => e.pid)
      .filter(isPidAlive);
    expect(running.length).toBe(registry.enabled ? 1 : 0);
  });

  it('stops the server of a model whose file disappeared at the next rescan', async () => {
    app = await startFleetApp({ models: ['alpha', 'bravo'] });
    const body = await waitForServers(app, (b) => b.readyServers === 2 && b, 10000, 'ready');
    rmSync(join(app.dirs.models, 'bravo-1B-Q4_K_M.gguf'));
    expect((await app.send('POST', '/api/models/rescan')).status).toBe(200);
    const after = await waitForServers(
      app,
      (b) => b.totalServers === 1 && b.servers.length === 1 && b,
      10000,
      'one server',
    );
    expect(after.servers[0].modelId).toBe(A);
    expect(after.servers[0].pid).toBe(serverOf(body, A).pid);
    await waitForServers(app, () => !isPidAlive(serverOf(body, B).pid), 5000, 'bravo gone');
  });
});

describe('Per-server errors', () => {
  let app: FleetApp;
  afterEach(async () => app?.close());

  it('marks a server failed with "model file not found" when its file is gone at restart, without a crash loop', async () => {
    app = await startFleetApp({ models: ['alpha'] });
    const first = serverOf(await waitForServers(app, (b) => b.readyServers === 1 && b, 10000, 'ready'), A);
    const file = (await app.get(`/api/models/registry/${A}`)).body.filePath;
    rmSync(file);
    process.kill(first.pid, 'SIGKILL');
    const s = serverOf(await waitForServers(app, (b) => serverOf(b, A).state === 'failed' && b, 10000, 'failed'), A);
    expect(s.lastError).toBe(`model file not found: ${file}`);
    expect(app.events().filter((e) => e.event === 'start')).toHaveLength(1);
  });

  it('leaves out a profile setting this llama-server build does not know and reports it, instead of crash-looping', async () => {
    const help = readFileSync(STANDIN_HELP_PATH, 'utf8')
      .split('\n')
      .filter((l) => !l.startsWith('-c,    --ctx-size'))
      .join('\n');
    const helpFile = join(tmpdir(), `fleet-help-${process.pid}.txt`);
    writeFileSync(helpFile, help);
    process.env.STANDIN_HELP_FILE = helpFile;
    try {
      app = await startFleetApp({
        models: ['alpha'],
        server: { ctxSize: 2048, extraArgs: ['--no-such-flag', '3', '--metrics'] },
      });
      const s = serverOf(await waitForServers(app, (b) => b.readyServers === 1 && b, 10000, 'ready'), A);
      expect(s.restarts).toBe(0);
      expect(s.lastError).toContain('server.ctxSize=2048 ignored: this llama-server build has no --ctx-size flag');
      expect(s.lastError).toContain('server.extraArgs "--no-such-flag 3" ignored');
      const proc = listProcesses().find((p) => p.pid === s.pid)!;
      expect(proc.cmdline).not.toContain('--ctx-size');
      expect(proc.cmdline).not.toContain('--no-such-flag');
      expect(proc.cmdline).toContain('--metrics');
    } finally {
      delete process.env.STANDIN_HELP_FILE;
      rmSync(helpFile, { force: true });
    }
  });
});
