/**
 * MAGI builds against a real llama-server, in the same run (issue 18's speed check): each
 * build runs its own fleet of one real llama-server (LLAMA_SERVER_PATH, BENCH_LLAMA_MODEL,
 * 4 slots), and wrk alternates direct → A → B → … per cell, so drift hits all alike.
 * Cells: non-streamed JSON at 1 and 8 connections (p50 of the whole answer, req/s), and SSE
 * at 1 connection (time to the first chunk); for each build also the MAGI process's CPU
 * (user + system) per request, steadier on a shared VM than latency. Prints a markdown table of medians.
 *
 *   git worktree add /tmp/magi-a <rev> && (cd /tmp/magi-a && npm ci && npx nest build)
 *   LLAMA_SERVER_PATH=… BENCH_LLAMA_MODEL=tiny.gguf npx ts-node --transpile-only bench/gateway-real-ab.ts /tmp/magi-a/dist [more dists]
 *
 * With one dist folder, B is this tree (built first); with more, each is a build to compare.
 *
 * Knobs: BENCH_AB_ROUNDS (default 5), BENCH_AB_SECONDS (per run, default 5), BENCH_AB_TOKENS
 * (max_tokens per answer, default 8), BENCH_AB_LABELS (names in the table, comma-separated).
 */
import { LoadResult } from './support';
import { StreamResult, chatBody, jsonLoad, startMagi, streamLoad } from './gateway.bench';

const ROUNDS = Number(process.env.BENCH_AB_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_AB_SECONDS ?? 5);
const TOKENS = Number(process.env.BENCH_AB_TOKENS ?? 8);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const f = (n: number, d = 2): string => n.toFixed(d);

async function main(): Promise<void> {
  const dists = process.argv.slice(2);
  if (dists.length === 0) throw new Error('usage: gateway-real-ab.ts <dist of build A> [<dist of build B> …]');
  if (!process.env.LLAMA_SERVER_PATH || !process.env.BENCH_LLAMA_MODEL) {
    throw new Error('set LLAMA_SERVER_PATH and BENCH_LLAMA_MODEL');
  }
  const builds: Array<string | undefined> = dists.length === 1 ? [dists[0], undefined] : dists;
  const labels = process.env.BENCH_AB_LABELS?.split(',') ?? builds.map((_, i) => String.fromCharCode(65 + i));
  const magis: Array<Awaited<ReturnType<typeof startMagi>>> = [];
  try {
    for (const dist of builds) magis.push(await startMagi('real', undefined, dist));
    const server = magis[0].info.servers[0];
    const targets: Record<string, { url: string; model: string }> = {
      direct: { url: `http://127.0.0.1:${server.port}/v1/chat/completions`, model: server.modelId },
    };
    magis.forEach((m, i) => {
      targets[labels[i]] = { url: `${m.info.url}/v1/chat/completions`, model: m.info.servers[0].modelId };
    });
    // Not Object.keys: a label that reads as a number (a short commit hash) would sort first.
    const names = ['direct', ...labels.slice(0, magis.length)];
    type Cell = { name: string; run: (t: { url: string; model: string }) => Promise<LoadResult | StreamResult> };
    const cells: Cell[] = [
      { name: 'JSON, 1 connection', run: (t) => jsonLoad(t.url, chatBody(t.model, false, TOKENS), 1, SECONDS) },
      { name: 'JSON, 8 connections', run: (t) => jsonLoad(t.url, chatBody(t.model, false, TOKENS), 8, SECONDS) },
      {
        name: 'SSE first chunk, 1 connection',
        run: (t) => streamLoad(t.url, chatBody(t.model, true, TOKENS), 1, SECONDS, t === targets.direct),
      },
    ];
    // Warm-up: JIT, pools, the model's first requests.
    for (const n of names) await jsonLoad(targets[n].url, chatBody(targets[n].model, false, TOKENS), 8, 2);
    const builtLabels = names.slice(1);
    const rows: string[] = [
      `| cell | direct req/s | ${builtLabels.map((l) => `${l} / direct`).join(' | ')} | direct p50 ms | ${builtLabels.map((l) => `${l} p50 added`).join(' | ')} | ${builtLabels.map((l) => `${l} CPU µs/req`).join(' | ')} |`,
      `|---|---:|${builtLabels.map(() => '---:').join('|')}|---:|${builtLabels.map(() => '---:').join('|')}|${builtLabels.map(() => '---:').join('|')}|`,
    ];
    for (const cell of cells) {
      const runs: Record<string, Array<{ rps: number; p50: number; cpuUs: number }>> = Object.fromEntries(
        names.map((n) => [n, []]),
      );
      for (let r = 0; r < ROUNDS; r++) {
        const order = r % 2 === 0 ? names : [...names].reverse();
        for (const n of order) {
          const magi = magis[labels.indexOf(n)];
          const before = magi ? await magi.ask<NodeJS.CpuUsage>('cpu') : null;
          const x = await cell.run(targets[n]);
          const after = magi ? await magi.ask<NodeJS.CpuUsage>('cpu') : null;
          const cpuUs =
            before && after ? (after.user - before.user + after.system - before.system) / (x.rps * SECONDS) : NaN;
          runs[n].push({ rps: x.rps, p50: 'ttfcP50' in x ? x.ttfcP50 : x.p50, cpuUs });
        }
      }
      const m = Object.fromEntries(
        names.map((n) => [
          n,
          {
            rps: median(runs[n].map((x) => x.rps)),
            p50: median(runs[n].map((x) => x.p50)),
            cpuUs: median(runs[n].map((x) => x.cpuUs)),
          },
        ]),
      );
      const d = m.direct;
      rows.push(
        `| ${cell.name} | ${f(d.rps, 0)} | ${builtLabels.map((l) => `${f((100 * m[l].rps) / d.rps, 1)}%`).join(' | ')} | ` +
          `${f(d.p50)} | ${builtLabels.map((l) => `${m[l].p50 >= d.p50 ? '+' : ''}${f(m[l].p50 - d.p50)}`).join(' | ')} | ` +
          `${builtLabels.map((l) => f(m[l].cpuUs, 0)).join(' | ')} |`,
      );
      process.stderr.write(`${rows[rows.length - 1]}\n`);
    }
    console.log(
      `${ROUNDS} rounds of ${SECONDS} s per cell and side (${names.join(', ')}, alternating), medians; ` +
        `${TOKENS} tokens per answer, 4 slots.\n\n${rows.join('\n')}`,
    );
  } finally {
    for (const m of magis) await m.close();
  }
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    process.stderr.write(`${e.stack ?? e.message}\n`);
    process.exit(1);
  },
);
