/**
 * The real thing: `npm start` (prestart builds, then `node dist/main.js`) with a profile
 * that enables two stand-in models, stopped with SIGTERM as a container runtime or
 * systemd would. It must exit on its own, within the grace period, leaving no process
 * behind (the node server, the stand-ins, their forked grandchildren). And killed with
 * SIGKILL, it must not leave its llama-servers running either.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { buildPrivateDist } from '../support/build';
import { makeTestDirs, testEnv } from '../support/create-test-app';
import {
  STANDIN_PATH,
  freePort,
  freePortRange,
  httpRequest,
  isPidAlive,
  listProcesses,
  waitFor,
} from '../support/fixtures';
import { idOf, parseEvents, pidsOf, writeModel, writeProfile } from './fleet.helpers';

const ROOT = resolve(__dirname, '..', '..');

jest.setTimeout(300_000);

/** Temp folders with models alpha and bravo, a profile enabling both on stand-ins that log their events, and MAGI's environment. */
async function twoServerFleet(
  prefix: string,
  magiEnv: Record<string, string> = {},
  standinEnv: Record<string, string> = {},
) {
  const dirs = makeTestDirs(prefix);
  await writeModel(dirs.models, 'alpha');
  await writeModel(dirs.models, 'bravo');
  writeProfile(dirs, 'development', [idOf('alpha'), idOf('bravo')]);
  const stateFile = join(dirs.root, 'standin-events.log');
  writeFileSync(stateFile, '');
  const port = await freePort();
  const range = await freePortRange(4);
  const env = {
    ...process.env,
    ...testEnv(dirs, {
      PORT: String(port),
      LLAMA_SERVER_PATH: STANDIN_PATH,
      ACTIVE_PROFILE: 'development',
      PORT_RANGE: `${range[0]}-${range[1]}`,
      READINESS_CHECK_INTERVAL: '0.1',
      ...magiEnv,
    }),
    STANDIN_STATE_FILE: stateFile,
    ...standinEnv,
  };
  return { dirs, stateFile, port, env };
}

describe('npm start on a fresh folder', () => {
  it('names its URL and Swagger UI, answers /health/live and a full /docs-json on an empty models folder, then says the fleet has no binary', async () => {
    const dirs = makeTestDirs('magi-npm-start-empty-');
    writeProfile(dirs, 'development', [idOf('alpha')]);
    const port = await freePort();
    const env = {
      ...process.env,
      ...testEnv(dirs, { PORT: String(port), ACTIVE_PROFILE: 'development', LOG_LEVEL: 'info' }),
    };
    const npm = spawn('npm', ['start'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    npm.stdout.on('data', (c: Buffer) => (output += c.toString()));
    npm.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise((r) => npm.on('exit', r));
    try {
      await waitFor(
        async () => {
          if (npm.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
          const res = await httpRequest(`http://127.0.0.1:${port}/health/live`, { timeoutMs: 2000 }).catch(() => null);
          return res?.status === 200;
        },
        240_000,
        200,
        'npm start live',
      );
      // A newcomer is told where to go: one line with the URL and the Swagger UI.
      const url = `http://127.0.0.1:${port}`;
      expect(output).toContain(`MAGI listens on ${url} (Swagger UI at ${url}/docs)`);
      const docs = (await httpRequest(`http://127.0.0.1:${port}/docs-json`)).json();
      expect(docs.openapi).toMatch(/^3\./);
      expect(Object.keys(docs.paths)).toEqual(
        expect.arrayContaining([
          '/api/models/registry',
          '/api/models/servers',
          '/v1/chat/completions',
          '/health/ready',
        ]),
      );
      // The build ran the Swagger plugin: DTO fields carry their JSDoc descriptions.
      expect(docs.components.schemas.DiscoveredModelDto.properties.modelId.description).toMatch(/URL-safe/);
      const registry = (await httpRequest(`http://127.0.0.1:${port}/api/models/registry`)).json();
      expect(registry.models).toEqual({});
      // The profile names a model that is not there: readiness reports it rather than failing the start.
      const ready = await httpRequest(`http://127.0.0.1:${port}/health/ready`);
      expect(JSON.stringify(ready.json())).toContain(idOf('alpha'));
      // Drop the model in and rescan: with no llama-server installed the API keeps working and says so.
      await writeModel(dirs.models, 'alpha');
      expect((await httpRequest(`http://127.0.0.1:${port}/api/models/rescan`, { method: 'POST' })).status).toBe(200);
      await waitFor(
        async () => {
          const s = (await httpRequest(`http://127.0.0.1:${port}/api/models/servers`)).json().servers[0];
          return s?.state === 'failed' && /not found/.test(s.lastError ?? '');
        },
        20_000,
        100,
        'server failed: binary not found',
      );
      expect((await httpRequest(`http://127.0.0.1:${port}/health/ready`)).status).toBe(503);
      process.kill(npm.pid!, 'SIGTERM');
      await exited;
    } finally {
      try {
        process.kill(-npm.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
      rmSync(dirs.root, { recursive: true, force: true });
    }
  });
});

describe('npm start, then SIGTERM', () => {
  it('stops the fleet and exits cleanly, leaving no process behind', async () => {
    const { dirs, stateFile, port, env } = await twoServerFleet(
      'magi-npm-start-',
      { LOG_LEVEL: 'info', FLEET_STOP_GRACE_SECONDS: '3' },
      { STANDIN_FORK_GRANDCHILD: '1' },
    );
    // Its own process group, so a failing test can still clean up everything it started.
    const npm = spawn('npm', ['start'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    npm.stdout.on('data', (c: Buffer) => (output += c.toString()));
    npm.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      npm.on('exit', (code, signal) => r({ code, signal })),
    );
    try {
      // prestart runs `nest build` first: allow it time on a busy machine.
      await waitFor(
        async () => {
          if (npm.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
          const res = await httpRequest(`http://127.0.0.1:${port}/health/ready`, { timeoutMs: 2000 }).catch(() => null);
          return res?.status === 200 && res.json().readyServers === 2;
        },
        240_000,
        200,
        'npm start ready with 2 servers',
      );
      // `exec` in the start script makes node the child npm forwards signals to (a plain
      // `sh -c node …` would take the SIGTERM and orphan node).
      const server = listProcesses().find(
        (p) => p.pgid === npm.pid && /node$/.test(p.cmdline[0] ?? '') && p.cmdline.includes('dist/main.js'),
      );
      expect(server).toBeDefined();
      const serverPid = server!.pid;
      const fleet = (await httpRequest(`http://127.0.0.1:${port}/api/models/servers`)).json();
      expect(fleet.servers.map((s: { modelId: string }) => s.modelId)).toEqual([idOf('alpha'), idOf('bravo')]);
      const events = parseEvents(readFileSync(stateFile, 'utf8'));
      const fleetPids = pidsOf(events);
      expect(fleetPids.filter(isPidAlive)).toHaveLength(4); // two servers, two grandchildren

      process.kill(npm.pid!, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const exit = await Promise.race([
        exited,
        new Promise<null>((r) => {
          timer = setTimeout(() => r(null), 15_000);
        }),
      ]);
      clearTimeout(timer);
      expect(exit).not.toBeNull();
      // npm reports the server's SIGTERM death (Nest re-raises the signal after closing).
      expect(exit!.code === 0 || exit!.code === 143 || exit!.signal === 'SIGTERM').toBe(true);
      expect(isPidAlive(serverPid)).toBe(false);
      expect(fleetPids.filter(isPidAlive)).toEqual([]);
      expect(
        listProcesses().filter((p) => (p.pgid === npm.pid || fleetPids.includes(p.pgid)) && p.state !== 'Z'),
      ).toEqual([]);
      // The fleet was stopped by MAGI: each server got its own SIGTERM (the stand-ins run in
      // their own process groups, which the signal to npm does not reach).
      expect(parseEvents(readFileSync(stateFile, 'utf8')).filter((e) => e.event === 'sigterm')).toHaveLength(2);
    } finally {
      try {
        process.kill(-npm.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
      for (const pid of pidsOf(parseEvents(readFileSync(stateFile, 'utf8')))) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      rmSync(dirs.root, { recursive: true, force: true });
    }
  });
});

describe('MAGI SIGKILLed (an OOM kill)', () => {
  it('takes its llama-servers with it: none lives on holding its port and memory', async () => {
    const main = buildPrivateDist('orphans');
    const { dirs, stateFile, port, env } = await twoServerFleet('magi-sigkill-');
    const magi = spawn(process.execPath, [main], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    magi.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    let fleetPids: number[] = [];
    try {
      await waitFor(
        async () => {
          if (magi.exitCode !== null) throw new Error(`MAGI exited early:\n${stderr}`);
          const res = await httpRequest(`http://127.0.0.1:${port}/health/ready`, { timeoutMs: 2000 }).catch(() => null);
          return res?.status === 200 && res.json().readyServers === 2;
        },
        60_000,
        100,
        'MAGI ready with 2 servers',
      );
      fleetPids = pidsOf(parseEvents(readFileSync(stateFile, 'utf8')));
      expect(fleetPids.filter(isPidAlive)).toHaveLength(2);
      magi.kill('SIGKILL');
      await new Promise((r) => magi.once('exit', r));
      // Nothing of MAGI's ran after the kill: the kernel sent each server its SIGKILL.
      await waitFor(() => fleetPids.every((pid) => !isPidAlive(pid)), 5000, 20, 'fleet gone with MAGI');
    } finally {
      for (const pid of fleetPids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      rmSync(dirs.root, { recursive: true, force: true });
      rmSync(dirname(main), { recursive: true, force: true });
    }
  });
});
