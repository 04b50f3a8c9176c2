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
    expect(sut.gateway).toMatchObject({ maxBodyMb: 32, queueTimeout: 30, loadTimeout: 120 });
    expect(sut.fleet).toMatchObject({ memoryBudget: 'auto', memoryReserveBytes: 2 * 1024 ** 3 });
    expect(sut.fleet).not.toHaveProperty('memoryReserve');
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

  describe('memory budget, reserve and load timeout (API.md §9)', () => {
    it.each([
      ['24GiB', 24 * 1024 ** 3],
      ['16000MiB', 16000 * 1024 ** 2],
      ['1.5 gb', 1.5e9],
      ['AUTO', 'auto'],
      ['off', 'off'],
    ])('reads FLEET_MEMORY_BUDGET=%s', (raw, expected) => {
      expect(loadMagiConfig({ ...base, FLEET_MEMORY_BUDGET: raw }).fleet.memoryBudget).toBe(expected);
    });

    it('reads FLEET_MEMORY_RESERVE as bytes', () => {
      expect(loadMagiConfig({ ...base, FLEET_MEMORY_RESERVE: '512MiB' }).fleet.memoryReserveBytes).toBe(
        512 * 1024 ** 2,
      );
      expect(loadMagiConfig({ ...base, FLEET_MEMORY_RESERVE: '0B' }).fleet.memoryReserveBytes).toBe(0);
    });

    it('defaults GATEWAY_LOAD_TIMEOUT to the resolved MAX_STARTUP_TIME, and lets it be set', () => {
      expect(loadMagiConfig({ ...base, MAX_STARTUP_TIME: '300' }).gateway.loadTimeout).toBe(300);
      expect(
        loadMagiConfig({ ...base, MAX_STARTUP_TIME: '300', GATEWAY_LOAD_TIMEOUT: '45.5' }).gateway.loadTimeout,
      ).toBe(45.5);
    });

    it('reads the same keys from CONFIG_FILE, the environment winning', () => {
      const dir = mkdtempSync(join(tmpdir(), 'magi-cfg-'));
      const file = join(dir, 'magi.yaml');
      writeFileSync(
        file,
        'fleet:\n  maxStartupTime: 600\n  memoryBudget: 8GiB\n  memoryReserve: 1GiB\ngateway:\n  loadTimeout: 90\n',
      );
      const fromFile = loadMagiConfig({ ...base, CONFIG_FILE: file });
      expect(fromFile.fleet).toMatchObject({ memoryBudget: 8 * 1024 ** 3, memoryReserveBytes: 1024 ** 3 });
      expect(fromFile.gateway.loadTimeout).toBe(90);
      const overridden = loadMagiConfig({ ...base, CONFIG_FILE: file, FLEET_MEMORY_BUDGET: 'off' });
      expect(overridden.fleet.memoryBudget).toBe('off');
      writeFileSync(file, 'fleet:\n  maxStartupTime: 600\n');
      expect(loadMagiConfig({ ...base, CONFIG_FILE: file }).gateway.loadTimeout).toBe(600);
      rmSync(dir, { recursive: true, force: true });
    });

    it('names the YAML path when a config file holds a bad size', () => {
      const dir = mkdtempSync(join(tmpdir(), 'magi-cfg-'));
      const file = join(dir, 'magi.yaml');
      writeFileSync(file, 'fleet:\n  memoryBudget: 24\n');
      expect(() => loadMagiConfig({ ...base, CONFIG_FILE: file })).toThrow(
        new ConfigError(
          'Invalid fleet.memoryBudget: 24. Must be a number and a unit: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. 24GiB, or auto, or off',
        ),
      );
      writeFileSync(file, 'fleet:\n  memoryReserve: lots\n');
      expect(() => loadMagiConfig({ ...base, CONFIG_FILE: file })).toThrow('Invalid fleet.memoryReserve: lots.');
      rmSync(dir, { recursive: true, force: true });
    });
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
    [
      { FLEET_MEMORY_BUDGET: 'lots' },
      'Invalid FLEET_MEMORY_BUDGET: lots. Must be a number and a unit: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. 24GiB, or auto, or off',
    ],
    [{ FLEET_MEMORY_BUDGET: '24' }, 'Invalid FLEET_MEMORY_BUDGET: 24. Must be a number and a unit'],
    [{ FLEET_MEMORY_BUDGET: '' }, 'Invalid FLEET_MEMORY_BUDGET: . Must be a number and a unit'],
    [
      { FLEET_MEMORY_BUDGET: '0GiB' },
      'Invalid FLEET_MEMORY_BUDGET: 0GiB. A budget of 0 admits no model; write off for none',
    ],
    [{ FLEET_MEMORY_BUDGET: '24 gigs' }, 'Invalid FLEET_MEMORY_BUDGET: 24 gigs.'],
    [{ FLEET_MEMORY_RESERVE: '2' }, 'Invalid FLEET_MEMORY_RESERVE: 2. Must be a number and a unit'],
    [{ FLEET_MEMORY_RESERVE: 'auto' }, 'Invalid FLEET_MEMORY_RESERVE: auto. Must be a number and a unit'],
    [{ GATEWAY_LOAD_TIMEOUT: 'soon' }, 'Invalid GATEWAY_LOAD_TIMEOUT: soon. Must be a number'],
    [
      { GATEWAY_LOAD_TIMEOUT: '0' },
      'Invalid GATEWAY_LOAD_TIMEOUT (gateway.loadTimeout): 0. loadTimeout must be a positive number',
    ],
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
