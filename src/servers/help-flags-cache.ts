import type { ProcessLauncher } from '../common/io/process-launcher';
import { HelpFlags, parseHelpFlags } from './llama-server-args';

/** What the fleet knows about one llama-server binary. */
export type BinaryProbe = { ok: true; flags: HelpFlags | null; warning: string | null } | { ok: false; error: string };

const HELP_TIMEOUT_MS = 15_000;

/**
 * Runs `<binary> --help` once per binary path and keeps the flags it lists, so the fleet
 * passes an optional setting only when that build knows its flag. A missing or
 * non-executable binary is not remembered: installing it later and starting again works.
 */
export class HelpFlagsCache {
  private readonly cache = new Map<string, Promise<BinaryProbe>>();
  private readonly shutdown = new AbortController();

  constructor(private readonly launcher: ProcessLauncher) {}

  probe(binary: string): Promise<BinaryProbe> {
    let entry = this.cache.get(binary);
    if (!entry) {
      entry = this.run(binary, this.shutdown.signal);
      this.cache.set(binary, entry);
      void entry.then((r) => {
        if (!r.ok || r.flags === null) this.cache.delete(binary);
      });
    }
    return entry;
  }

  /** Kills any `--help` still running (application shutdown). */
  abortAll(): void {
    this.shutdown.abort();
  }

  private async run(binary: string, signal?: AbortSignal): Promise<BinaryProbe> {
    const r = await this.launcher.run({ command: binary, args: ['--help'] }, { timeoutMs: HELP_TIMEOUT_MS, signal });
    if (r.spawnError) {
      if (r.spawnError.code === 'ENOENT') return { ok: false, error: `llama-server binary not found at ${binary}` };
      if (r.spawnError.code === 'EACCES')
        return { ok: false, error: `llama-server binary at ${binary} is not executable (EACCES)` };
      return { ok: false, error: `llama-server binary at ${binary} cannot be started: ${r.spawnError.message}` };
    }
    const flags = parseHelpFlags(`${r.stdout}\n${r.stderr}`);
    if (r.timedOut || flags.names.size === 0 || !flags.names.has('--port')) {
      const why = r.timedOut ? 'timed out' : `listed no flags (exit code ${r.code ?? r.signal})`;
      return {
        ok: true,
        flags: null,
        warning: `${binary} --help ${why}; every profile setting is passed as is`,
      };
    }
    return { ok: true, flags, warning: null };
  }
}
