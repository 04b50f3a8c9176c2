/**
 * Registry benchmarks (issue 2):
 * - rescan of 100 / 1,000 / 3,000 GGUF files whose headers carry a 150,000-token vocabulary,
 *   against a baseline of reading the same header bytes with one plain read per file;
 * - an unchanged rescan (no header read again);
 * - GET /api/models/registry with 1,000 models vs a bare endpoint on the same Nest app that
 *   returns a precomputed JSON of the same size (the ceiling).
 */
import { Controller, Get, Header, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import {
  linkSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  closeSync,
  rmSync,
  statSync,
  readdirSync,
} from 'node:fs';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppModule } from '../src/app.module';
import { configureApp } from '../src/app.setup';
import { loadMagiConfig } from '../src/config/load-config';
import { makeTestDirs, testEnv } from '../test/support/create-test-app';
import { writeGgufFile } from '../test/support/gguf-writer';
import { buildPrivateDist } from '../test/support/build';
import { fmt, load, runChild } from './support';

const DISTINCT = 100;
const SIZES = [100, 1000, 3000];

/** DISTINCT real files with different names/sizes/quantizations; the rest are hard links (own paths, same bytes). */
function prepare(dir: string, n: number, templates: string[]): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < n; i++) {
    const src = templates[i % templates.length];
    linkSync(src, join(dir, `m${String(i).padStart(5, '0')}-${src.split('/').pop()}`));
  }
}

async function makeTemplates(dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const families = [
    { arch: 'llama', name: 'Llama 3.1', size: '8B', params: 8.03e9, ft: 15 },
    { arch: 'qwen3', name: 'Qwen3', size: '4B', params: 4.02e9, ft: 15, think: true },
    { arch: 'gemma3', name: 'Gemma 3', size: '12B', params: 11.77e9, ft: 7 },
    { arch: 'qwen2', name: 'Qwen2.5 Coder', size: '14B', params: 14.77e9, ft: 17 },
  ];
  const out: string[] = [];
  for (let i = 0; i < DISTINCT; i++) {
    const f = families[i % families.length];
    const file = join(dir, `${f.name.replace(/\s+/g, '-')}-v${i}-${f.size}.gguf`);
    await writeGgufFile(file, {
      architecture: f.arch,
      name: `${f.name} ${f.size} v${i}`,
      sizeLabel: f.size,
      fileType: f.ft,
      contextLength: 32768,
      chatTemplate: f.think ? '{% if enable_thinking %}<think>{% endif %}' : '{{ messages }}',
      vocabSize: 150_000,
      parameterCount: f.params,
    });
    out.push(file);
  }
  return out;
}

/** Baseline: one plain read of each file's header bytes (these files are all header). */
function rawReadMs(dir: string): number {
  const files = readdirSync(dir).map((f) => join(dir, f));
  const started = process.hrtime.bigint();
  for (const f of files) {
    const size = statSync(f).size;
    const buf = Buffer.allocUnsafe(size);
    const fd = openSync(f, 'r');
    readSync(fd, buf, 0, size, 0);
    closeSync(fd);
  }
  return Number(process.hrtime.bigint() - started) / 1e6;
}

interface ScanFigures {
  files: number;
  coldMs: number;
  warmMs: number;
  bytesPerFileCold: number;
  bytesReadWarm: number;
  rssBeforeMb: number;
  peakRssMb: number;
}

let bareJson = '{}';

@Controller('bench')
class BareController {
  @Get('bare')
  @Header('Content-Type', 'application/json; charset=utf-8')
  bare(): string {
    return bareJson;
  }
}

async function routeVsCeiling(templateDir: string): Promise<string> {
  const dirs = makeTestDirs('magi-bench-route-');
  prepare(
    join(dirs.models),
    1000,
    readdirSync(templateDir).map((f) => join(templateDir, f)),
  );
  const config = loadMagiConfig(testEnv(dirs));
  @Module({ imports: [AppModule.forRoot(config)], controllers: [BareController] })
  class BenchModule {}
  const app = await NestFactory.create<NestExpressApplication>(BenchModule, { bodyParser: false, logger: false });
  configureApp(app, config);
  await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  const body = await (await fetch(`${url}/api/models/registry`)).text();
  bareJson = JSON.stringify(JSON.parse(body)); // same size, computed once
  const models = Object.keys(JSON.parse(body).models).length;
  await load(`${url}/bench/bare`, 10, 2); // warm-up
  const bare = await load(`${url}/bench/bare`, 10, 8);
  await load(`${url}/api/models/registry`, 10, 2);
  const route = await load(`${url}/api/models/registry`, 10, 8);
  await app.close();
  rmSync(dirs.root, { recursive: true, force: true });
  return [
    `### GET /api/models/registry with ${models} models (${fmt(body.length / 1024)} KiB), 10 connections, 8 s`,
    '',
    '| endpoint | requests/s | p50 ms | p99 ms | ratio to ceiling |',
    '|---|---|---|---|---|',
    `| bare endpoint, precomputed JSON of the same size (ceiling) | ${fmt(bare.rps)} | ${bare.p50} | ${bare.p99} | 1.00 |`,
    `| GET /api/models/registry | ${fmt(route.rps)} | ${route.p50} | ${route.p99} | ${(route.rps / bare.rps).toFixed(2)} |`,
    '',
    `Target: the registry route reaches at least half the ceiling — **${route.rps / bare.rps >= 0.5 ? 'met' : 'NOT met'}**.`,
  ].join('\n');
}

export async function run(): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'magi-bench-registry-'));
  try {
    // The scan child runs compiled JS, so its RSS is MAGI's, not the TypeScript compiler's.
    const childScript = join(buildPrivateDist('bench', 'tsconfig.json'), '..', '..', 'bench', 'registry-scan.child.js');
    const templates = await makeTemplates(join(root, 'templates'));
    const headerBytes = statSync(templates[0]).size;
    const rows: string[] = [];
    const figures: Array<ScanFigures & { rawMs: number }> = [];
    for (const n of SIZES) {
      const dir = join(root, `set-${n}`);
      prepare(dir, n, templates);
      const rawMs = rawReadMs(dir);
      const f = await runChild<ScanFigures>(childScript, [dir]);
      figures.push({ ...f, rawMs });
      rmSync(dir, { recursive: true, force: true });
    }
    const per1000 = (f: ScanFigures): number => (f.coldMs / f.files) * 1000;
    const base = figures[0];
    for (const f of figures) {
      rows.push(
        `| ${fmt(f.files)} | ${fmt(f.coldMs)} | ${fmt(per1000(f))} | ${(per1000(f) / per1000(base)).toFixed(2)} | ${fmt(f.rawMs)} | ${(f.coldMs / f.rawMs).toFixed(1)} | ${fmt(f.bytesPerFileCold / 1024)} | ${fmt(f.warmMs, 1)} | ${f.bytesReadWarm} | ${fmt(f.peakRssMb)} (${fmt(f.rssBeforeMb)} before) |`,
      );
    }
    const thousand = figures.find((f) => f.files === 1000)!;
    const section = [
      '## Registry (issue 2)',
      '',
      `Synthetic GGUF v3 headers with a 150,000-token \`tokenizer.ggml.tokens\` array (${fmt(headerBytes / 1024)} KiB of header per file, ` +
        `like Llama-3/Qwen files). ${DISTINCT} distinct files, the rest hard links (own paths and ids, same bytes), all in the page cache. ` +
        'Each scan runs in a fresh MAGI process: boot on an empty folder, move the files in, `POST /api/models/rescan` (cold: every header read), then again (unchanged).',
      '',
      '| files | cold rescan ms | ms per 1,000 files | per-file cost vs 100-file run | baseline: plain read of the same bytes, ms | rescan ÷ baseline | KiB read per file | unchanged rescan ms | bytes read, unchanged | peak RSS MB |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
      `Targets: 1,000 files under 2 s — **${thousand.coldMs < 2000 ? 'met' : 'NOT met'}** (${fmt(thousand.coldMs)} ms); ` +
        `peak RSS under 250 MB — **${figures.every((f) => f.peakRssMb < 250) ? 'met' : 'NOT met'}**; ` +
        `linear growth (per-file cost within 1.5× of the 100-file run) — **${figures.every((f) => per1000(f) / per1000(base) < 1.5) ? 'met' : 'NOT met'}**; ` +
        `unchanged rescan of 1,000 files under 100 ms reading no header — **${thousand.warmMs < 100 && thousand.bytesReadWarm < 1024 * 1024 ? 'met' : 'NOT met'}** (${fmt(thousand.warmMs, 1)} ms).`,
      '',
      "Bytes read are the process's `rchar` from `/proc/self/io` over the scan (includes the registry file itself on the unchanged run).",
      '',
      await routeVsCeiling(join(root, 'templates')),
    ];
    return section.join('\n');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
