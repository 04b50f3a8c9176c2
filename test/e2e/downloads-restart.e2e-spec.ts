/**
 * A download survives MAGI stopping mid-way: the job is kept in downloads.json beside
 * STATE_PATH, and a new app on the same folders re-hashes the part on disk and asks the file
 * host for the rest only.
 */
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { corpusHeader, generatedContent, startHubFixture, type HubFixture } from '../fixtures/hub-fixture';
import { createTestApp, makeTestDirs } from '../support/create-test-app';
import { httpRequest } from '../support/fixtures';
import { post, readJobEvents, waitForJob } from './downloads.helpers';

jest.setTimeout(120_000);

const MiB = 1024 * 1024;
const REPO = 'magi-test/Restart-GGUF';
const FILE = 'Qwen3-4B-Q8_0.gguf';
let hub: HubFixture;

beforeAll(async () => {
  hub = await startHubFixture();
  hub.addRepo({
    id: REPO,
    files: [{ path: FILE, content: generatedContent(corpusHeader('Qwen3-4B-Q4_K_M.gguf'), 8 * MiB) }],
  });
});
afterAll(async () => hub?.close());

it('resumes after a restart from the bytes on disk, fetching only the rest', async () => {
  const dirs = makeTestDirs('magi-restart-');
  const env = { HF_ENDPOINT: hub.url };
  const size = 8 * MiB + corpusHeader('Qwen3-4B-Q4_K_M.gguf').length;
  const target = join(dirs.models, 'magi-test', 'Restart-GGUF', FILE);
  try {
    hub.slow(4 * MiB);
    const first = await createTestApp({ dirs, env });
    const id = (await post(first.url, { repo: REPO, file: FILE })).json().id as string;
    await waitForJob(first.url, id, (j) => j.receivedBytes > size / 3);
    // A client following the job does not hold up the shutdown: its stream ends with MAGI.
    const following = readJobEvents(first.url, id);
    await new Promise((r) => setTimeout(r, 100));
    await first.close();
    const ended = await following;
    expect(ended.events.map((e) => e.event).every((e) => e === 'progress')).toBe(true);

    // Stopped mid-way: the part holds what arrived, the job is kept as one to resume.
    const partBytes = statSync(`${target}.part`).size;
    expect(partBytes).toBeGreaterThan(size / 3);
    expect(partBytes).toBeLessThan(size);
    const saved = JSON.parse(readFileSync(join(dirs.data, 'downloads.json'), 'utf8'));
    expect(saved.jobs).toEqual([expect.objectContaining({ id, state: 'queued', repo: REPO })]);

    hub.slow(null);
    hub.reset();
    const second = await createTestApp({ dirs, env });
    try {
      const done = await waitForJob(second.url, id, (j) => j.state === 'done' || j.state === 'failed');
      expect(done).toMatchObject({ state: 'done', receivedBytes: size, totalBytes: size });
      expect(createHash('sha256').update(readFileSync(target)).digest('hex')).toBe(hub.sha256(REPO, FILE));
      // One request for the rest: Range from the bytes on disk, nothing fetched twice.
      const requests = hub.requests.filter((q) => q.host === 'files');
      expect(requests.map((q) => q.range)).toEqual([`bytes=${partBytes}-`]);
      expect(hub.counters.perFile.get(`${REPO}/${FILE}`)!.bytes).toBe(size - partBytes);
      const registry = (await httpRequest(`${second.url}/api/models/registry`)).json();
      expect(Object.keys(registry.models)).toEqual(done.modelIds);
    } finally {
      await second.close();
    }
  } finally {
    rmSync(dirs.root, { recursive: true, force: true });
  }
});
