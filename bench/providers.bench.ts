/**
 * Provider benchmarks (issue 5):
 * - GET /api/models/providers with all four providers hanging: wall time ÷ PROVIDER_TIMEOUT_MS
 *   (the checks run concurrently, each bounded by the timeout; target ≤ 1.1);
 * - GET /v1/models served from its cache (LiteLLM behind it): requests/s at 10 connections,
 *   beside a bare endpoint on the same Nest app returning a precomputed JSON of the same size
 *   (the ceiling).
 */
import { Controller, Get, Header, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { rmSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { AppModule } from '../src/app.module';
import { configureApp } from '../src/app.setup';
import { loadMagiConfig } from '../src/config/load-config';
import { makeTestDirs, testEnv } from '../test/support/create-test-app';
import type { Fixture } from '../test/fixtures/http-fixture';
import { startLiteLlmFixture } from '../test/fixtures/litellm-fixture';
import { startLmStudioFixture } from '../test/fixtures/lmstudio-fixture';
import { startOllamaFixture } from '../test/fixtures/ollama-fixture';
import { startOpenAiFixture } from '../test/fixtures/openai-fixture';
import { fmt, load, type LoadResult } from './support';

const TIMEOUT_MS = 1000;
const HANG_RUNS = 7;
const ROUNDS = 3;
const SECONDS = 4;

let bareJson = '{}';

@Controller('v1')
class BareController {
  @Get('bench-bare')
  @Header('Content-Type', 'application/json; charset=utf-8')
  bare(): string {
    return bareJson;
  }
}

interface BenchApp {
  url: string;
  close(): Promise<void>;
}

async function startApp(env: Record<string, string>): Promise<BenchApp> {
  const dirs = makeTestDirs('magi-bench-providers-');
  const config = loadMagiConfig(testEnv(dirs, env));
  @Module({ imports: [AppModule.forRoot(config)], controllers: [BareController] })
  class BenchModule {}
  const app = await NestFactory.create<NestExpressApplication>(BenchModule, { bodyParser: false, logger: false });
  configureApp(app, config);
  await app.listen(0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`,
    async close() {
      await app.close();
      rmSync(dirs.root, { recursive: true, force: true });
    },
  };
}

/** Mean requests/s and errors; latencies as the mean of the rounds' percentiles. */
function mean(rs: LoadResult[]): LoadResult {
  const avg = (f: (r: LoadResult) => number): number => rs.reduce((n, r) => n + f(r), 0) / rs.length;
  return {
    rps: avg((r) => r.rps),
    p50: avg((r) => r.p50),
    p99: avg((r) => r.p99),
    errors: avg((r) => r.errors),
    non2xx: avg((r) => r.non2xx),
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function allHanging(): Promise<string> {
  const fixtures: Fixture[] = await Promise.all([
    startOpenAiFixture(),
    startLmStudioFixture(),
    startOllamaFixture(),
    startLmStudioFixture(),
  ]);
  await Promise.all(fixtures.map((f) => f.setMode('hang')));
  const [openai, lmstudio, ollama, llama] = fixtures;
  const app = await startApp({
    LLM_PROVIDER: 'auto',
    PROVIDER_TIMEOUT_MS: String(TIMEOUT_MS),
    PROVIDER_CACHE_MS: '0', // every request runs the four checks
    OPENAI_API_KEY: (openai as Fixture & { apiKey: string }).apiKey,
    OPENAI_VERIFY: 'true',
    OPENAI_BASE_URL: `${openai.url}/v1`,
    LMSTUDIO_BASE_URL: `${lmstudio.url}/v1`,
    OLLAMA_BASE_URL: ollama.url,
    LLAMACPP_BASE_URL: llama.url,
  });
  const walls: number[] = [];
  let timedOut = 0;
  try {
    for (let i = 0; i < HANG_RUNS; i++) {
      const started = performance.now();
      const res = await fetch(`${app.url}/api/models/providers`);
      const body = (await res.json()) as { providers: Array<{ connected: boolean; error: string }> };
      walls.push(performance.now() - started);
      timedOut += body.providers.filter((p) => !p.connected && /timed out/.test(p.error)).length;
    }
  } finally {
    await app.close();
    await Promise.all(fixtures.map((f) => f.close()));
  }
  const ratios = walls.map((w) => w / TIMEOUT_MS);
  const worst = Math.max(...ratios);
  return [
    `### GET /api/models/providers with all four providers hanging (PROVIDER_TIMEOUT_MS=${TIMEOUT_MS}, ${HANG_RUNS} requests, no cache)`,
    '',
    '| | wall ms | wall ÷ timeout |',
    '|---|---|---|',
    `| median | ${fmt(median(walls))} | ${median(ratios).toFixed(3)} |`,
    `| best | ${fmt(Math.min(...walls))} | ${Math.min(...ratios).toFixed(3)} |`,
    `| worst | ${fmt(Math.max(...walls))} | ${worst.toFixed(3)} |`,
    '',
    `${timedOut} of ${HANG_RUNS * 4} provider entries reported the timeout. ` +
      `Target: wall ÷ timeout ≤ 1.1 — **${worst <= 1.1 ? 'met' : 'NOT met'}** (worst request).`,
  ].join('\n');
}

async function modelsFromCache(): Promise<string> {
  const litellm = await startLiteLlmFixture();
  const app = await startApp({
    LITELLM_BASE_URL: litellm.url,
    LITELLM_API_KEY: litellm.apiKey,
    MODELS_CACHE_TTL: '3600',
  });
  try {
    const first = await fetch(`${app.url}/v1/models`);
    const body = await first.text();
    bareJson = JSON.stringify(JSON.parse(body)); // same bytes, computed once
    const source = (await fetch(`${app.url}/v1/models`)).headers.get('x-models-source');
    await load(`${app.url}/v1/bench-bare`, 10, 2); // warm-up
    await load(`${app.url}/v1/models`, 10, 2);
    // Interleaved rounds, so a busy neighbour on the machine weighs on both alike.
    const bares: LoadResult[] = [];
    const routes: LoadResult[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      bares.push(await load(`${app.url}/v1/bench-bare`, 10, SECONDS));
      routes.push(await load(`${app.url}/v1/models`, 10, SECONDS));
    }
    const bare = mean(bares);
    const route = mean(routes);
    const upstreamHits = litellm.hits['/v1/models'] ?? 0;
    const ratio = route.rps / bare.rps;
    return [
      `### GET /v1/models from cache (LiteLLM behind it, ${Buffer.byteLength(body)} bytes, X-Models-Source: ${source}), 10 connections, ${ROUNDS} interleaved rounds of ${SECONDS} s`,
      '',
      '| endpoint | requests/s | p50 ms | p99 ms | errors / non-2xx | ratio to ceiling |',
      '|---|---|---|---|---|---|',
      `| bare endpoint under /v1, precomputed JSON of the same size (ceiling) | ${fmt(bare.rps)} | ${fmt(bare.p50, 1)} | ${fmt(bare.p99, 1)} | ${bare.errors} / ${bare.non2xx} | 1.00 |`,
      `| GET /v1/models | ${fmt(route.rps)} | ${fmt(route.p50, 1)} | ${fmt(route.p99, 1)} | ${route.errors} / ${route.non2xx} | ${ratio.toFixed(2)} |`,
      '',
      `LiteLLM was asked ${upstreamHits} time(s) for all of these requests.`,
    ].join('\n');
  } finally {
    await app.close();
    await litellm.close();
  }
}

export async function run(): Promise<string> {
  const hanging = await allHanging();
  const cached = await modelsFromCache();
  return ['## Providers', '', hanging, '', cached].join('\n');
}

if (require.main === module) {
  run()
    .then((md) => {
      process.stdout.write(`${md}\n`);
      process.exit(0);
    })
    .catch((e: unknown) => {
      process.stderr.write(`${String((e as Error)?.stack ?? e)}\n`);
      process.exit(1);
    });
}
