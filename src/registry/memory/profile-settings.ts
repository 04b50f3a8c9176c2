/**
 * A profile's `server` block → the settings the memory estimate takes, as llama-server
 * would end up with them. The fleet passes `--ctx-size`, `--parallel` and `--embeddings`
 * from the block, then `extraArgs` as they are (src/servers/llama-server-args.ts), so the
 * flags in `extraArgs` are read here the way llama.cpp's parser reads them (common/arg.cpp,
 * `common_params_parse_ex`): the same spellings, `_` read as `-` in a `--` flag, the last
 * occurrence of a flag winning, a value always in the next token (`--flag=value` is not a
 * spelling llama-server accepts). What a profile leaves unset stays unset: the estimate then
 * applies llama-server's own default. Pure.
 */
import type { ProfileServerSettings } from '../../common/vocabulary/server-settings';
import type { MemorySettings } from './memory-estimate';

type Apply = (s: MemorySettings, value: string) => void;

/** common_arg_utils::is_truthy / is_falsey / is_autoy. */
const onOff = (value: string): 'on' | 'off' | 'auto' | null => {
  if (['on', 'enabled', 'true', '1'].includes(value)) return 'on';
  if (['off', 'disabled', 'false', '0'].includes(value)) return 'off';
  if (['auto', '-1'].includes(value)) return 'auto';
  return null;
};

/** std::stoi: leading digits, else the flag makes llama-server exit (and the setting is left as it was). */
const integer = (value: string): number | null => {
  const n = Number.parseInt(value, 10);
  return Number.isSafeInteger(n) ? n : null;
};

const int =
  (key: 'ctxSize' | 'parallel' | 'batchSize' | 'ubatchSize'): Apply =>
  (s, value) => {
    const n = integer(value);
    if (n !== null) s[key] = n;
  };

function flashAttention(s: MemorySettings, value: string): void {
  const v = onOff(value);
  if (v) s.flashAttention = v;
}

function setFit(s: MemorySettings, value: string): void {
  const v = onOff(value);
  if (v === 'on' || v === 'off') s.fit = v === 'on';
}

/** Flags that take a value, by every spelling llama-server lists. */
const WITH_VALUE: Readonly<Record<string, Apply>> = {
  '-c': int('ctxSize'),
  '--ctx-size': int('ctxSize'),
  '-np': int('parallel'),
  '--parallel': int('parallel'),
  '-b': int('batchSize'),
  '--batch-size': int('batchSize'),
  '-ub': int('ubatchSize'),
  '--ubatch-size': int('ubatchSize'),
  '-ctk': (s, v) => (s.cacheTypeK = v),
  '--cache-type-k': (s, v) => (s.cacheTypeK = v),
  '-ctv': (s, v) => (s.cacheTypeV = v),
  '--cache-type-v': (s, v) => (s.cacheTypeV = v),
  '-fa': flashAttention,
  '--flash-attn': flashAttention,
  '-fit': setFit,
  '--fit': setFit,
};

/** Switches: the flag alone. */
const SWITCHES: Readonly<Record<string, Partial<MemorySettings>>> = {
  '-kvu': { kvUnified: true },
  '--kv-unified': { kvUnified: true },
  '-no-kvu': { kvUnified: false },
  '--no-kv-unified': { kvUnified: false },
  '--swa-full': { swaFull: true },
  '--embedding': { embeddings: true },
  '--embeddings': { embeddings: true },
};

/** llama.cpp reads `--cache_type_k` as `--cache-type-k`; short flags are taken as written. */
const flagName = (token: string): string => (token.startsWith('--') ? token.replace(/_/g, '-') : token);

/** The memory settings llama-server gets from a profile's `server` block (absent: all of its defaults). */
export function memorySettingsOf(server: ProfileServerSettings | null | undefined): MemorySettings {
  const s: MemorySettings = {};
  if (!server) return s;
  // The fleet's own flags come first on the command line, extraArgs after them.
  if (server.ctxSize !== undefined && server.ctxSize !== null) s.ctxSize = server.ctxSize;
  if (server.parallel !== undefined && server.parallel !== null) s.parallel = server.parallel;
  if (server.embeddings) s.embeddings = true;
  const args = (server.extraArgs ?? []).map(String);
  for (let i = 0; i < args.length; i++) {
    const name = flagName(args[i]);
    const apply = Object.prototype.hasOwnProperty.call(WITH_VALUE, name) ? WITH_VALUE[name] : undefined;
    if (apply) {
      if (i + 1 < args.length) apply(s, args[++i]);
      continue;
    }
    if (Object.prototype.hasOwnProperty.call(SWITCHES, name)) Object.assign(s, SWITCHES[name]);
  }
  return s;
}
