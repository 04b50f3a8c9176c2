/**
 * Helpers of the fleet e2e specs: boot the real app with the llama-server stand-in as
 * LLAMA_SERVER_PATH, GGUF model files, a profile YAML and per-model stand-in switches
 * (STANDIN_CONFIG, re-read by the stand-in at each start), and read the stand-in's event
 * file and the process table afterwards.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as yaml from 'js-yaml';
import { TestApp, TestDirs, createTestApp, makeTestDirs } from '../support/create-test-app';
import {
  STANDIN_PATH,
  freePortRange,
  httpRequest,
  isPidAlive,
  killProcessGroup,
  listProcesses,
  waitFor,
} from '../support/fixtures';
import { GgmlType, writeGgufFile } from '../support/gguf-writer';
import { GgufType } from '../../src/registry/gguf/gguf-reader';

/** Stand-in switches by alias (model id), model path, port or `*` (see the stand-in's header). */
export type StandinConfig = Record<string, Record<string, string | number>>;

export interface StandinEvent {
  event: string;
  pid: number;
  port: number;
  alias: string;
  t: number;
  fields: Record<string, string>;
}

export interface FleetApp {
  /** The running app (replaced by restart()). */
  t: TestApp;
  url: string;
  dirs: TestDirs;
  /** Model ids, in the order of `models`. */
  ids: string[];
  portRange: [number, number];
  /** Rewrites the stand-in switches (read at each stand-in start). */
  setStandin(config: StandinConfig): void;
  /** Every event the stand-ins wrote so far. */
  events(): StandinEvent[];
  get<T = any>(path: string): Promise<{ status: number; body: T }>;
  send<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** Closes the app (once; later calls share the first), keeping the folders. */
  closeApp(): Promise<void>;
  /** Closes the app and boots a new one on the same folders and settings (a restart of MAGI). */
  restart(): Promise<void>;
  /** Closes the app; then asserts no process any stand-in of this app started is alive. */
  close(): Promise<void>;
}

export interface FleetAppOptions {
  /** Basenames of the GGUF files to write; the ids come out as `<name>_1b_q4km`. */
  models: string[];
  /** Model names that get a projector file (`mmproj-<name>-F16.gguf`, architecture clip). */
  projectors?: string[];
  /** `enabledModels` of the active profile `development`; default every model. */
  enabledModels?: string[];
  /** The profile's `server` block. */
  server?: Record<string, unknown>;
  /** More keys of the profile `development` (onDemand, memoryBudget, maxRunning, aliases …). */
  profile?: Record<string, unknown>;
  /** More profiles: key → enabledModels. */
  profiles?: Record<string, string[]>;
  /**
   * Model names whose header gives a memory estimate: the MiB of their weights (a declared
   * tensor, no data on disk). The others have no hyper-parameters, hence an estimate of 0.
   */
  weightsMiB?: Record<string, number>;
  standin?: StandinConfig;
  /** How many ports PORT_RANGE spans; default models + 4. */
  ports?: number;
  env?: Record<string, string>;
}

/** The id the registry derives from `writeModel(name)`. */
export const idOf = (name: string): string => `${name}_1b_q4km`;

/** Width of the sized models' embeddings: one row of their token_embd (f32) is 1 KiB. */
const SIZED_EMBD = 256;

/**
 * Writes `<name>-1B-Q4_K_M.gguf`. With `weightsMiB`, a llama header the memory estimate can
 * read (2 layers of 256 wide, 4 heads, a 512 context) whose one declared token_embd tensor
 * holds that many MiB: the estimate is those weights plus a few MiB of cache and compute,
 * while the file itself stays a few KB (the writer writes no tensor data).
 */
export async function writeModel(dir: string, name: string, opts: { weightsMiB?: number } = {}): Promise<string> {
  const file = join(dir, `${name}-1B-Q4_K_M.gguf`);
  const base = { architecture: 'llama', name: `${name} 1B`, basename: name, sizeLabel: '1B', fileType: 15 };
  if (opts.weightsMiB === undefined) {
    await writeGgufFile(file, { ...base, vocabSize: 0, parameterCount: 1e9 });
    return file;
  }
  const rows = Math.round((opts.weightsMiB * 1024 * 1024) / (SIZED_EMBD * 4));
  await writeGgufFile(file, {
    ...base,
    contextLength: 512,
    vocabSize: 1000,
    extra: [
      { key: 'llama.block_count', value: 2 },
      { key: 'llama.embedding_length', value: SIZED_EMBD },
      { key: 'llama.attention.head_count', value: 4 },
    ].map((e) => ({ ...e, type: GgufType.UINT32 })),
    tensors: [{ name: 'token_embd.weight', dims: [SIZED_EMBD, rows], type: GgmlType.F32 }],
  });
  return file;
}

export async function writeProjector(dir: string, name: string): Promise<string> {
  const file = join(dir, `mmproj-${name}-F16.gguf`);
  await writeGgufFile(file, {
    architecture: 'clip',
    name: `${name} 1B`,
    fileType: 1,
    vocabSize: 0,
    parameterCount: 4e8,
  });
  return file;
}

export function writeProfile(
  dirs: TestDirs,
  key: string,
  enabledModels: string[],
  server?: Record<string, unknown>,
  more: Record<string, unknown> = {},
): void {
  const doc: Record<string, unknown> = { name: key, description: `fleet test profile ${key}`, enabledModels };
  if (server) doc.server = server;
  Object.assign(doc, more);
  writeFileSync(join(dirs.profiles, `${key}.yaml`), yaml.dump(doc));
}

export function parseEvents(text: string): StandinEvent[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [event, ...parts] = line.split(' ');
      const fields: Record<string, string> = {};
      for (const p of parts) {
        const i = p.indexOf('=');
        if (i > 0) fields[p.slice(0, i)] = p.slice(i + 1);
      }
      return {
        event,
        pid: Number(fields.pid),
        port: Number(fields.port),
        alias: fields.alias,
        t: Number(fields.t),
        fields,
      };
    });
}

/** Pids of every stand-in process (and forked grandchild) the events mention. */
export function pidsOf(events: StandinEvent[]): number[] {
  const pids = new Set<number>();
  for (const e of events) {
    pids.add(e.pid);
    if (e.fields.grandchild) pids.add(Number(e.fields.grandchild));
  }
  return [...pids];
}

/** Boots the app on a fleet of stand-ins. Sets STANDIN_* in this test file's process.env. */
export async function startFleetApp(opts: FleetAppOptions): Promise<FleetApp> {
  const dirs = makeTestDirs('magi-fleet-');
  for (const m of opts.models) await writeModel(dirs.models, m, { weightsMiB: opts.weightsMiB?.[m] });
  for (const m of opts.projectors ?? []) await writeProjector(dirs.models, m);
  const ids = opts.models.map(idOf);
  writeProfile(dirs, 'development', opts.enabledModels ?? ids, opts.server, opts.profile);
  for (const [key, enabled] of Object.entries(opts.profiles ?? {})) writeProfile(dirs, key, enabled);
  const stateFile = join(dirs.root, 'standin-events.log');
  const configFile = join(dirs.root, 'standin-config.json');
  writeFileSync(stateFile, '');
  const setStandin = (config: StandinConfig): void => writeFileSync(configFile, JSON.stringify(config));
  setStandin(opts.standin ?? {});
  // The fleet's children inherit MAGI's environment (this test file's process.env).
  process.env.STANDIN_STATE_FILE = stateFile;
  process.env.STANDIN_CONFIG = configFile;
  const portRange = await freePortRange(opts.ports ?? opts.models.length + 4);
  const env = {
    LLAMA_SERVER_PATH: STANDIN_PATH,
    ACTIVE_PROFILE: 'development',
    PORT_RANGE: `${portRange[0]}-${portRange[1]}`,
    READINESS_CHECK_INTERVAL: '0.1',
    MAX_STARTUP_TIME: '20',
    FLEET_BACKOFF_INITIAL_MS: '100',
    FLEET_BACKOFF_MAX_MS: '400',
    FLEET_STOP_GRACE_SECONDS: '2',
    ...opts.env,
  };
  let t = await createTestApp({ dirs, env });
  let closing: Promise<void> | null = null;
  const events = (): StandinEvent[] => parseEvents(readFileSync(stateFile, 'utf8'));
  const send = async (method: string, path: string, body?: unknown) => {
    const res = await httpRequest(`${fleet.url}${path}`, { method, body, timeoutMs: 30000 });
    return { status: res.status, body: res.body ? res.json() : undefined };
  };
  let closed = false;
  const fleet: FleetApp = {
    t,
    url: t.url,
    dirs,
    ids,
    portRange,
    setStandin,
    events,
    get: (path) => send('GET', path),
    send,
    closeApp() {
      closing ??= fleet.t.close({ keepDirs: true });
      return closing;
    },
    async restart() {
      await fleet.closeApp();
      t = await createTestApp({ dirs, env });
      closing = null;
      fleet.t = t;
      fleet.url = t.url;
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await fleet.closeApp();
        const pids = pidsOf(events());
        const left = [
          ...new Set([
            ...pids.filter(isPidAlive),
            ...listProcesses()
              .filter((p) => pids.includes(p.pgid) && p.state !== 'Z')
              .map((p) => p.pid),
          ]),
        ];
        // Clean up before failing, so one broken test does not leak into the next.
        for (const pid of left) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone meanwhile */
          }
        }
        for (const pgid of pids) killProcessGroup(pgid, 'SIGKILL');
        if (left.length) throw new Error(`processes left behind after app.close(): ${JSON.stringify(left)}`);
      } finally {
        delete process.env.STANDIN_STATE_FILE;
        delete process.env.STANDIN_CONFIG;
        const { rmSync } = await import('node:fs');
        rmSync(dirs.root, { recursive: true, force: true });
      }
    },
  };
  return fleet;
}

export type ServersBody = {
  totalServers: number;
  readyServers: number;
  servers: any[];
  memory: { budgetBytes: number | null; reservedBytes: number; freeBytes: number | null };
};

/** Polls GET /api/models/servers until `pred` is truthy for its body; returns that body. */
export async function waitForServers(
  app: FleetApp,
  pred: (body: ServersBody) => unknown,
  timeoutMs = 15000,
  what = 'servers condition',
): Promise<ServersBody> {
  return waitFor(
    async () => {
      const body = (await app.get<ServersBody>('/api/models/servers')).body;
      return pred(body) ? body : null;
    },
    timeoutMs,
    50,
    what,
  );
}

/** The server entry of `modelId` in a servers body. */
export function serverOf(body: { servers: Array<{ modelId: string }> }, modelId: string): any {
  return body.servers.find((s) => s.modelId === modelId);
}
