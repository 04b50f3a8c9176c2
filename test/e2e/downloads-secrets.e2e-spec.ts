/**
 * The real process (`src/main.ts` under ts-node, debug logs on stdout): HF_TOKEN opens a
 * gated repository, reaches the hub only, and is in no answer, no log line and no job record
 * — through listings, downloads with dropped connections, a failed job and hub refusals.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { corpusModelFiles, startHubFixture, type HubFixture } from '../fixtures/hub-fixture';
import { makeTestDirs } from '../support/create-test-app';
import { httpRequest } from '../support/fixtures';
import { type MagiProcess, startMagiProcess } from '../support/magi-process';
import { readJobEvents, waitForJob } from './downloads.helpers';

jest.setTimeout(180_000);

const TOKEN = 'hf_MAGISECRETdownloadtoken0123456789';
const GATED = 'magi-test/Gated-GGUF';
const MiB = 1024 * 1024;
let hub: HubFixture;

beforeAll(async () => {
  hub = await startHubFixture({ token: TOKEN });
  hub.addRepo({
    id: GATED,
    gated: true,
    files: [
      ...corpusModelFiles('Qwen3-4B-Q4_K_M.gguf', 2 * MiB),
      ...corpusModelFiles('mmproj-gemma-3-12b-it-f16.gguf', MiB),
    ],
  });
});
afterAll(async () => hub?.close());

it('never puts HF_TOKEN in an answer, a log line or a job record', async () => {
  const dirs = makeTestDirs('magi-hf-secrets-');
  const bodies: string[] = [];
  let magi: MagiProcess | undefined;
  try {
    magi = await startMagiProcess({
      dirs,
      env: { LOG_LEVEL: 'debug', HF_ENDPOINT: hub.url, HF_TOKEN: TOKEN },
      readyTimeoutMs: 120_000,
    });
    const base = magi.url;
    const listing = await httpRequest(`${base}/api/models/hub/${GATED}`, { timeoutMs: 30_000 });
    expect(listing.status).toBe(200);
    bodies.push(listing.body);

    // A download that breaks off twice (retries are logged), then one whose bytes are corrupt.
    hub.dropAfter(3 * MiB, 2);
    const ok = await httpRequest(`${base}/api/models/downloads`, { body: { repo: GATED, quantization: 'Q4_K_M' } });
    expect(ok.status).toBe(202);
    bodies.push(ok.body);
    const sse = await readJobEvents(base, ok.json().id);
    bodies.push(JSON.stringify(sse.events));
    expect(sse.events[sse.events.length - 1].event).toBe('done');
    hub.corrupt(`${GATED}/mmproj-gemma-3-12b-it-f16.gguf`);
    const bad = await httpRequest(`${base}/api/models/downloads`, {
      body: { repo: GATED, file: 'mmproj-gemma-3-12b-it-f16.gguf' },
    });
    bodies.push(bad.body);
    bodies.push(JSON.stringify(await waitForJob(base, bad.json().id, (j) => j.state === 'failed')));
    bodies.push((await httpRequest(`${base}/api/models/downloads`)).body);
    bodies.push((await httpRequest(`${base}/api/models/hub/magi-test/Unknown`)).body);
    bodies.push(
      (
        await httpRequest(`${base}/api/models/downloads`, {
          body: { repo: 'magi-test/Unknown', quantization: 'Q4_K_M' },
        })
      ).body,
    );
    bodies.push((await httpRequest(`${base}/metrics`)).body);
  } finally {
    await magi?.stop();
  }
  const logs = magi.output();
  const record = readFileSync(join(dirs.data, 'downloads.json'), 'utf8');
  rmSync(dirs.root, { recursive: true, force: true });

  // The paths that could carry it were taken: the hub got the token, the file host never did.
  expect(hub.requests.filter((q) => q.host === 'hub').every((q) => q.authorization)).toBe(true);
  expect(hub.counters.fileHostAuthorization).toBe(0);
  expect(logs).toMatch(/Hub answered/); // debug lines with the URLs asked
  expect(logs).toMatch(/Download interrupted/);
  expect(logs).toMatch(/Download done/);
  expect(logs).toMatch(/Download failed/);
  expect(record).toMatch(/ChecksumMismatch/);

  const everything = [...bodies, logs, record].join('\n');
  for (const secret of [TOKEN, 'MAGISECRET', TOKEN.slice(3)]) {
    expect({ secret, found: everything.includes(secret) }).toEqual({ secret, found: false });
  }
});
