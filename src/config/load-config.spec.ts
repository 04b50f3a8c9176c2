import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadMagiConfig } from './load-config';

const base = { PATH: '' };

describe('loadMagiConfig', () => {
  it('gives the embedded defaults of API.md §2', () => {
    const sut = loadMagiConfig(base);
    expect(sut.server).toMatchObject({ host: '127.0.0.1', port: 8000 });
    expect(sut.auth.apiTokens).toEqual([]);
    expect(sut.registry).toMatchObject({
      scanPath: './models',
      registryPath: 'data/model_registry.json',
      tierThresholds: { powerfulMin: 14, fastMax: 7 },
    });
    expect(sut.profiles).toMatchObject({ path: './profiles', activeProfile: null, statePath: 'data/state.json' });
    expect(sut.fleet).toMatchObject({
      portRange: [8080, 8099],
      host: '127.0.0.1',
      maxStartupTime: 120,
      readinessCheckInterval: 2,
      llamaServerPath: '/usr/local/bin/llama-server',
    });
    expect(sut.providers).toMatchObject({ llmProvider: 'auto', timeoutMs: 2000 });
    expect(sut.providers.openai).toMatchObject({
      apiKey: null,
      model: 'gpt-4o-mini',
      baseUrl: 'https://api.openai.com/v1',
    });
    expect(sut.litellm).toMatchObject({ baseUrl: null, modelsCacheTtl: 60, fallbackModels: ['gpt-4o', 'gpt-4o-mini'] });
    expect(sut.gateway).toMatchObject({ maxBodyMb: 32, queueTimeout: 30 });
  });

  it('lets the environment override, parsing lists, ranges and fractions', () => {
    const sut = loadMagiConfig({
      ...base,
      PORT: '9001',
      API_TOKENS: ' a , b ,',
      PORT_RANGE: '9100-9110',
      READINESS_CHECK_INTERVAL: '0.25',
      FALLBACK_MODELS: 'x,y',
      LITELLM_BASE_URL: 'http://litellm:4000/v1/',
      ACTIVE_PROFILE: 'production',
    });
    expect(sut.server.port).toBe(9001);
    expect(sut.auth.apiTokens).toEqual(['a', 'b']);
    expect(sut.fleet.portRange).toEqual([9100, 9110]);
    expect(sut.fleet.readinessCheckInterval).toBe(0.25);
    expect(sut.litellm.fallbackModels).toEqual(['x', 'y']);
    expect(sut.litellm.baseUrl).toBe('http://litellm:4000');
    expect(sut.profiles.activeProfile).toBe('production');
  });

  it('finds llama-server on PATH before the default location', () => {
    const dir = mkdtempSync(join(tmpdir(), 'magi-path-'));
    writeFileSync(join(dir, 'llama-server'), '#!/bin/sh\n', { mode: 0o755 });
    expect(loadMagiConfig({ PATH: dir }).fleet.llamaServerPath).toBe(join(dir, 'llama-server'));
    rmSync(dir, { recursive: true, force: true });
  });

  it('lays CONFIG_FILE over the defaults and the environment over both', () => {
    const dir = mkdtempSync(join(tmpdir(), 'magi-cfg-'));
    const file = join(dir, 'magi.yaml');
    writeFileSync(file, 'server:\n  port: 7000\n  host: 0.0.0.0\nregistry:\n  tierThresholds:\n    fastMax: 3\n');
    const sut = loadMagiConfig({ ...base, CONFIG_FILE: file, PORT: '7001' });
    expect(sut.server).toMatchObject({ port: 7001, host: '0.0.0.0' });
    expect(sut.registry.tierThresholds).toEqual({ powerfulMin: 14, fastMax: 3 });
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    [{ LLM_PROVIDER: 'foo' }, 'Invalid LLM provider: foo. Must be one of openai, lmstudio, ollama, llamacpp, auto'],
    [{ PORT: 'eighty' }, 'Invalid PORT: eighty. Must be a number'],
    [{ PORT: '70000' }, 'Invalid PORT (server.port): 70000'],
    [{ PORT_RANGE: '9000' }, 'Invalid PORT_RANGE: 9000'],
    [{ PORT_RANGE: '9010-9000' }, 'Invalid PORT_RANGE: 9010-9000'],
    [{ OLLAMA_BASE_URL: 'not a url' }, 'Invalid OLLAMA_BASE_URL (providers.ollama.baseUrl)'],
    [{ PROVIDER_TIMEOUT_MS: '0' }, 'Invalid PROVIDER_TIMEOUT_MS (providers.timeoutMs): 0'],
    [{ TIER_FAST_MAX: '20' }, 'Invalid TIER_FAST_MAX: 20. Must not exceed TIER_POWERFUL_MIN (14)'],
    [{ LOG_LEVEL: 'loud' }, 'Invalid LOG_LEVEL (server.logLevel)'],
    [{ OPENAI_VERIFY: 'maybe' }, 'Invalid OPENAI_VERIFY: maybe. Must be true or false'],
    [{ CONFIG_FILE: '/nonexistent/magi.yaml' }, 'Cannot read config file /nonexistent/magi.yaml'],
  ])('refuses %p with one clear line', (env, message) => {
    let error: unknown;
    try {
      loadMagiConfig({ ...base, ...env });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(message);
    expect((error as Error).message).not.toContain('\n');
  });
});
