/**
 * Memory-estimate bench: every model of the generated GGUF corpus × 10 server settings.
 * Reports what one estimate costs (µs) beside what reading the same model's header costs
 * (the baseline: the registry reads each header once, the estimate may run per request),
 * and the estimates themselves, so a change in the rules shows up in the table.
 *
 * `npx ts-node --transpile-only bench/memory.bench.ts` runs it alone (bench/run.ts runs
 * it with the others once `memory` is in its list).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGgufHeader } from '../src/registry/gguf/gguf-reader';
import {
  estimateMemory,
  MEMORY_PARSE_OPTIONS,
  MemorySettings,
  MemorySettingsError,
  ModelMemoryFacts,
  modelMemoryFacts,
} from '../src/registry/memory';
import { generateCorpus, MODELS, modelFiles } from '../test/support/corpus';
import { openByteSource } from '../test/support/gguf-writer';
import { fmt } from './support';

const SETTINGS: Array<[string, MemorySettings]> = [
  ['4k × 1', { ctxSize: 4096, parallel: 1 }],
  ['8k / 4 slots', { ctxSize: 8192, parallel: 4 }],
  ['32k × 1', { ctxSize: 32768, parallel: 1 }],
  ['32k / 4 unified', { ctxSize: 32768, parallel: 4, kvUnified: true }],
  ['16k / 2, q8_0', { ctxSize: 16384, parallel: 2, cacheTypeK: 'q8_0', cacheTypeV: 'q8_0' }],
  ['16k / 2, q4_0', { ctxSize: 16384, parallel: 2, cacheTypeK: 'q4_0', cacheTypeV: 'q4_0' }],
  ['8k, no flash attn', { ctxSize: 8192, parallel: 1, flashAttention: 'off' }],
  ['defaults', {}],
  ['128k × 1', { ctxSize: 131072, parallel: 1 }],
  ['8k / 8, swa-full', { ctxSize: 8192, parallel: 8, swaFull: true }],
];

/** Median of `rounds` timings of `fn` run `inner` times each, in µs per call. */
function timeIt(fn: () => void, inner: number, rounds = 15): number {
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < inner; i++) fn();
    samples.push(Number(process.hrtime.bigint() - t0) / 1000 / inner);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

const gib = (n: number): string => fmt(n / 2 ** 30, 2);

export async function run(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'magi-memory-bench-'));
  try {
    const corpus = await generateCorpus(dir);
    const models: Array<{ file: string; facts: ModelMemoryFacts; parseUs: number; factsUs: number }> = [];
    for (const m of MODELS) {
      const shards = modelFiles(m).map((f) => corpus.path(f.file));
      const parseAll = async () => {
        const headers = [];
        for (const file of shards) {
          const src = await openByteSource(file);
          try {
            headers.push(await parseGgufHeader(src, MEMORY_PARSE_OPTIONS));
          } finally {
            await src.close();
          }
        }
        return headers;
      };
      const headers = await parseAll();
      // Baseline: reading the header(s) once, as the registry does, median of 5.
      const parses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = process.hrtime.bigint();
        await parseAll();
        parses.push(Number(process.hrtime.bigint() - t0) / 1000);
      }
      parses.sort((a, b) => a - b);
      const facts = modelMemoryFacts(headers);
      if (!facts) throw new Error(`${m.file}: no memory facts`);
      const factsUs = timeIt(() => modelMemoryFacts(headers), 200);
      models.push({ file: m.file, facts, parseUs: parses[2], factsUs });
    }

    const perModel: string[] = [];
    const estimateCosts: number[] = [];
    let refused = 0;
    for (const m of models) {
      const cells: string[] = [];
      for (const [, settings] of SETTINGS) {
        try {
          cells.push(gib(estimateMemory(m.facts, settings)!.totalBytes));
        } catch (e) {
          if (!(e instanceof MemorySettingsError)) throw e;
          refused++;
          cells.push('refused');
        }
      }
      const us = timeIt(() => {
        for (const [, settings] of SETTINGS) {
          try {
            estimateMemory(m.facts, settings);
          } catch {
            // Refused settings cost the same walk; counted above.
          }
        }
      }, 2000);
      estimateCosts.push(us / SETTINGS.length);
      perModel.push(
        `| ${m.file} | ${gib(m.facts.weightsBytes)} | ${cells.join(' | ')} | ${fmt(us / SETTINGS.length, 2)} | ${fmt(m.factsUs, 1)} | ${fmt(m.parseUs / 1000, 1)} |`,
      );
    }
    const mean = estimateCosts.reduce((a, b) => a + b, 0) / estimateCosts.length;
    const meanParse = models.reduce((a, m) => a + m.parseUs, 0) / models.length;

    return [
      '## Memory estimate',
      '',
      `${models.length} corpus models × ${SETTINGS.length} settings (${models.length * SETTINGS.length} estimates, ${refused} refused as llama-server would). ` +
        `One estimate (facts → bytes) costs **${fmt(mean, 2)} µs** on average; the baseline, reading the model's header(s) once, ` +
        `costs ${fmt(meanParse / 1000, 1)} ms (${fmt(meanParse / mean, 0)}× an estimate). ` +
        'Facts are derived once per model from its parsed headers (column "facts µs").',
      '',
      `| model | weights GiB | ${SETTINGS.map(([n]) => `${n} GiB`).join(' | ')} | µs / estimate | facts µs | header read ms |`,
      `|---|---:|${SETTINGS.map(() => '---:').join('|')}|---:|---:|---:|`,
      ...perModel,
    ].join('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  run()
    .then((section) => {
      process.stdout.write(`${section}\n`);
      process.exit(0);
    })
    .catch((e) => {
      process.stderr.write(`memory bench failed: ${(e as Error).stack}\n`);
      process.exit(1);
    });
}
