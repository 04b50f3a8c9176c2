/**
 * The fleet over real HTTP with real llama-server stand-in processes: concurrent start,
 * the servers and logs routes, readiness, ports, and a missing binary.
 */
import { createServer, Server } from 'node:net';
import { STANDIN_PATH, httpRequest, isPidAlive, listProcesses } from '../support/fixtures';
import { isErrorShape, nonCamelKeys } from '../support/json';
import { FleetApp, idOf, serverOf, startFleetApp, waitForServers } from './fleet.helpers';

jest.setTimeout(60000);

const NAMES8 = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];

describe('Fleet start-up', () => {
  let app: FleetApp;
  afterEach(async () => app?.close());

  it('starts one server per enabled model concurrently: 8 servers with a 3 s load overlap and all become ready', async () => {
    app = await startFleetApp({ models: NAMES8, standin: { '*': { LOAD_MS: 3000 } } });
    // The API answers before the fleet is ready: every server is listed as starting.
    const first = await app.get('/api/models/servers');
    expect(first.status).toBe(200);
    expect(first.body.totalServers).toBe(8);
    expect(first.body.servers.map((s: { modelId: string }) => s.modelId)).toEqual(app.ids.slice().sort());

    const body = await waitForServers(app, (b) => b.readyServers === 8 && b, 20000, '8 ready servers');
    expect(body.totalServers).toBe(8);
    const events = app.events();
    const starts = events.filter((e) => e.event === 'start');
    const readies = events.filter((e) => e.event === 'ready');
    expect(starts).toHaveLength(8);
    expect(readies).toHaveLength(8);
    // Concurrent, not one after the other: every process started before any finished loading
    // (3 s of loading leaves room for eight Node start-ups on a busy 2-core machine).
    expect(Math.max(...starts.map((e) => e.t))).toBeLessThan(Math.min(...readies.map((e) => e.t)));

    const ports = body.servers.map((s: { port: number }) => s.port);
    expect(new Set(ports).size).toBe(8);
    for (const s of body.servers) {
      expect(s).toEqual({
        modelId: expect.any(String),
        displayName: expect.any(String),
        port: expect.any(Number),
        pid: expect.any(Number),
        state: 'ready',
        isReady: true,
        isRunning: true,
        uptimeSeconds: expect.any(Number),
        restarts: 0,
        lastError: null,
        tier: 'fast',
        isThinking: false,
        startMode: 'always',
        memoryEstimateBytes: expect.any(Number),
        memoryUsedBytes: expect.any(Number),
        lastUsedAt: expect.any(String),
        inFlight: 0,
      });
      // Measured: a real process holds memory.
      expect(s.memoryUsedBytes).toBeGreaterThan(1024 * 1024);
      expect(s.port).toBeGreaterThanOrEqual(app.portRange[0]);
      expect(s.port).toBeLessThanOrEqual(app.portRange[1]);
      expect(isPidAlive(s.pid)).toBe(true);
      // Its own process group: the fleet signals the group, not just the pid.
      const proc = listProcesses().find((p) => p.pid === s.pid)!;
      expect(proc.pgid).toBe(s.pid);
    }
    expect(nonCamelKeys(body)).toEqual([]);
  });

  it('runs the exact command line: --model --host --port --alias, the profile settings and --mmproj', async () => {
    app = await startFleetApp({
      models: ['alpha'],
      projectors: ['alpha'],
      server: { ctxSize: 2048, gpuLayers: 0, parallel: 2, embeddings: true, extraArgs: ['--metrics'] },
    });
    const body = await waitForServers(app, (b) => b.readyServers === 1 && b, 15000, 'ready');
    const s = serverOf(body, idOf('alpha'));
    const proc = listProcesses().find((p) => p.pid === s.pid)!;
    const args = proc.cmdline.slice(proc.cmdline.indexOf(STANDIN_PATH) + 1);
    const { filePath, mmprojPath } = (await app.get(`/api/models/registry/${idOf('alpha')}`)).body;
    expect(mmprojPath).toMatch(/mmproj-alpha/);
    expect(args).toEqual([
      '--model',
      filePath,
      '--host',
      '127.0.0.1',
      '--port',
      String(s.port),
      '--alias',
      idOf('alpha'),
      '--ctx-size',
      '2048',
      '--n-gpu-layers',
      '0',
      '--parallel',
      '2',
      '--embeddings',
      '--mmproj',
      mmprojPath,
      '--metrics',
    ]);
    // The server answers under its alias, and the registry remembers its port.
    const models = await httpRequest(`http://127.0.0.1:${s.port}/v1/models`);
    expect(models.json().data[0].id).toBe(idOf('alpha'));
    expect((await app.get(`/api/models/registry/${idOf('alpha')}`)).body.port).toBe(s.port);
  });
});

describe('GET /api/models/servers/{modelId}/logs', () => {
  let app: FleetApp;
  beforeAll(async () => {
    app = await startFleetApp({ models: ['alpha'] });
    await waitForServers(app, (b) => b.readyServers === 1, 15000, 'ready');
  });
  afterAll(async () => app?.close());

  it("returns the tail of the server's output, oldest first", async () => {
    const res = await app.get(`/api/models/servers/${idOf('alpha')}/logs`);
    expect(res.status).toBe(200);
    expect(res.body.modelId).toBe(idOf('alpha'));
    const lines: string[] = res.body.lines;
    const launched = lines.findIndex((l) => l.startsWith('[magi] launched pid'));
    const listening = lines.findIndex((l) => l.includes('server is listening on http://'));
    expect(launched).toBeGreaterThanOrEqual(0);
    expect(listening).toBeGreaterThan(launched);
    expect(lines.some((l) => l.startsWith('standin: llama-server stand-in pid'))).toBe(true); // stdout too
  });

  it('returns only the last N lines with ?lines=N', async () => {
    const all = (await app.get(`/api/models/servers/${idOf('alpha')}/logs?lines=5000`)).body.lines;
    const res = await app.get(`/api/models/servers/${idOf('alpha')}/logs?lines=3`);
    expect(res.status).toBe(200);
    expect(res.body.lines).toEqual(all.slice(-3));
  });

  it.each(['0', '5001', 'abc', '1.5', '-2'])('answers 400 ValidationFailed for lines=%s', async (lines) => {
    const res = await app.get(`/api/models/servers/${idOf('alpha')}/logs?lines=${lines}`);
    expect(res.status).toBe(400);
    expect(isErrorShape(res.body)).toBe(true);
    expect(res.body.error).toBe('ValidationFailed');
    expect(res.body.details.fields.lines).toBeDefined();
  });

  it('answers 404 ServerNotFound for a model the fleet has never run', async () => {
    const res = await app.get('/api/models/servers/nope_1b_q4km/logs');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      error: 'ServerNotFound',
      message: expect.stringContaining('nope_1b_q4km'),
      details: { modelId: 'nope_1b_q4km' },
    });
  });
});

describe('GET /health/ready', () => {
  let app: FleetApp;
  afterEach(async () => app?.close());

  it('flips 503 → 200 → 503 → 200 as servers start, get ready, are added and come back from a crash', async () => {
    app = await startFleetApp({
      models: ['alpha', 'bravo', 'charlie'],
      enabledModels: [idOf('alpha'), idOf('bravo')],
      profiles: { more: [idOf('alpha'), idOf('bravo'), idOf('charlie')] },
      standin: { '*': { LOAD_MS: 600 } },
    });
    const starting = await app.get('/health/ready');
    expect(starting.status).toBe(503);
    expect(starting.body.status).toBe('not_ready');
    expect(starting.body.totalServers).toBe(2);
    expect(starting.body.details.servers.map((s: { modelId: string }) => s.modelId).sort()).toEqual([
      idOf('alpha'),
      idOf('bravo'),
    ]);
    for (const s of starting.body.details.servers) {
      expect(s.state).toBe('starting');
      expect(typeof s.reason).toBe('string');
    }

    const ready = await waitFor200(app);
    expect(ready.body).toEqual({ status: 'ready', readyServers: 2, totalServers: 2 });

    // A third server joins: not ready again until it is.
    const act = await app.send('POST', '/api/models/profiles/more/activate');
    expect(act.status).toBe(200);
    const adding = await app.get('/health/ready');
    expect(adding.status).toBe(503);
    expect(adding.body.readyServers).toBe(2);
    expect(adding.body.totalServers).toBe(3);
    expect(adding.body.details.servers).toEqual([
      { modelId: idOf('charlie'), state: 'starting', reason: expect.any(String) },
    ]);
    expect((await waitFor200(app)).body).toEqual({ status: 'ready', readyServers: 3, totalServers: 3 });

    // A crash: restarting (503) until the new process is ready.
    const before = serverOf((await app.get('/api/models/servers')).body, idOf('bravo'));
    process.kill(before.pid, 'SIGKILL');
    const crashed = await waitForServers(
      app,
      (b) => serverOf(b, idOf('bravo')).state !== 'ready' && b,
      5000,
      'bravo not ready',
    );
    expect(['restarting', 'starting']).toContain(serverOf(crashed, idOf('bravo')).state);
    const down = await app.get('/health/ready');
    expect(down.status).toBe(503);
    expect(down.body.details.servers[0].modelId).toBe(idOf('bravo'));
    await waitFor200(app);
  });

  it('lists models the profile names but the registry lacks in details.missingModels without holding readiness back', async () => {
    app = await startFleetApp({ models: ['alpha'], enabledModels: [idOf('alpha'), 'ghost_7b_q4km', 'other_*'] });
    const res = await waitFor200(app);
    expect(res.body).toEqual({
      status: 'ready',
      readyServers: 1,
      totalServers: 1,
      details: { missingModels: ['ghost_7b_q4km'] },
    });
  });

  it('is 503 while MAGI shuts down, as long as the fleet is stopping', async () => {
    app = await startFleetApp({
      models: ['alpha'],
      standin: { '*': { IGNORE_SIGTERM: 1 } },
      env: { FLEET_STOP_GRACE_SECONDS: '1.5' },
    });
    await waitFor200(app);
    const closing = app.closeApp();
    let res: { status: number; body: any } | undefined;
    for (let i = 0; i < 100 && !(res?.status === 503); i++) res = await app.get('/health/ready');
    expect(res).toEqual({
      status: 503,
      body: {
        status: 'not_ready',
        readyServers: expect.any(Number),
        totalServers: 1,
        details: expect.objectContaining({ shuttingDown: true }),
      },
    });
    await closing;
  });

  it('is 503 with the reason while a wanted server failed', async () => {
    app = await startFleetApp({
      models: ['alpha'],
      standin: { '*': { EXIT_AT_ONCE: 3 } },
      env: { FLEET_MAX_FAILURES: '2' },
    });
    await waitForServers(app, (b) => serverOf(b, idOf('alpha'))?.state === 'failed', 15000, 'failed');
    const res = await app.get('/health/ready');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({
      status: 'not_ready',
      readyServers: 0,
      totalServers: 1,
      details: {
        servers: [
          { modelId: idOf('alpha'), state: 'failed', reason: expect.stringContaining('gave up after 2 failures') },
        ],
      },
    });
  });
});

async function waitFor200(app: FleetApp): Promise<{ status: number; body: any }> {
  let last: { status: number; body: unknown } | undefined;
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    last = await app.get('/health/ready');
    if (last.status === 200) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`/health/ready never answered 200; last: ${JSON.stringify(last)}`);
}

describe('Ports', () => {
  let app: FleetApp;
  let blocker: Server | undefined;
  afterEach(async () => {
    await app?.close();
    await new Promise<void>((r) => (blocker ? blocker.close(() => r()) : r()));
    blocker = undefined;
  });

  it('skips a port of the range that another program has bound', async () => {
    // Bind the first port of a range before the app starts, then give the app that range.
    const { freePortRange } = await import('../support/fixtures');
    const range = await freePortRange(4);
    blocker = createServer();
    await new Promise<void>((r) => blocker!.listen(range[0], '127.0.0.1', () => r()));
    app = await startFleetApp({ models: ['alpha', 'bravo'], env: { PORT_RANGE: `${range[0]}-${range[1]}` } });
    const body = await waitForServers(app, (b) => b.readyServers === 2 && b, 15000, 'ready');
    const ports = body.servers.map((s: { port: number }) => s.port).sort();
    expect(ports).not.toContain(range[0]);
    expect(ports).toEqual([range[0] + 1, range[0] + 2]);
  });

  it('moves a server whose port cannot be bound to the next free port, without counting a crash', async () => {
    const { freePortRange } = await import('../support/fixtures');
    const range = await freePortRange(4);
    app = await startFleetApp({
      models: ['alpha'],
      env: { PORT_RANGE: `${range[0]}-${range[1]}`, FLEET_MAX_FAILURES: '1' },
      // The stand-in on the first port acts as if the port were taken (llama-server's bind error).
      standin: { [String(range[0])]: { FAIL_BIND: 1 } },
    });
    const body = await waitForServers(app, (b) => b.readyServers === 1 && b, 15000, 'ready');
    const s = serverOf(body, idOf('alpha'));
    expect(s.port).toBe(range[0] + 1);
    expect(s.state).toBe('ready');
    const binds = app.events().filter((e) => e.event === 'start');
    expect(binds.map((e) => e.port)).toEqual([range[0], range[0] + 1]);
    const logs = (await app.get(`/api/models/servers/${idOf('alpha')}/logs`)).body.lines as string[];
    expect(logs.some((l) => l.includes("couldn't bind HTTP server socket"))).toBe(true);
  });
});

describe('Remembered ports', () => {
  let app: FleetApp;
  afterEach(async () => app?.close());

  it('gives each model its remembered port again after a restart of MAGI', async () => {
    app = await startFleetApp({
      models: ['alpha', 'bravo', 'charlie'],
      enabledModels: [idOf('bravo'), idOf('charlie')],
    });
    const before = await waitForServers(app, (b) => b.readyServers === 2, 15000, 'ready');
    const portOf = (b: typeof before, id: string): number => serverOf(b, id).port;
    const registry = (await app.get('/api/models/registry')).body.models;
    expect(registry[idOf('bravo')].port).toBe(portOf(before, idOf('bravo')));
    expect(registry[idOf('charlie')].port).toBe(portOf(before, idOf('charlie')));
    // After the restart alpha is wanted too; it would get the lowest free port, which
    // is bravo's if bravo did not get its own back first.
    const { writeProfile } = await import('./fleet.helpers');
    writeProfile(app.dirs, 'development', [idOf('alpha'), idOf('bravo'), idOf('charlie')]);
    await app.restart();
    const after = await waitForServers(app, (b) => b.readyServers === 3, 15000, 'ready after restart');
    expect(portOf(after, idOf('bravo'))).toBe(portOf(before, idOf('bravo')));
    expect(portOf(after, idOf('charlie'))).toBe(portOf(before, idOf('charlie')));
  });
});

describe('Without a llama-server binary', () => {
  let app: FleetApp;
  afterEach(async () => app?.close());

  it('keeps the API up and marks each wanted server failed with "llama-server binary not found at <path>"', async () => {
    app = await startFleetApp({ models: ['alpha', 'bravo'], env: { LLAMA_SERVER_PATH: '/nonexistent/llama-server' } });
    const body = await waitForServers(
      app,
      (b) => b.servers.every((s: { state: string }) => s.state === 'failed') && b,
      10000,
      'failed',
    );
    expect(body.totalServers).toBe(2);
    for (const s of body.servers) {
      expect(s.lastError).toBe('llama-server binary not found at /nonexistent/llama-server');
      expect(s.restarts).toBe(0);
      expect(s.pid).toBeNull();
      expect(s.isRunning).toBe(false);
    }
    const ready = await app.get('/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.details.servers[0].reason).toBe('llama-server binary not found at /nonexistent/llama-server');
    expect((await app.get('/health/live')).status).toBe(200);
    // No crash loop: it stays failed.
    await new Promise((r) => setTimeout(r, 300));
    const again = await app.get('/api/models/servers');
    expect(
      again.body.servers.every((s: { state: string; restarts: number }) => s.state === 'failed' && s.restarts === 0),
    ).toBe(true);
  });

  it('says so when the binary is there but not executable', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(`${tmpdir()}/fleet-noexec-`);
    const binary = `${dir}/llama-server`;
    writeFileSync(binary, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
    try {
      app = await startFleetApp({ models: ['alpha'], env: { LLAMA_SERVER_PATH: binary } });
      const body = await waitForServers(app, (b) => serverOf(b, idOf('alpha'))?.state === 'failed', 10000, 'failed');
      expect(serverOf(body, idOf('alpha')).lastError).toBe(
        `llama-server binary at ${binary} is not executable (EACCES)`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('OpenAPI document', () => {
  let app: FleetApp;
  afterAll(async () => app?.close());

  it('documents the servers routes and the readiness probe with their answers', async () => {
    app = await startFleetApp({ models: ['alpha'], env: { LLAMA_SERVER_PATH: '/nonexistent/llama-server' } });
    const doc = (await app.get('/docs-json')).body;
    const servers = doc.paths['/api/models/servers'].get;
    expect(servers.tags).toEqual(['servers']);
    expect(servers.responses['200'].content['application/json'].schema.$ref).toMatch(/ServersResponseDto$/);
    const logs = doc.paths['/api/models/servers/{modelId}/logs'].get;
    expect(Object.keys(logs.responses)).toEqual(expect.arrayContaining(['200', '400', '404']));
    expect(logs.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['modelId', 'lines']));
    const ready = doc.paths['/health/ready'].get;
    expect(ready.responses['200'].content['application/json'].schema.$ref).toMatch(/ReadyResponseDto$/);
    expect(ready.responses['503'].content['application/json'].schema.$ref).toMatch(/NotReadyResponseDto$/);
    const server = doc.components.schemas.ServerDto;
    const dtos = [
      'ServerDto',
      'ServersResponseDto',
      'ServerLogsResponseDto',
      'ServerLoadResponseDto',
      'FleetMemoryDto',
      'ReadyResponseDto',
      'NotReadyResponseDto',
      'ReadinessDetailsDto',
      'NotReadyServerDto',
    ];
    for (const dto of dtos) {
      for (const [name, prop] of Object.entries<Record<string, any>>(doc.components.schemas[dto].properties)) {
        const field = `${dto}.${name}`;
        expect({ field, description: typeof prop.description }).toEqual({ field, description: 'string' });
        const nested = '$ref' in prop || 'allOf' in prop || prop.items?.$ref;
        if (!nested)
          expect({ field, example: prop.example !== undefined && prop.example !== null }).toEqual({
            field,
            example: true,
          });
      }
    }
    expect(server.properties.state.enum).toEqual([
      'unloaded',
      'queued',
      'starting',
      'ready',
      'restarting',
      'failed',
      'stopping',
      'stopped',
    ]);
    expect(server.properties.startMode.enum).toEqual(['always', 'on_demand']);
    const load = doc.paths['/api/models/servers/{modelId}/load'].post;
    expect(Object.keys(load.responses)).toEqual(expect.arrayContaining(['200', '202', '404', '503']));
    const unload = doc.paths['/api/models/servers/{modelId}/unload'].post;
    expect(Object.keys(unload.responses)).toEqual(expect.arrayContaining(['200', '404']));
  });
});
