/**
 * Runs the benchmarks and writes BENCHMARKS.md. Each bench module exports
 * `run(): Promise<string>` returning a markdown section whose figures are ratios against
 * a baseline measured in the same run. `npm run bench -- registry gateway` runs a subset.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

const ALL = [
  'registry',
  'fleet',
  'providers',
  'gateway',
  'memory',
  'scheduling',
  'downloads',
  'robustness',
  'soak',
] as const;
/** Recorded results of benches that take arguments (two builds to compare), kept in BENCHMARKS.md. */
const RECORDS = ['gateway-decisions'];
/** Run when no bench is named; the 10-minute soak only when asked for. */
const DEFAULT = ['registry', 'fleet', 'providers', 'gateway', 'memory', 'scheduling', 'downloads', 'robustness'];

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => (ALL as readonly string[]).includes(a));
  const names = wanted.length ? wanted : DEFAULT;
  const resultsDir = join(__dirname, 'results');
  mkdirSync(resultsDir, { recursive: true });
  for (const name of names) {
    process.stderr.write(`bench: ${name}…\n`);
    const started = Date.now();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(`./${name}.bench`) as { run: () => Promise<string> };
    const section = await mod.run();
    const took = ((Date.now() - started) / 1000).toFixed(1);
    writeFileSync(
      join(resultsDir, `${name}.md`),
      `${section.trim()}\n\n_(${name} bench: ${took} s, run ${new Date().toISOString()})_\n`,
    );
  }
  // BENCHMARKS.md gathers the latest result of every bench, so a partial run keeps the others.
  const sections = [...ALL, ...RECORDS]
    .map((n) => join(resultsDir, `${n}.md`))
    .filter(existsSync)
    .map((f) => readFileSync(f, 'utf8').trim());
  const header = [
    '# Benchmarks',
    '',
    `Measured by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}. Every figure is set beside a baseline ` +
      'measured in the same run; the test suite asserts no timings.',
    '',
  ].join('\n');
  const out = join(__dirname, '..', 'BENCHMARKS.md');
  writeFileSync(out, `${header}\n${sections.join('\n\n')}\n`);
  process.stderr.write(`bench: wrote ${out}\n`);
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${(e as Error).stack}\n`);
  process.exit(1);
});
