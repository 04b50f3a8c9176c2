/**
 * The gateway's log lines as an operator reads them: the real process (`src/main.ts`
 * under ts-node) on a stand-in fleet, its stdout parsed line by line. One structured
 * line per request with model, upstream port, status and duration; never prompt text.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTestDirs } from '../support/create-test-app';
import { STANDIN_PATH, freePortRange, httpRequest, waitFor } from '../support/fixtures';
import { type MagiProcess, startMagiProcess } from '../support/magi-process';
import { writeModel } from './fleet.helpers';

jest.setTimeout(120_000);

const TOKEN = 'gw-log-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const PROMPT = 'MAGIPROMPT the quick brown fox must never reach a log';

type Line = Record<string, unknown>;

describe('gateway request logs (real process)', () => {
  const dirs = makeTestDirs('magi-gwlogs-');
  let magi: MagiProcess;
  let url = '';
  let model = '';

  const gatewayLines = (): Line[] =>
    magi.lines().filter((l) => l.context === 'GatewayService' && String(l.msg).startsWith('Gateway request'));

  beforeAll(async () => {
    await writeModel(dirs.models, 'logged');
    writeFileSync(join(dirs.profiles, 'logs.yaml'), "name: logs\nenabledModels: ['*']\n");
    const range = await freePortRange(3);
    magi = await startMagiProcess({
      dirs,
      env: {
        LOG_LEVEL: 'info',
        API_TOKENS: TOKEN,
        ACTIVE_PROFILE: 'logs',
        LLAMA_SERVER_PATH: STANDIN_PATH,
        PORT_RANGE: `${range[0]}-${range[1]}`,
        READINESS_CHECK_INTERVAL: '0.1',
        STANDIN_LOAD_MS: '50',
        STANDIN_CHUNK_DELAY_MS: '5',
      },
      // Started means a server is ready: the test sends its requests to that model.
      ready: async (base) => {
        const res = await httpRequest(`${base}/api/models/servers`, { headers: AUTH }).catch(() => null);
        const ready =
          res?.status === 200
            ? res
                .json<{ servers: Array<{ modelId: string; state: string }> }>()
                .servers.find((s) => s.state === 'ready')
            : undefined;
        if (ready) model = ready.modelId;
        return !!ready;
      },
    });
    url = magi.url;
  });

  afterAll(async () => {
    await magi?.stop();
    rmSync(dirs.root, { recursive: true, force: true });
  });

  it('writes one line per request with model, upstream port, status and duration, and no prompt text', async () => {
    const servers = (await httpRequest(`${url}/api/models/servers`, { headers: AUTH })).json<{
      servers: Array<{ port: number }>;
    }>().servers;
    const before = gatewayLines().length;
    const body = { model, messages: [{ role: 'user', content: PROMPT }], max_tokens: 3 };
    expect((await httpRequest(`${url}/v1/chat/completions`, { method: 'POST', body, headers: AUTH })).status).toBe(200);
    const streamed = await httpRequest(`${url}/v1/chat/completions`, {
      method: 'POST',
      body: { ...body, stream: true },
      headers: AUTH,
    });
    expect(streamed.status).toBe(200);
    expect(
      (
        await httpRequest(`${url}/v1/chat/completions`, {
          method: 'POST',
          body: { ...body, model: 'no-such-model' },
          headers: AUTH,
        })
      ).status,
    ).toBe(404);
    await waitFor(async () => gatewayLines().length >= before + 3, 5000, 20, 'three gateway log lines');

    const [json, sse, missing] = gatewayLines().slice(before);
    expect(json).toMatchObject({
      level: 30,
      endpoint: 'chat',
      model,
      modelId: model,
      upstream: servers[0].port,
      status: 200,
      stream: false,
    });
    expect(typeof json.durationMs).toBe('number');
    expect(sse).toMatchObject({ modelId: model, upstream: servers[0].port, status: 200, stream: true });
    expect(missing).toMatchObject({
      model: 'no-such-model',
      modelId: null,
      upstream: null,
      status: 404,
      error: 'model_not_found',
    });
    expect(magi.output()).not.toContain('MAGIPROMPT');
    expect(magi.output()).not.toContain(TOKEN);
  });
});
