/**
 * Two MAGI builds against a real llama-server, in the same run (issue 18's speed check):
 * each build runs its own fleet of one real llama-server (LLAMA_SERVER_PATH, BENCH_LLAMA_MODEL,
 * 4 slots), and wrk alternates direct → A → B → direct … per cell, so drift hits all alike.
 * Cells: non-streamed JSON at 1 and 8 connections (p50 of the whole answer, req/s), and SSE
 * at 1 connection (time to the first chunk). Prints a markdown table of medians.
 *
 *   git worktree add /tmp/magi-a <rev> && (cd /tmp/magi-a && npm ci && npx nest build)
 *   LLAMA_SERVER_PATH=… BENCH_LLAMA_MODEL=tiny.gguf npx ts-node --transpile-only bench/gateway-real-ab.ts /tmp/magi-a/dist [dist of B]
 *
 * B is this tree, built first, unless a second dist folder is given.
 *
 * Knobs: BENCH_AB_ROUNDS (default 5), BENCH_AB_SECONDS (per run, default 5), BENCH_AB_TOKENS
 * (max_tokens per answer, default 8), BENCH_AB_LABEL_A / _B (names in the table).
 */
import { LoadResult } from './support';
import { StreamResult, chatBody, jsonLoad, startMagi, streamLoad } from './gateway.bench';

const ROUNDS = Number(process.env.BENCH_AB_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_AB_SECONDS ?? 5);
const TOKENS = Number(process.env.BENCH_AB_TOKENS ?? 8);
const LABEL_A = process.env.BENCH_AB_LABEL_A ?? 'A';
const LABEL_B = process.env.BENCH_AB_LABEL_B ?? 'B';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const f = (n: number, d = 2): string => n.toFixed(d);

async function main(): Promise<void> {
  const aDist = process.argv[2];
  if (!aDist) throw new Error('usage: gateway-real-ab.ts <dist folder of build A>');
  if (!process.env.LLAMA_SERVER_PATH || !process.env.BENCH_LLAMA_MODEL) {
    throw new Error('set LLAMA_SERVER_PATH and BENCH_LLAMA_MODEL');
  }
  const a = await startMagi('real', undefined, aDist);
  const b = await startMagi('real', undefined, process.argv[3]);
  try {
    const server = b.info.servers[0];
    const targets = {
      direct: { url: `http://127.0.0.1:${server.port}/v1/chat/completions`, model: server.modelId },
      [LABEL_A]: { url: `${a.info.url}/v1/chat/completions`, model: a.info.servers[0].modelId },
      [LABEL_B]: { url: `${b.info.url}/v1/chat/completions`, model: server.modelId },
    };
    const names = Object.keys(targets);
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
    const rows: string[] = [
      `| cell | direct req/s | ${LABEL_A} / direct | ${LABEL_B} / direct | direct p50 ms | ${LABEL_A} p50 added | ${LABEL_B} p50 added |`,
      '|---|---:|---:|---:|---:|---:|---:|',
    ];
    for (const cell of cells) {
      const runs: Record<string, Array<{ rps: number; p50: number }>> = Object.fromEntries(names.map((n) => [n, []]));
      for (let r = 0; r < ROUNDS; r++) {
        const order = r % 2 === 0 ? names : [names[0], ...names.slice(1).reverse()];
        for (const n of order) {
          const x = await cell.run(targets[n]);
          runs[n].push({ rps: x.rps, p50: 'ttfcP50' in x ? x.ttfcP50 : x.p50 });
        }
      }
      const m = Object.fromEntries(
        names.map((n) => [n, { rps: median(runs[n].map((x) => x.rps)), p50: median(runs[n].map((x) => x.p50)) }]),
      );
      const d = m.direct;
      rows.push(
        `| ${cell.name} | ${f(d.rps, 0)} | ${f((100 * m[LABEL_A].rps) / d.rps, 1)}% | ${f((100 * m[LABEL_B].rps) / d.rps, 1)}% | ` +
          `${f(d.p50)} | +${f(m[LABEL_A].p50 - d.p50)} | +${f(m[LABEL_B].p50 - d.p50)} |`,
      );
      process.stderr.write(`${rows[rows.length - 1]}\n`);
    }
    console.log(
      `${ROUNDS} rounds of ${SECONDS} s per cell and side (direct, ${LABEL_A}, ${LABEL_B} alternating), medians; ` +
        `${TOKENS} tokens per answer, 4 slots.\n\n${rows.join('\n')}`,
    );
  } finally {
    await a.close();
    await b.close();
  }
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    process.stderr.write(`${e.stack ?? e.message}\n`);
    process.exit(1);
  },
);
