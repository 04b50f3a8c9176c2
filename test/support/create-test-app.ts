import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppModule } from '../../src/app.module';
import { configureApp } from '../../src/app.setup';
import { loadMagiConfig } from '../../src/config/load-config';

export interface TestDirs {
  root: string;
  models: string;
  data: string;
  profiles: string;
}

export interface TestApp {
  app: NestExpressApplication;
  /** http://127.0.0.1:PORT of the listening app. */
  url: string;
  dirs: TestDirs;
  env: Record<string, string>;
  close(opts?: { keepDirs?: boolean }): Promise<void>;
}

/** Fresh temp folders for one app: models/, data/, profiles/. */
export function makeTestDirs(prefix = 'magi-test-'): TestDirs {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const dirs = { root, models: join(root, 'models'), data: join(root, 'data'), profiles: join(root, 'profiles') };
  for (const d of [dirs.models, dirs.data, dirs.profiles]) mkdirSync(d, { recursive: true });
  return dirs;
}

/** Env pointing every path at `dirs` and every upstream at a closed loopback port. */
export function testEnv(dirs: TestDirs, env: Record<string, string> = {}): Record<string, string> {
  const closed = 'http://127.0.0.1:9';
  return {
    PATH: process.env.PATH ?? '',
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: '0',
    MODEL_SCAN_PATH: dirs.models,
    REGISTRY_PATH: join(dirs.data, 'model_registry.json'),
    PROFILES_PATH: dirs.profiles,
    STATE_PATH: join(dirs.data, 'state.json'),
    LLAMA_SERVER_PATH: join(dirs.root, 'no-llama-server'),
    LMSTUDIO_BASE_URL: `${closed}/v1`,
    OLLAMA_BASE_URL: closed,
    LLAMACPP_BASE_URL: closed,
    OPENAI_BASE_URL: `${closed}/v1`,
    HF_ENDPOINT: closed,
    PROVIDER_TIMEOUT_MS: '500',
    ...env,
  };
}

/**
 * Boots the real AppModule on temp folders and a loopback port, configured exactly as
 * main.ts configures it (minus enableShutdownHooks: tests close apps explicitly).
 */
export async function createTestApp(opts: { env?: Record<string, string>; dirs?: TestDirs } = {}): Promise<TestApp> {
  const dirs = opts.dirs ?? makeTestDirs();
  const env = testEnv(dirs, opts.env);
  const config = loadMagiConfig(env);
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    bufferLogs: true,
    abortOnError: false,
  });
  configureApp(app, config);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    dirs,
    env,
    async close({ keepDirs = false } = {}) {
      await app.close();
      if (!keepDirs && !opts.dirs) rmSync(dirs.root, { recursive: true, force: true });
    },
  };
}
