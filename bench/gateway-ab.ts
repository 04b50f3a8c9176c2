/**
 * A/B of two MAGI builds on the gateway's hot path, for changes too small for the
 * direct-vs-MAGI ratio to show on a noisy machine: both builds run side by side (each on
 * its own stand-in fleet) and wrk alternates between them (A B, B A, …), 4 s per run at 16
 * connections against the stand-in answering after 5 ms, so drift hits both alike. Prints
 * B's req/s as a percentage of A's per pair and their median.
 *
 *   git worktree add /tmp/magi-a <rev> && ln -s "$PWD/node_modules" /tmp/magi-a/ && (cd /tmp/magi-a && npx nest build)
 *   npx ts-node --transpile-only bench/gateway-ab.ts /tmp/magi-a/dist     # B = this tree (built by the bench)
 *
 * It also prints the requests each build answered, so profiles of both
 * (BENCH_GATEWAY_NODE_ARGS="--cpu-prof …") turn into per-request figures. Knobs:
 * BENCH_AB_PAIRS (default 12), BENCH_AB_NODE_ARGS_A (node flags for build A only, in place of
 * BENCH_GATEWAY_NODE_ARGS: A/B of a runtime flag on one build), and gateway.bench.ts's
 * BENCH_GATEWAY_* for both.
 */
import { chatBody, startMagi, wrkLoad } from './gateway.bench';

async function main(): Promise<void> {
  const aDist = process.argv[2];
  if (!aDist) throw new Error('usage: gateway-ab.ts <dist folder of build A>');
  const aArgs = process.env.BENCH_AB_NODE_ARGS_A?.split(/\s+/).filter(Boolean);
  const a = await startMagi('standin', undefined, aDist, aArgs);
  const b = await startMagi('standin');
  try {
    const target = (m: typeof a) => ({
      url: `${m.info.url}/v1/chat/completions`,
      body: chatBody(m.info.servers.find((s) => s.modelId.startsWith('five'))!.modelId, false),
    });
    const ta = target(a);
    const tb = target(b);
    // Requests each build answered, to turn profiles (BENCH_GATEWAY_NODE_ARGS=--cpu-prof) into per-request figures.
    const served = new Map<typeof ta, number>();
    const rps = async (t: typeof ta): Promise<number> => {
      const r = await wrkLoad(t.url, t.body, 16, 4);
      served.set(t, (served.get(t) ?? 0) + r.requests);
      return r.rps;
    };
    await rps(ta);
    await rps(tb);
    const ratios: number[] = [];
    for (let i = 0; i < Number(process.env.BENCH_AB_PAIRS ?? 12); i++) {
      let ra: number;
      let rb: number;
      if (i % 2 === 0) {
        ra = await rps(ta);
        rb = await rps(tb);
      } else {
        rb = await rps(tb);
        ra = await rps(ta);
      }
      ratios.push((100 * rb) / ra);
    }
    const sorted = [...ratios].sort((x, y) => x - y);
    console.log(`requests answered: A ${served.get(ta)}, B ${served.get(tb)}`);
    console.log(
      `B / A req/s: median ${sorted[Math.floor(sorted.length / 2)].toFixed(1)}% (pairs: ${ratios.map((x) => x.toFixed(1)).join(', ')})`,
    );
  } finally {
    await a.close();
    await b.close();
  }
}

void main();
