/**
 * The real process (`src/main.ts` under ts-node): secrets given in the configuration never
 * reach a response body or a log line, even when upstreams echo them back in their errors;
 * and an invalid LLM_PROVIDER stops start-up with its one line and exit code 1.
 */
import { rmSync } from 'node:fs';
import { makeTestDirs } from '../support/create-test-app';
import { httpRequest } from '../support/fixtures';
import { type MagiProcess, spawnMagiProcess, startMagiProcess } from '../support/magi-process';
import { startLiteLlmFixture, type LiteLlmFixture } from '../fixtures/litellm-fixture';
import { startLmStudioFixture, type LmStudioFixture } from '../fixtures/lmstudio-fixture';
import { startOllamaFixture, type OllamaFixture } from '../fixtures/ollama-fixture';
import { maskOpenAiKey, startOpenAiFixture, type OpenAiFixture } from '../fixtures/openai-fixture';

jest.setTimeout(120_000);

describe('secrets', () => {
  const OPENAI_KEY = 'sk-MAGISECRETopenai0123456789wxyz';
  const LITELLM_KEY = 'sk-MAGISECRETlitellm98765abcd';
  const API_TOKEN = 'MAGISECRETapitoken42';
  const URL_PASSWORD = 'MAGISECRETurlpw';
  let openai: OpenAiFixture;
  let litellm: LiteLlmFixture;
  let lmstudio: LmStudioFixture;
  let ollama: OllamaFixture;

  beforeAll(async () => {
    [openai, litellm, lmstudio, ollama] = await Promise.all([
      startOpenAiFixture(), // accepts another key: ours is refused, and echoed masked
      startLiteLlmFixture(), // likewise, echoing its last four characters
      startLmStudioFixture(),
      startOllamaFixture(),
    ]);
  });
  afterAll(async () => {
    await Promise.all([openai.close(), litellm.close(), lmstudio.close(), ollama.close()]);
  });

  it('never puts an API key, token or URL password in a response or a log line', async () => {
    const dirs = makeTestDirs('magi-secrets-');
    const auth = { Authorization: `Bearer ${API_TOKEN}` };
    const bodies: string[] = [];
    let proc: MagiProcess | undefined;
    try {
      proc = await startMagiProcess({
        dirs,
        env: {
          LOG_LEVEL: 'debug',
          LLM_PROVIDER: 'ollama',
          API_TOKENS: API_TOKEN,
          OPENAI_API_KEY: OPENAI_KEY,
          OPENAI_VERIFY: 'true',
          OPENAI_BASE_URL: `${openai.url}/v1`,
          LITELLM_BASE_URL: litellm.url,
          LITELLM_API_KEY: LITELLM_KEY,
          LMSTUDIO_BASE_URL: `http://magi:${URL_PASSWORD}@127.0.0.1:${lmstudio.port}/v1`,
          OLLAMA_BASE_URL: ollama.url,
          LLAMACPP_BASE_URL: 'http://127.0.0.1:9',
        },
        readyTimeoutMs: 90_000,
      });
      const base = proc.url;
      for (const path of [
        '/api/llm-status',
        '/api/models',
        '/api/models/providers',
        '/api/models/health',
        '/v1/models',
      ]) {
        const r = await httpRequest(`${base}${path}`, { headers: auth });
        expect(r.status).toBeLessThan(500);
        bodies.push(r.body);
      }
      bodies.push((await httpRequest(`${base}/api/models/pull/broken:1b`, { method: 'POST', headers: auth })).body);
      bodies.push(
        (
          await httpRequest(`${base}/api/models/pull/no-such:1b`, {
            method: 'POST',
            headers: { ...auth, Accept: 'text/event-stream' },
          })
        ).body,
      );
      bodies.push(
        (await httpRequest(`${base}/api/llm-status`, { headers: { Authorization: `Bearer ${OPENAI_KEY}` } })).body,
      );
    } finally {
      await proc?.stop();
      rmSync(dirs.root, { recursive: true, force: true });
    }
    const providers = JSON.parse(bodies[2]);
    const logs = proc.output();

    // The checks did see the refusals that echo the keys, so the assertions below mean something.
    const openaiEntry = providers.providers.find((p: { name: string }) => p.name === 'openai');
    expect(openaiEntry.error).toMatch(/rejected the API key .*HTTP 401.*Incorrect API key provided: sk-\[redacted\]/);
    expect(providers.providers.find((p: { name: string }) => p.name === 'lmstudio')).toMatchObject({
      connected: true,
      baseUrl: `http://[redacted]@127.0.0.1:${lmstudio.port}/v1`,
    });
    expect(JSON.parse(bodies[4]).data.map((m: { id: string }) => m.id)).toEqual(['gpt-4o', 'gpt-4o-mini']); // fallback: LiteLLM refused
    expect(logs).toMatch(/LiteLLM cannot list models/);
    expect(logs).toMatch(/Invalid proxy server token passed\. Received API Key = sk-\[redacted\]/);
    expect(logs).toMatch(/Provider is not connected/);
    expect(logs).toMatch(/Pull failed/);
    expect(logs).toMatch(/Upstream answered/); // debug lines of the HTTP port, with URLs

    const everything = [...bodies, logs].join('\n');
    for (const secret of [
      OPENAI_KEY,
      LITELLM_KEY,
      API_TOKEN,
      URL_PASSWORD,
      'MAGISECRET',
      maskOpenAiKey(OPENAI_KEY),
      `sk-...${LITELLM_KEY.slice(-4)}`,
    ]) {
      expect({ secret, found: everything.includes(secret) }).toEqual({ secret, found: false });
    }
  });
});

describe('LLM_PROVIDER validation', () => {
  it('stops start-up with one line and exit code 1 for an invalid provider', async () => {
    const dirs = makeTestDirs('magi-badprovider-');
    const proc = await spawnMagiProcess({ dirs, env: { LLM_PROVIDER: 'foo' } });
    const code = await proc.exited;
    rmSync(dirs.root, { recursive: true, force: true });
    expect(code).toBe(1);
    expect(proc.output()).toBe('Invalid LLM provider: foo. Must be one of openai, lmstudio, ollama, llamacpp, auto\n');
  });
});
