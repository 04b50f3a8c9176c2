/**
 * ServerSupervisor with real ports (the stand-in as llama-server, real HTTP, real ports)
 * and one fake: a clock that can jump, to show what happens after long stretches of time
 * (back-off reset after a stable period, failures leaving the window) without waiting.
 */
import { Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STANDIN_PATH, freePortRange, isPidAlive, waitFor } from '../../test/support/fixtures';
import { Clock, SystemClock } from '../common/io/clock';
import { NodeFileStore } from '../common/io/file-store';
import { AxiosHttpClient } from '../common/io/http-client';
import { NetPortProbe } from '../common/io/port-probe';
import { NodeProcessLauncher } from '../common/io/process-launcher';
import { loadMagiConfig } from '../config/load-config';
import type { FleetConfig } from '../config/magi-config';
import { FleetEvents, ServerPortAssignedEvent } from './fleet.events';
import type { ServerStateChange } from './fleet.types';
import { HelpFlagsCache } from './help-flags-cache';
import { PortAllocator } from './port-allocator';
import { ServerSupervisor } from './server-supervisor';

jest.setTimeout(30000);

/** Real time plus an offset the test can move forward. */
class JumpingClock extends Clock {
  offset = 0;
  private readonly real = new SystemClock();
  now(): number {
    return Date.now() + this.offset;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.real.sleep(ms, signal);
  }
}

describe('ServerSupervisor', () => {
  beforeAll(() => Logger.overrideLogger(false));
  let dir: string;
  let modelPath: string;
  let configFile: string;
  let http: AxiosHttpClient;
  let sut: ServerSupervisor | undefined;
  let clock: JumpingClock;
  let changes: ServerStateChange[];
  let events: EventEmitter2;
  let portsAssigned: ServerPortAssignedEvent[];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'supervisor-spec-'));
    modelPath = join(dir, 'model.gguf');
    writeFileSync(modelPath, 'GGUF');
    configFile = join(dir, 'standin.json');
    writeFileSync(configFile, '{}');
    process.env.STANDIN_CONFIG = configFile;
    http = new AxiosHttpClient(loadMagiConfig({ PATH: process.env.PATH ?? '' }));
    clock = new JumpingClock();
    changes = [];
    events = new EventEmitter2();
    portsAssigned = [];
    events.on(FleetEvents.ServerPortAssigned, (e: ServerPortAssignedEvent) => portsAssigned.push(e));
  });
  afterEach(async () => {
    await sut?.stop();
    sut = undefined;
    http.onModuleDestroy();
    delete process.env.STANDIN_CONFIG;
    rmSync(dir, { recursive: true, force: true });
  });

  async function make(overrides: Partial<FleetConfig> = {}): Promise<ServerSupervisor> {
    const range = await freePortRange(3);
    const config: FleetConfig = {
      portRange: range,
      llamaServerPath: STANDIN_PATH,
      host: '127.0.0.1',
      maxStartupTime: 10,
      readinessCheckInterval: 0.05,
      stopGraceSeconds: 1,
      restartBackoffInitialMs: 50,
      restartBackoffMaxMs: 200,
      maxFailures: 3,
      failureWindowSeconds: 600,
      logLines: 100,
      memoryBudget: 'off',
      memoryReserveBytes: 0,
      ...overrides,
    };
    const launcher = new NodeProcessLauncher();
    sut = new ServerSupervisor(
      {
        modelId: 'm_1b_q4km',
        displayName: 'm',
        modelPaths: [modelPath],
        restState: 'stopped',
        mmprojPath: null,
        tier: 'fast',
        isThinking: false,
        preferredPort: null,
      },
      {
        launcher,
        http,
        clock,
        files: new NodeFileStore(),
        ports: new PortAllocator(range, '127.0.0.1', new NetPortProbe()),
        help: new HelpFlagsCache(launcher),
        config,
        settings: () => null,
        onStateChange: (c) => changes.push(c),
        events,
      },
    );
    return sut;
  }

  const delays = (s: ServerSupervisor): number[] =>
    s
      .logTail(100)
      .map((l) => /restarting in (\d+) ms/.exec(l)?.[1])
      .filter(Boolean)
      .map(Number);

  it('goes stopped → starting → ready and reports each transition', async () => {
    const s = await make();
    await s.start();
    expect(s.pid).toEqual(expect.any(Number));
    await waitFor(() => s.state === 'ready', 10000);
    expect(changes.map((c) => `${c.from}>${c.to}`)).toEqual(['stopped>starting', 'starting>ready']);
    expect(changes[1]).toEqual(expect.objectContaining({ modelId: 'm_1b_q4km', port: s.port, pid: s.pid }));
    expect(portsAssigned).toEqual([new ServerPortAssignedEvent('m_1b_q4km', s.port!)]);
    const pid = s.pid!;
    await s.stop();
    expect(isPidAlive(pid)).toBe(false);
    expect(changes.slice(2).map((c) => `${c.from}>${c.to}`)).toEqual(['ready>stopping', 'stopping>stopped']);
    expect(s.view()).toEqual(
      expect.objectContaining({ state: 'stopped', pid: null, isRunning: false, isReady: false }),
    );
  });

  it('doubles the back-off while crashes follow each other', async () => {
    writeFileSync(configFile, JSON.stringify({ '*': { LOAD_MS: 10, CRASH_AFTER_MS: 100 } }));
    const s = await make({ maxFailures: 10 });
    await s.start();
    await waitFor(() => delays(s).length >= 4, 15000);
    expect(delays(s).slice(0, 4)).toEqual([50, 100, 200, 200]);
  });

  it('resets the back-off once a server stayed ready for a stable period', async () => {
    writeFileSync(configFile, JSON.stringify({ '*': { LOAD_MS: 10, CRASH_AFTER_MS: 150 } }));
    const s = await make({ maxFailures: 10 });
    // Each time it is ready, a stable period (FLEET_BACKOFF_MAX_MS) passes at once.
    s['deps'].onStateChange = (c: ServerStateChange) => {
      changes.push(c);
      if (c.to === 'ready') clock.offset += 200;
    };
    await s.start();
    await waitFor(() => delays(s).length >= 3, 15000);
    expect(delays(s).slice(0, 3)).toEqual([50, 50, 50]);
  });

  it('gives up after maxFailures crashes within the window', async () => {
    writeFileSync(configFile, JSON.stringify({ '*': { EXIT_AT_ONCE: 1 } }));
    const s = await make({ maxFailures: 3 });
    await s.start();
    await waitFor(() => s.state === 'failed', 15000);
    expect(s.view().lastError).toMatch(/^gave up after 3 failures within 600 s/);
    expect(s.view().restarts).toBe(2);
  });

  it('keeps restarting when the failures are spread wider than the window', async () => {
    writeFileSync(configFile, JSON.stringify({ '*': { EXIT_AT_ONCE: 1 } }));
    const s = await make({ maxFailures: 3, failureWindowSeconds: 60 });
    // A minute passes between crashes: no window ever holds three.
    s['deps'].onStateChange = (c: ServerStateChange) => {
      changes.push(c);
      if (c.to === 'restarting') clock.offset += 61_000;
    };
    await s.start();
    await waitFor(() => s.view().restarts >= 5, 15000);
    expect(s.state).not.toBe('failed');
  });

  it('refuses an illegal transition', async () => {
    const s = await make();
    expect(() => s['transition']('ready', null)).toThrow('illegal transition stopped -> ready');
  });
});
