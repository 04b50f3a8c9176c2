/**
 * Pure command-line building for llama-server, tolerant of flag drift between builds
 * (see test/fixtures/contracts/llama-server/README.md): each setting has the spellings builds
 * have used, the first one this build's `--help` lists is passed, and a setting the build
 * does not know is left out with a warning instead of making the server exit at once.
 */
import type { ProfileServerSettings } from '../common/vocabulary/server-settings';

/** The flags one llama-server build accepts, read from its `--help`. */
export interface HelpFlags {
  /** Every spelling listed (`-c`, `--ctx-size`, …). */
  names: Set<string>;
  /** Values each flag takes (0 for a switch), by spelling. */
  arity: Map<string, number>;
}

/** Spellings of each flag the fleet may pass, preferred first. */
export const FLAG_SPELLINGS = {
  model: ['--model', '-m'],
  host: ['--host'],
  port: ['--port'],
  alias: ['--alias', '-a'],
  ctxSize: ['--ctx-size', '-c'],
  gpuLayers: ['--n-gpu-layers', '--gpu-layers', '-ngl'],
  parallel: ['--parallel', '-np'],
  embeddings: ['--embeddings', '--embedding'],
  mmproj: ['--mmproj', '-mm'],
} as const;

type FlagKey = keyof typeof FLAG_SPELLINGS;

/**
 * Parses `llama-server --help`: every line starting with a flag lists its spellings
 * (`-c,    --ctx-size N`); an upper-case hint after them (`N`, `FNAME`, `START END`) gives
 * the number of values it takes.
 */
export function parseHelpFlags(helpText: string): HelpFlags {
  const names = new Set<string>();
  const arity = new Map<string, number>();
  for (const line of helpText.split('\n')) {
    if (!/^-{1,2}[A-Za-z0-9]/.test(line)) continue;
    let rest = line;
    const spellings: string[] = [];
    for (;;) {
      const m = /^(-{1,2}[A-Za-z0-9][\w.+-]*)(,\s*)?/.exec(rest);
      if (!m) break;
      spellings.push(m[1]);
      rest = rest.slice(m[0].length);
      if (!m[2]) break;
    }
    const hint = /^ (\S.*?)(?:\s{2,}|$)/.exec(rest)?.[1].trim() ?? '';
    let n = 0;
    if (hint) {
      const words = hint.split(/\s+/);
      n = words.every((w) => /^[A-Z_]+$/.test(w)) ? words.length : 1;
    }
    for (const s of spellings) {
      names.add(s);
      arity.set(s, n);
    }
  }
  return { names, arity };
}

export interface LlamaServerArgsInput {
  modelPath: string;
  host: string;
  port: number;
  /** The model id, which clients and the gateway use as the model name. */
  alias: string;
  mmprojPath?: string | null;
  /** The active profile's `server` block. */
  settings?: ProfileServerSettings | null;
  /** Flags of this build; null when its help could not be read (everything is passed). */
  flags: HelpFlags | null;
}

export interface LlamaServerArgs {
  args: string[];
  /** Settings left out because this build does not know their flag. */
  warnings: string[];
}

function spelling(key: FlagKey, flags: HelpFlags | null): string | null {
  const options = FLAG_SPELLINGS[key];
  if (!flags) return options[0];
  return options.find((s) => flags.names.has(s)) ?? null;
}

/**
 * `--model <file> --host <host> --port <port> --alias <id>` plus the profile's settings
 * (`--ctx-size`, `--n-gpu-layers`, `--parallel`, `--embeddings`, `extraArgs`) and
 * `--mmproj <file>`, each only when this build lists its flag.
 */
export function buildLlamaServerArgs(input: LlamaServerArgsInput): LlamaServerArgs {
  const { flags } = input;
  const warnings: string[] = [];
  const args: string[] = [];
  // The four flags every build has had; passed in their long form even if the help
  // text could not be parsed, so a server always binds where the fleet expects it.
  args.push(spelling('model', flags) ?? '--model', input.modelPath);
  args.push('--host', input.host, '--port', String(input.port));
  args.push(spelling('alias', flags) ?? '--alias', input.alias);

  const optional = (key: FlagKey, setting: string, values: string[]): void => {
    const flag = spelling(key, flags);
    if (flag) args.push(flag, ...values);
    else warnings.push(`${setting} ignored: this llama-server build has no ${FLAG_SPELLINGS[key][0]} flag`);
  };
  const s = input.settings ?? {};
  if (s.ctxSize !== undefined && s.ctxSize !== null)
    optional('ctxSize', `server.ctxSize=${s.ctxSize}`, [String(s.ctxSize)]);
  if (s.gpuLayers !== undefined && s.gpuLayers !== null) {
    optional('gpuLayers', `server.gpuLayers=${s.gpuLayers}`, [String(s.gpuLayers)]);
  }
  if (s.parallel !== undefined && s.parallel !== null)
    optional('parallel', `server.parallel=${s.parallel}`, [String(s.parallel)]);
  if (s.embeddings) optional('embeddings', 'server.embeddings=true', []);
  if (input.mmprojPath) optional('mmproj', `projector ${input.mmprojPath}`, [input.mmprojPath]);
  args.push(...filterExtraArgs(s.extraArgs ?? [], flags, warnings));
  return { args, warnings };
}

const isFlag = (token: string): boolean => /^-{1,2}[A-Za-z]/.test(token);

/**
 * Keeps the `extraArgs` this build understands. An unknown flag is dropped with the
 * value tokens that follow it (anything up to the next flag), with a warning.
 */
function filterExtraArgs(extra: readonly string[], flags: HelpFlags | null, warnings: string[]): string[] {
  if (!flags) return [...extra];
  const out: string[] = [];
  for (let i = 0; i < extra.length; i++) {
    const token = String(extra[i]);
    if (!isFlag(token)) {
      out.push(token);
      continue;
    }
    const name = token.includes('=') ? token.slice(0, token.indexOf('=')) : token;
    if (flags.names.has(name)) {
      out.push(token);
      const n = token.includes('=') ? 0 : (flags.arity.get(name) ?? 0);
      for (let k = 0; k < n && i + 1 < extra.length; k++) out.push(String(extra[++i]));
      continue;
    }
    const dropped = [token];
    while (i + 1 < extra.length && !isFlag(String(extra[i + 1]))) dropped.push(String(extra[++i]));
    warnings.push(`server.extraArgs "${dropped.join(' ')}" ignored: this llama-server build has no ${name} flag`);
  }
  return out;
}
