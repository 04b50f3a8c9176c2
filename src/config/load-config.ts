import { existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { plainToInstance } from 'class-transformer';
import { ValidationError, validateSync } from 'class-validator';
import * as yaml from 'js-yaml';
import { parseBytes, parseMemoryBudget } from '../common/units/memory-size';
import { LLM_PROVIDER_CHOICES, MagiConfig } from './magi-config';

/** A configuration problem, reported as one line and exit code 1 by main.ts. */
export class ConfigError extends Error {}

type Plain = Record<string, unknown>;
type Parse = (raw: string, env: string) => unknown;

const num: Parse = (raw, env) => {
  const n = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`Invalid ${env}: ${raw}. Must be a number`);
  return n;
};
const str: Parse = (raw) => raw;
const list: Parse = (raw) =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const bool: Parse = (raw, env) => {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  throw new ConfigError(`Invalid ${env}: ${raw}. Must be true or false`);
};
const portRange: Parse = (raw, env) => parsePortRange(raw, env);

/** Environment variable → path in the config tree, with its parser (API.md §2). */
const ENV_MAP: Array<[string, string, Parse]> = [
  ['HOST', 'server.host', str],
  ['PORT', 'server.port', num],
  ['LOG_LEVEL', 'server.logLevel', str],
  ['API_TOKENS', 'auth.apiTokens', list],
  ['MODEL_SCAN_PATH', 'registry.scanPath', str],
  ['REGISTRY_PATH', 'registry.registryPath', str],
  ['TIER_POWERFUL_MIN', 'registry.tierThresholds.powerfulMin', num],
  ['TIER_FAST_MAX', 'registry.tierThresholds.fastMax', num],
  ['PROFILES_PATH', 'profiles.path', str],
  ['ACTIVE_PROFILE', 'profiles.activeProfile', str],
  ['STATE_PATH', 'profiles.statePath', str],
  ['PORT_RANGE', 'fleet.portRange', portRange],
  ['LLAMA_SERVER_PATH', 'fleet.llamaServerPath', str],
  ['LLAMA_SERVER_HOST', 'fleet.host', str],
  ['MAX_STARTUP_TIME', 'fleet.maxStartupTime', num],
  ['READINESS_CHECK_INTERVAL', 'fleet.readinessCheckInterval', num],
  ['FLEET_STOP_GRACE_SECONDS', 'fleet.stopGraceSeconds', num],
  ['FLEET_BACKOFF_INITIAL_MS', 'fleet.restartBackoffInitialMs', num],
  ['FLEET_BACKOFF_MAX_MS', 'fleet.restartBackoffMaxMs', num],
  ['FLEET_MAX_FAILURES', 'fleet.maxFailures', num],
  ['FLEET_FAILURE_WINDOW_SECONDS', 'fleet.failureWindowSeconds', num],
  // Sizes stay text here and are parsed below, whichever layer set them (see parseMemorySettings).
  ['FLEET_MEMORY_BUDGET', 'fleet.memoryBudget', str],
  ['FLEET_MEMORY_RESERVE', 'fleet.memoryReserve', str],
  ['LLM_PROVIDER', 'providers.llmProvider', str],
  ['PROVIDER_TIMEOUT_MS', 'providers.timeoutMs', num],
  ['PROVIDER_CACHE_MS', 'providers.cacheMs', num],
  ['OPENAI_API_KEY', 'providers.openai.apiKey', str],
  ['OPENAI_MODEL', 'providers.openai.model', str],
  ['OPENAI_BASE_URL', 'providers.openai.baseUrl', str],
  ['OPENAI_VERIFY', 'providers.openai.verify', bool],
  ['LMSTUDIO_BASE_URL', 'providers.lmstudio.baseUrl', str],
  ['OLLAMA_BASE_URL', 'providers.ollama.baseUrl', str],
  ['LLAMACPP_BASE_URL', 'providers.llamacpp.baseUrl', str],
  ['LITELLM_BASE_URL', 'litellm.baseUrl', str],
  ['LITELLM_API_KEY', 'litellm.apiKey', str],
  ['MODELS_CACHE_TTL', 'litellm.modelsCacheTtl', num],
  ['FALLBACK_MODELS', 'litellm.fallbackModels', list],
  ['GATEWAY_MAX_BODY_MB', 'gateway.maxBodyMb', num],
  ['GATEWAY_QUEUE_TIMEOUT', 'gateway.queueTimeout', num],
  ['GATEWAY_LOAD_TIMEOUT', 'gateway.loadTimeout', num],
  ['HF_ENDPOINT', 'downloads.hfEndpoint', str],
  ['HF_TOKEN', 'downloads.hfToken', str],
  ['DOWNLOAD_CONCURRENCY', 'downloads.concurrency', num],
];

const ENV_BY_PATH = new Map(ENV_MAP.map(([env, path]) => [path, env]));

/** config/default.yaml of the project, found upward from this file (src/, dist/ or any build folder). */
function findDefaultConfig(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, 'config', 'default.yaml');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return resolve(__dirname, '..', '..', 'config', 'default.yaml');
  }
}

export const DEFAULT_CONFIG_FILE = findDefaultConfig();

function parsePortRange(raw: unknown, name: string): [number, number] {
  const m = /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/.exec(String(raw));
  const from = m ? Number(m[1]) : NaN;
  const to = m ? Number(m[2]) : NaN;
  if (!m || from < 1 || to > 65535 || from > to) {
    throw new ConfigError(`Invalid ${name}: ${String(raw)}. Must be FROM-TO with 1 <= FROM <= TO <= 65535`);
  }
  return [from, to];
}

function readYaml(file: string): Plain {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`Cannot read config file ${file}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = yaml.load(text);
  } catch (e) {
    throw new ConfigError(`Invalid YAML in config file ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc == null) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`Config file ${file} must hold a mapping`);
  return doc as Plain;
}

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isPlain(v) && isPlain(out[k]) ? deepMerge(out[k], v) : v;
  return out;
}

function setPath(obj: Plain, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    if (!isPlain(cur[k])) cur[k] = {};
    cur = cur[k] as Plain;
  }
  cur[keys[keys.length - 1]] = value;
}

/** `llama-server` on PATH, else the conventional install location (API.md §2). */
function defaultLlamaServerPath(pathEnv: string | undefined): string {
  for (const dir of (pathEnv ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, 'llama-server');
    if (existsSync(candidate)) return candidate;
  }
  return '/usr/local/bin/llama-server';
}

/**
 * `fleet.memoryBudget` (a size, `auto` or `off`) and `fleet.memoryReserve` (a size) as written in
 * YAML or the environment → the tree's `memoryBudget` and `memoryReserveBytes`. A bare number is
 * refused in YAML as in the environment: the unit is what a reader of the config needs. A problem
 * is named by its variable when the environment set it, else by its YAML path.
 */
function parseMemorySettings(fleet: Plain, env: NodeJS.ProcessEnv): void {
  const name = (variable: string, path: string): string => (env[variable] !== undefined ? variable : path);
  try {
    fleet.memoryBudget = parseMemoryBudget(
      String(fleet.memoryBudget),
      name('FLEET_MEMORY_BUDGET', 'fleet.memoryBudget'),
    );
    fleet.memoryReserveBytes = parseBytes(
      String(fleet.memoryReserve),
      name('FLEET_MEMORY_RESERVE', 'fleet.memoryReserve'),
    );
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  delete fleet.memoryReserve;
}

function describe(error: ValidationError, prefix = ''): string {
  const path = prefix ? `${prefix}.${error.property}` : error.property;
  if (error.children?.length) return describe(error.children[0], path);
  const env = ENV_BY_PATH.get(path);
  const name = env ? `${env} (${path})` : path;
  const reason = Object.values(error.constraints ?? {})[0] ?? 'is invalid';
  return `Invalid ${name}: ${JSON.stringify(error.value)}. ${reason}`;
}

/**
 * Builds the configuration: default.yaml, then CONFIG_FILE, then the environment;
 * validates it and throws one ConfigError line naming the key on the first problem.
 */
export function loadMagiConfig(env: NodeJS.ProcessEnv = process.env): MagiConfig {
  let tree = readYaml(DEFAULT_CONFIG_FILE);
  if (env.CONFIG_FILE) tree = deepMerge(tree, readYaml(resolve(env.CONFIG_FILE)));
  for (const [name, path, parse] of ENV_MAP) {
    const raw = env[name];
    if (raw !== undefined) setPath(tree, path, parse(raw, name));
  }

  const fleet = (tree.fleet ?? {}) as Plain;
  if (typeof fleet.portRange === 'string') fleet.portRange = parsePortRange(fleet.portRange, 'fleet.portRange');
  if (fleet.llamaServerPath == null) fleet.llamaServerPath = defaultLlamaServerPath(env.PATH);
  parseMemorySettings(fleet, env);
  const gateway = (tree.gateway ?? {}) as Plain;
  if (gateway.loadTimeout == null) gateway.loadTimeout = fleet.maxStartupTime;
  const litellm = (tree.litellm ?? {}) as Plain;
  if (typeof litellm.baseUrl === 'string') {
    litellm.baseUrl = litellm.baseUrl.trim().replace(/\/+$/, '').replace(/\/v1$/, '') || null;
  }

  const provider = (tree.providers as Plain | undefined)?.llmProvider;
  if (!(LLM_PROVIDER_CHOICES as readonly unknown[]).includes(provider)) {
    throw new ConfigError(
      `Invalid LLM provider: ${String(provider)}. Must be one of ${LLM_PROVIDER_CHOICES.join(', ')}`,
    );
  }

  const config = plainToInstance(MagiConfig, tree);
  const errors = validateSync(config, { forbidUnknownValues: true });
  if (errors.length) throw new ConfigError(describe(errors[0]));
  const { powerfulMin, fastMax } = config.registry.tierThresholds;
  if (fastMax > powerfulMin) {
    throw new ConfigError(`Invalid TIER_FAST_MAX: ${fastMax}. Must not exceed TIER_POWERFUL_MIN (${powerfulMin})`);
  }
  return config;
}
