/**
 * Soak (issue 6; not part of CI): a compiled MAGI process under steady mixed traffic for
 * SOAK_MINUTES (default 10) while one stand-in llama-server crashes every 20 s and is
 * restarted by the fleet. RSS and open file descriptors of the MAGI process are sampled
 * every minute; both should stay flat, so the report gives their least-squares slope.
 * Run with `npm run bench -- soak`.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTestDirs, testEnv } from '../test/support/create-test-app';
import { buildPrivateDist } from '../test/support/build';
import { STANDIN_PATH, freePort, freePortRange, waitFor } from '../test/support/fixtures';
import { idOf, writeModel, writeProfile } from '../test/e2e/fleet.helpers';
import { fmt } from './support';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 10);

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den ? num / den : 0;
}

export async function run(): Promise<string> {
  const main = buildPrivateDist('soak');
  const dirs = makeTestDirs('magi-soak-');
  const names = ['alpha', 'bravo', 'charlie'];
  for (const n of names) await writeModel(dirs.models, n);
  writeProfile(dirs, 'development', names.map(idOf));
  const standinConfig = join(dirs.root, 'standin.json');
  writeFileSync(standinConfig, JSON.stringify({ [idOf('charlie')]: { CRASH_AFTER_MS: 20_000 } }));
  const port = await freePort();
  const range = await freePortRange(8);
  const env = {
    ...testEnv(dirs, {
      PORT: String(port),
      LLAMA_SERVER_PATH: STANDIN_PATH,
      ACTIVE_PROFILE: 'development',
      PORT_RANGE: `${range[0]}-${range[1]}`,
      READINESS_CHECK_INTERVAL: '0.2',
      FLEET_BACKOFF_INITIAL_MS: '500',
      FLEET_MAX_FAILURES: '100000',
      LOG_LEVEL: 'warn',
    }),
    STANDIN_CONFIG: standinConfig,
    STANDIN_RESPONSE_DELAY_MS: '5',
  };
  const child: ChildProcess = spawn(process.execPath, [main], { env, stdio: 'ignore', detached: false });
  const url = `http://127.0.0.1:${port}`;
  const json = { 'content-type': 'application/json' };
  let requests = 0;
  let failures = 0;
  const statuses: Record<string, number> = {};
  try {
    await waitFor(async () => (await fetch(`${url}/health/ready`).catch(() => null))?.status === 200, 60_000);
    const mix: Array<() => Promise<Response>> = [
      () => fetch(`${url}/api/models/registry`),
      () => fetch(`${url}/api/models/servers`),
      () => fetch(`${url}/health/ready`),
      () => fetch(`${url}/metrics`),
      () => fetch(`${url}/v1/models`),
      () => fetch(`${url}/api/models/profiles/development`),
      () =>
        fetch(`${url}/api/models/${idOf('alpha')}/tier`, {
          method: 'PUT',
          headers: json,
          body: JSON.stringify({ tier: requests % 2 ? 'fast' : null }),
        }),
      () =>
        fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ model: idOf('bravo'), messages: [{ role: 'user', content: 'hi' }] }),
        }),
      () =>
        fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ model: 'fast', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
        }),
    ];
    const started = Date.now();
    const end = started + MINUTES * 60_000;
    const samples: Array<{ minute: number; rss: number; heap: number; fds: number; restarts: number }> = [];
    const sampleNow = async (minute: number): Promise<void> => {
      const servers = (await (await fetch(`${url}/api/models/servers`)).json()) as {
        servers: Array<{ restarts: number }>;
      };
      const metrics = await (await fetch(`${url}/metrics`)).text();
      const heap = Number(/^magi_process_nodejs_heap_size_used_bytes (\S+)/m.exec(metrics)?.[1] ?? NaN) / 2 ** 20;
      samples.push({
        minute,
        rss: rssMb(child.pid!),
        heap,
        fds: fdCount(child.pid!),
        restarts: servers.servers.reduce((n, s) => n + s.restarts, 0),
      });
    };
    await sampleNow(0);
    const workers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = w; Date.now() < end; i++) {
        try {
          const res = await mix[i % mix.length]();
          await res.arrayBuffer();
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        } catch {
          failures++;
        }
        requests++;
        await new Promise((r) => setTimeout(r, 40)); // ~100 requests/s in all
      }
    });
    for (let m = 1; m <= MINUTES; m++) {
      await new Promise((r) => setTimeout(r, started + m * 60_000 - Date.now()));
      await sampleNow(m);
    }
    await Promise.all(workers);
    const steady = samples.filter((s) => s.minute >= 1); // the first minute warms the JIT and pools
    const rssSlope = slope(
      steady.map((s) => s.minute),
      steady.map((s) => s.rss),
    );
    const fdSlope = slope(
      steady.map((s) => s.minute),
      steady.map((s) => s.fds),
    );
    const heapSlope = slope(
      steady.map((s) => s.minute),
      steady.map((s) => s.heap),
    );
    return [
      '## Soak (issue 6)',
      '',
      `${MINUTES} minutes of mixed traffic (registry, servers, readiness, metrics, /v1/models, profile reads, tier writes, chat completions streamed and not) from 4 loops, ` +
        `${fmt(requests)} requests (${fmt(requests / (MINUTES * 60), 1)}/s), ${failures} transport failures, statuses ${JSON.stringify(statuses)}. ` +
        'One of the three stand-in servers crashes 20 s after every start and is restarted by the fleet. MAGI ran compiled, in its own process.',
      '',
      '| minute | RSS MB | JS heap used MB | open fds | fleet restarts so far |',
      '|---|---|---|---|---|',
      ...samples.map((s) => `| ${s.minute} | ${fmt(s.rss, 1)} | ${fmt(s.heap, 1)} | ${s.fds} | ${s.restarts} |`),
      '',
      `Slopes from minute 1 on (least squares): RSS **${fmt(rssSlope, 2)} MB/min**, JS heap used **${fmt(heapSlope, 2)} MB/min**, open fds **${fmt(fdSlope, 2)} per minute** ` +
        '(flat means ≈ 0; the baseline is minute 1 of the same run; heap is sampled between collections, so it moves by a few MB either way).',
    ].join('\n');
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    rmSync(dirs.root, { recursive: true, force: true });
    rmSync(join(main, '..'), { recursive: true, force: true });
  }
}
