/**
 * Downloads from the fake hub into MODEL_SCAN_PATH over real HTTP: verified files that the
 * registry finds, a 3-shard split, a model with its projector, resumption after dropped
 * connections, a corrupt file that leaves nothing, hostile names refused with nothing written,
 * cancel, the 409/400/507 answers, and the API answering while two downloads run.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  corpusHeader,
  corpusModelFiles,
  generatedContent,
  HubFileSpec,
  startHubFixture,
  type HubFixture,
} from '../fixtures/hub-fixture';
import { createTestApp, makeTestDirs, type TestApp } from '../support/create-test-app';
import { diffSnapshots, snapshotTree } from '../support/fs-snapshot';
import { httpRequest } from '../support/fixtures';
import { getJob, post, PROFILE_KEY, rawRequest, readJobEvents, waitForJob, writeProfile } from './downloads.helpers';

jest.setTimeout(120_000);

const MiB = 1024 * 1024;
const REPO = 'magi-test/Qwen3-4B-GGUF';
const SPLIT_REPO = 'magi-test/Llama-3.3-70B-GGUF';
const GATED = 'magi-test/Gated-GGUF';
const VISION_REPO = 'magi-test/gemma-3-12b-it-GGUF';
const NESTED_VISION_REPO = 'magi-test/gemma-3-12b-it-folders-GGUF';
const GEMMA = 'gemma-3-12b-it-Q4_K_M.gguf';
const PROJECTOR = 'mmproj-gemma-3-12b-it-f16.gguf';
let hub: HubFixture;
let t: TestApp;
let qwen: HubFileSpec;
let q8: HubFileSpec;
let split: HubFileSpec[];

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

beforeAll(async () => {
  hub = await startHubFixture();
  [qwen] = corpusModelFiles('Qwen3-4B-Q4_K_M.gguf', 3 * MiB);
  q8 = { path: 'Qwen3-4B-Q8_0.gguf', content: generatedContent(corpusHeader('Qwen3-4B-Q4_K_M.gguf'), 5 * MiB) };
  split = corpusModelFiles('Llama-3.3-70B-Instruct-Q4_K_M.gguf', MiB);
  hub.addRepo({ id: REPO, files: [qwen, q8] });
  hub.addRepo({
    id: VISION_REPO,
    files: [
      ...corpusModelFiles(GEMMA, MiB),
      { path: 'gemma-3-12b-it-Q8_0.gguf', content: generatedContent(corpusHeader(GEMMA), 2 * MiB) },
      ...corpusModelFiles(PROJECTOR, MiB),
      { path: 'mmproj-gemma-3-12b-it-f32.gguf', content: generatedContent(corpusHeader(PROJECTOR), 2 * MiB) },
    ],
  });
  // The model in a folder of its own, its projector at the top.
  hub.addRepo({
    id: NESTED_VISION_REPO,
    files: [...corpusModelFiles(GEMMA, MiB, 'Q4_K_M/'), ...corpusModelFiles(PROJECTOR, MiB)],
  });
  hub.addRepo({ id: SPLIT_REPO, files: split });
  hub.addRepo({ id: GATED, gated: true, files: corpusModelFiles('Qwen3-4B-Q4_K_M.gguf', MiB) });
  hub.addRepo({
    id: 'magi-test/Huge-GGUF',
    files: [
      {
        path: 'Huge-Q4_K_M.gguf',
        content: generatedContent(corpusHeader('Qwen3-4B-Q4_K_M.gguf'), 2 ** 50),
        sha256: 'f'.repeat(64),
      },
    ],
  });
  hub.addRepo({
    id: 'magi-test/Ambiguous-GGUF',
    files: [
      { path: 'a/M-Q4_K_M.gguf', content: generatedContent(Buffer.from('GGUF'), 10) },
      { path: 'b/M-Q4_K_M.gguf', content: generatedContent(Buffer.from('GGUF'), 10) },
    ],
  });
  hub.addRepo({
    id: 'magi-test/Hostile-GGUF',
    files: [{ path: '../../escaped-Q4_K_M.gguf', content: generatedContent(Buffer.from('GGUF'), 10) }],
  });
  const dirs = makeTestDirs('magi-downloads-');
  writeProfile(dirs);
  t = await createTestApp({ dirs, env: { HF_ENDPOINT: hub.url, ACTIVE_PROFILE: PROFILE_KEY } });
});
afterAll(async () => {
  await t?.close();
  if (t) rmSync(t.dirs.root, { recursive: true, force: true });
  await hub?.close();
});
beforeEach(() => {
  hub.reset();
  hub.redirect = 'absolute';
  hub.dropAfter(0, 0);
  hub.corrupt(null);
  hub.slow(null);
});

describe('POST /api/models/downloads', () => {
  it('downloads the file of a quantization, verified, and the registry has it when done', async () => {
    const r = await post(t.url, { repo: REPO, quantization: 'q4_k_m' });
    expect(r.status).toBe(202);
    const job = r.json();
    expect(job).toMatchObject({
      state: expect.stringMatching(/^(queued|downloading|verifying|done)$/),
      repo: REPO,
      revision: 'main',
      commit: hub.commit(REPO),
      files: [{ path: qwen.path, sizeBytes: qwen.content.size, sha256: hub.sha256(REPO, qwen.path) }],
      destination: join(t.dirs.models, 'magi-test', 'Qwen3-4B-GGUF'),
      totalBytes: qwen.content.size,
    });

    const sse = await readJobEvents(t.url, job.id);
    expect(sse.status).toBe(200);
    expect(sse.contentType).toMatch(/^text\/event-stream/);
    const names = sse.events.map((e) => e.event);
    expect(names[names.length - 1]).toBe('done');
    expect(names.slice(0, -1).every((n) => n === 'progress')).toBe(true);
    const { modelIds } = JSON.parse(sse.events[sse.events.length - 1].data);
    expect(modelIds).toHaveLength(1);

    const done = await getJob(t.url, job.id);
    expect(done).toMatchObject({ state: 'done', receivedBytes: qwen.content.size, modelIds, error: null });
    const target = join(done.destination, qwen.path);
    expect(sha256File(target)).toBe(hub.sha256(REPO, qwen.path));
    expect(existsSync(`${target}.part`)).toBe(false);

    const registry = (await httpRequest(`${t.url}/api/models/registry`)).json();
    expect(registry.models[modelIds[0]]).toMatchObject({ filePath: target, quantization: 'Q4_K_M' });

    // Downloaded once, through the token-free file host, with no Authorization on it.
    expect(hub.counters.perFile.get(`${REPO}/${qwen.path}`)).toEqual({ requests: 1, bytes: qwen.content.size });
    expect(hub.counters.fileHostAuthorization).toBe(0);

    const metrics = (await httpRequest(`${t.url}/metrics`)).body;
    const bytes = Number(/^magi_download_bytes_total (\d+)/m.exec(metrics)?.[1]);
    expect(bytes).toBeGreaterThanOrEqual(qwen.content.size);
    expect(metrics).toMatch(/^magi_downloads\{state="done"\} [1-9]/m);
    expect(metrics).toMatch(/^magi_downloads\{state="downloading"\} 0/m);
  });

  it('downloads every shard of a split named by any shard, as one model', async () => {
    const r = await post(t.url, { repo: SPLIT_REPO, file: split[1].path });
    expect(r.status).toBe(202);
    expect(r.json().files.map((f: { path: string }) => f.path)).toEqual(split.map((f) => f.path));
    const done = await waitForJob(t.url, r.json().id, (j) => j.state === 'done' || j.state === 'failed');
    expect(done.state).toBe('done');
    expect(done.modelIds).toHaveLength(1);
    for (const f of split) expect(sha256File(join(done.destination, f.path))).toBe(hub.sha256(SPLIT_REPO, f.path));
    const model = (await httpRequest(`${t.url}/api/models/registry/${done.modelIds[0]}`)).json();
    expect(model.splitFiles).toEqual(split.map((f) => join(done.destination, f.path)));
  });

  it('resumes from the bytes on disk after dropped connections, fetching little twice', async () => {
    hub.dropAfter(Math.floor(q8.content.size / 3), 2);
    const r = await post(t.url, { repo: REPO, file: q8.path });
    expect(r.status).toBe(202);
    const done = await waitForJob(t.url, r.json().id, (j) => j.state === 'done' || j.state === 'failed');
    expect(done.state).toBe('done');
    expect(sha256File(join(done.destination, q8.path))).toBe(hub.sha256(REPO, q8.path));
    const served = hub.counters.perFile.get(`${REPO}/${q8.path}`)!;
    expect(served.requests).toBe(3);
    expect(served.bytes).toBeLessThanOrEqual(1.15 * q8.content.size);
    // The second and third requests asked for the rest only.
    const ranges = hub.requests.filter((q) => q.host === 'files').map((q) => q.range);
    expect(ranges[0]).toBeNull();
    expect(ranges.slice(1).every((x) => /^bytes=[1-9]\d*-$/.test(x ?? ''))).toBe(true);
  });

  it('fails a file whose bytes do not match the sha256 and leaves nothing behind', async () => {
    const dirs = makeTestDirs('magi-corrupt-');
    writeProfile(dirs);
    const app = await createTestApp({ dirs, env: { HF_ENDPOINT: hub.url, ACTIVE_PROFILE: PROFILE_KEY } });
    try {
      const before = snapshotTree(dirs.models);
      hub.corrupt(`${REPO}/${qwen.path}`);
      const r = await post(app.url, { repo: REPO, file: qwen.path });
      expect(r.status).toBe(202);
      const sse = await readJobEvents(app.url, r.json().id);
      const last = sse.events[sse.events.length - 1];
      expect(last.event).toBe('error');
      expect(JSON.parse(last.data)).toMatchObject({
        error: 'ChecksumMismatch',
        details: { path: qwen.path, expected: hub.sha256(REPO, qwen.path) },
      });
      expect((await getJob(app.url, r.json().id)).state).toBe('failed');
      expect(diffSnapshots(before, snapshotTree(dirs.models))).toEqual([]);
    } finally {
      await app.close();
      rmSync(dirs.root, { recursive: true, force: true });
    }
  });

  it.each([
    [{ repo: '../../etc', file: 'x.gguf' }, 'repo'],
    [{ repo: 'magi-test/..', file: 'x.gguf' }, 'repo'],
    [{ repo: 'magi-test/Qwen3-4B-GGUF/..', file: 'x.gguf' }, 'repo'],
    [{ repo: '%2e%2e/%2e%2e', file: 'x.gguf' }, 'owner'],
    [{ repo: 'magi-test\\..', file: 'x.gguf' }, 'repo'],
    [{ repo: REPO, file: '../../../escape.gguf' }, 'file'],
    [{ repo: REPO, file: '/etc/passwd' }, 'file'],
    [{ repo: REPO, file: 'sub\\..\\..\\x.gguf' }, 'file'],
    [{ repo: REPO, file: '%2e%2e%2f%2e%2e%2fx.gguf' }, 'file'],
    [{ repo: REPO, file: '..%2f..%2fx.gguf' }, 'file'],
    [{ repo: REPO, file: 'x\u0000.gguf' }, 'file'],
    [{ repo: REPO, file: '\u2025/\u2025/x.gguf' }, 'file'],
    [{ repo: REPO, file: '\uff0e\uff0e\uff0fx.gguf' }, 'file'],
    [{ repo: REPO, file: 'C:\\Windows\\x.gguf' }, 'file'],
    [{ repo: REPO, file: 'x.gguf', revision: '../main' }, 'revision'],
  ])('refuses %j with 400 and writes nothing', async (body, field) => {
    const before = snapshotTree(t.dirs.root);
    const r = await post(t.url, body);
    expect(r.status).toBe(400);
    expect(r.json()).toMatchObject({ error: 'ValidationFailed' });
    expect(r.json().details.fields.map((f: { field: string }) => f.field)).toContain(field);
    expect(hub.counters.hubRequests).toBe(0);
    expect(diffSnapshots(before, snapshotTree(t.dirs.root))).toEqual([]);
  });

  it('refuses a path the hub lists that would leave the models folder', async () => {
    const before = snapshotTree(t.dirs.root);
    const r = await post(t.url, { repo: 'magi-test/Hostile-GGUF', quantization: 'Q4_K_M' });
    expect(r.status).toBe(400);
    expect(r.json().details.fields[0]).toMatchObject({ field: 'file', value: '../../escaped-Q4_K_M.gguf' });
    expect(diffSnapshots(before, snapshotTree(t.dirs.root))).toEqual([]);
    // The listing leaves it out too.
    expect((await httpRequest(`${t.url}/api/models/hub/magi-test/Hostile-GGUF`)).json().files).toEqual([]);
  });

  it('refuses a raw body whose repo would be normalised by a URL parser', async () => {
    const r = await rawRequest(t.url, '/api/models/downloads', {
      method: 'POST',
      body: { repo: 'magi-test/Qwen3-4B-GGUF', file: 'sub/%2E%2E/%2E%2E/x.gguf' },
    });
    expect(r.status).toBe(400);
  });

  it.each([
    [{ repo: REPO }, 'nothing-named'],
    [{ repo: REPO, file: qwen?.path ?? 'Qwen3-4B-Q4_K_M.gguf', quantization: 'Q4_K_M' }, 'both-named'],
    [{ repo: REPO, quantization: 'Q2_K' }, 'no-match'],
    [{ repo: REPO, file: 'README.md' }, 'no-match'],
    [{ repo: 'magi-test/Ambiguous-GGUF', quantization: 'Q4_K_M' }, 'several-match'],
  ])('answers 400 when %j names no file or several', async (body, reason) => {
    const r = await post(t.url, body);
    expect(r.status).toBe(400);
    expect(r.json()).toMatchObject({ error: 'ValidationFailed', details: { reason } });
  });

  it('answers 404 for an unknown repository and 401 for a gated one without HF_TOKEN', async () => {
    expect((await post(t.url, { repo: 'magi-test/Unknown', quantization: 'Q4_K_M' })).json()).toMatchObject({
      error: 'RepositoryNotFound',
    });
    const gated = await post(t.url, { repo: GATED, quantization: 'Q4_K_M' });
    expect(gated.status).toBe(401);
    expect(gated.json()).toMatchObject({ error: 'HubUnauthorized' });
  });

  it('answers 507 InsufficientStorage when the disk cannot hold the file', async () => {
    const before = snapshotTree(t.dirs.root);
    const r = await post(t.url, { repo: 'magi-test/Huge-GGUF', quantization: 'Q4_K_M' });
    expect(r.status).toBe(507);
    expect(r.json()).toMatchObject({ error: 'InsufficientStorage' });
    expect(r.json().details.neededBytes).toBeGreaterThan(2 ** 50);
    expect(diffSnapshots(before, snapshotTree(t.dirs.root))).toEqual([]);
  });
});

describe('a model with a projector', () => {
  const registryModel = async (id: string) => (await httpRequest(`${t.url}/api/models/registry/${id}`)).json();

  it("fetches the repository's projector with the model (F16 of several), and the registry attaches it", async () => {
    const r = await post(t.url, { repo: VISION_REPO, quantization: 'Q4_K_M' });
    expect(r.status).toBe(202);
    const job = r.json();
    expect(job.files.map((f: { path: string }) => f.path)).toEqual([GEMMA, PROJECTOR]);
    expect(job.files[1]).toMatchObject({ sha256: hub.sha256(VISION_REPO, PROJECTOR) });

    const done = await waitForJob(t.url, job.id, (j) => j.state === 'done' || j.state === 'failed');
    expect(done).toMatchObject({ state: 'done', modelIds: [expect.any(String)] });
    expect(sha256File(join(done.destination, PROJECTOR))).toBe(hub.sha256(VISION_REPO, PROJECTOR));
    const model = await registryModel(done.modelIds[0]);
    expect(model).toMatchObject({
      filePath: join(done.destination, GEMMA),
      mmprojPath: join(done.destination, PROJECTOR),
    });
    expect(model.memoryEstimate.projectorBytes).toBeGreaterThan(0);
    // The F32 one stayed on the hub.
    expect(hub.counters.perFile.has(`${VISION_REPO}/mmproj-gemma-3-12b-it-f32.gguf`)).toBe(false);
    expect(existsSync(join(done.destination, 'mmproj-gemma-3-12b-it-f32.gguf'))).toBe(false);
  });

  it('puts a projector kept in another folder of the repository beside the model', async () => {
    const r = await post(t.url, { repo: NESTED_VISION_REPO, quantization: 'Q4_K_M' });
    expect(r.status).toBe(202);
    expect(r.json().files.map((f: { path: string }) => f.path)).toEqual([`Q4_K_M/${GEMMA}`, PROJECTOR]);
    const done = await waitForJob(t.url, r.json().id, (j) => j.state === 'done' || j.state === 'failed');
    expect(done.state).toBe('done');
    expect(existsSync(join(done.destination, PROJECTOR))).toBe(false);
    expect(await registryModel(done.modelIds[0])).toMatchObject({
      filePath: join(done.destination, 'Q4_K_M', GEMMA),
      mmprojPath: join(done.destination, 'Q4_K_M', PROJECTOR),
    });
  });

  it('leaves the projector to the job already bringing it instead of refusing the second model', async () => {
    hub.slow(MiB);
    const first = await post(t.url, { repo: VISION_REPO, quantization: 'Q8_0' });
    expect(first.status).toBe(202);
    expect(first.json().files.map((f: { path: string }) => f.path)).toEqual(['gemma-3-12b-it-Q8_0.gguf', PROJECTOR]);
    const second = await post(t.url, { repo: VISION_REPO, quantization: 'Q4_K_M' });
    expect(second.status).toBe(202);
    expect(second.json().files.map((f: { path: string }) => f.path)).toEqual([GEMMA]);

    hub.slow(null);
    const [a, b] = await Promise.all(
      [first, second].map((x) => waitForJob(t.url, x.json().id, (j) => j.state === 'done' || j.state === 'failed')),
    );
    expect([a.state, b.state]).toEqual(['done', 'done']);
    // Each job names its own model, not the neighbour its projector was attached to.
    expect((await registryModel(a.modelIds[0])).filePath).toBe(join(a.destination, 'gemma-3-12b-it-Q8_0.gguf'));
    expect((await registryModel(b.modelIds[0])).filePath).toBe(join(b.destination, GEMMA));
    expect([a.modelIds.length, b.modelIds.length]).toEqual([1, 1]);
    // The projector already on disk was checked against its sha256, not fetched again.
    expect(hub.counters.perFile.has(`${VISION_REPO}/${PROJECTOR}`)).toBe(false);
  });
});

describe('running downloads', () => {
  it('answers 409 for a file already downloading, cancels it, and removes its part', async () => {
    hub.slow(2 * MiB);
    const dest = join(t.dirs.models, 'magi-test', 'Qwen3-4B-GGUF', q8.path);
    rmSync(dest, { force: true });
    const r = await post(t.url, { repo: REPO, file: q8.path });
    expect(r.status).toBe(202);
    const id = r.json().id;
    await waitForJob(t.url, id, (j) => j.state === 'downloading' && j.receivedBytes > 0);
    expect(existsSync(`${dest}.part`)).toBe(true);

    const again = await post(t.url, { repo: REPO, quantization: 'Q8_0' });
    expect(again.status).toBe(409);
    expect(again.json()).toMatchObject({ error: 'DownloadExists', details: { id } });

    const events = readJobEvents(t.url, id);
    const del = await httpRequest(`${t.url}/api/models/downloads/${id}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(del.json()).toMatchObject({
      id,
      state: 'cancelled',
      receivedBytes: 0,
      error: { error: 'DownloadCancelled' },
    });
    expect(existsSync(`${dest}.part`)).toBe(false);
    expect(existsSync(dest)).toBe(false);
    const sse = await events;
    expect(sse.events[sse.events.length - 1]).toMatchObject({ event: 'error' });
    // A cancelled job's file may be asked for again.
    const retry = await post(t.url, { repo: REPO, file: q8.path });
    expect(retry.status).toBe(202);
    await httpRequest(`${t.url}/api/models/downloads/${retry.json().id}`, { method: 'DELETE' });
  });

  it('keeps answering the API while two downloads run, and paces progress events', async () => {
    hub.slow(3 * MiB);
    for (const p of [q8.path, qwen.path]) rmSync(join(t.dirs.models, 'magi-test', 'Qwen3-4B-GGUF', p), { force: true });
    const a = (await post(t.url, { repo: REPO, file: q8.path })).json();
    const b = (await post(t.url, { repo: REPO, file: qwen.path })).json();
    const events = readJobEvents(t.url, a.id);
    await waitForJob(t.url, a.id, (j) => j.state === 'downloading' && j.receivedBytes > 0);
    await waitForJob(t.url, b.id, (j) => j.state === 'downloading' && j.receivedBytes > 0);

    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        httpRequest(`${t.url}${['/health/live', '/api/models/registry', '/api/models/downloads'][i % 3]}`),
      ),
    );
    expect(answers.map((x) => x.status)).toEqual(answers.map(() => 200));
    const running = await Promise.all([getJob(t.url, a.id), getJob(t.url, b.id)]);
    expect(running.map((j) => j.state)).toEqual(['downloading', 'downloading']);
    expect(running[0].bytesPerSecond).toBeGreaterThan(0);

    const sse = await events;
    const progress = sse.events.filter((e) => e.event === 'progress');
    const spanMs = progress[progress.length - 1].at - progress[0].at;
    expect(progress.length).toBeGreaterThan(2);
    // At most 4 a second (one interval's slack for the timer that sends them).
    expect(progress.length - 1).toBeLessThanOrEqual(Math.ceil((spanMs + 250) / 250));
    expect(sse.events[sse.events.length - 1].event).toBe('done');
    await waitForJob(t.url, b.id, (j) => j.state === 'done');
    const list = (await httpRequest(`${t.url}/api/models/downloads`)).json();
    expect(list.map((j: { id: string }) => j.id)).toEqual(expect.arrayContaining([a.id, b.id]));
  });

  it('answers 404 for an unknown job', async () => {
    for (const method of ['GET', 'DELETE']) {
      const r = await httpRequest(`${t.url}/api/models/downloads/nope`, { method });
      expect(r.status).toBe(404);
      expect(r.json()).toMatchObject({ error: 'DownloadNotFound' });
    }
  });
});

describe('gated repositories', () => {
  it('downloads with HF_TOKEN, which only the hub receives (also through a relative redirect)', async () => {
    hub.redirect = 'relative';
    const dirs = makeTestDirs('magi-gated-');
    const app = await createTestApp({ dirs, env: { HF_ENDPOINT: hub.url, HF_TOKEN: hub.token } });
    try {
      const listing = await httpRequest(`${app.url}/api/models/hub/${GATED}`, { timeoutMs: 30_000 });
      expect(listing.status).toBe(200);
      expect(listing.json().files[0].memoryEstimate).not.toBeNull();
      const r = await post(app.url, { repo: GATED, quantization: 'Q4_K_M' });
      expect(r.status).toBe(202);
      const done = await waitForJob(app.url, r.json().id, (j) => j.state === 'done' || j.state === 'failed');
      expect(done.state).toBe('done');
      expect(hub.requests.filter((q) => q.host === 'hub').every((q) => q.authorization)).toBe(true);
      expect(hub.requests.some((q) => q.url.startsWith('/api/resolve-cache/') && q.authorization)).toBe(true);
      expect(hub.requests.filter((q) => q.host === 'files').some((q) => q.authorization)).toBe(false);
      expect(hub.counters.fileHostAuthorization).toBe(0);
      const persisted = readFileSync(join(dirs.data, 'downloads.json'), 'utf8');
      expect(persisted).not.toContain(hub.token);
      expect(persisted).toContain(r.json().id);
    } finally {
      await app.close();
      rmSync(dirs.root, { recursive: true, force: true });
    }
  });

  it('answers 401 HubUnauthorized with a token the repository does not accept', async () => {
    const dirs = makeTestDirs('magi-gated-wrong-');
    const app = await createTestApp({ dirs, env: { HF_ENDPOINT: hub.url, HF_TOKEN: 'hf_wrongTOKENwrongTOKEN' } });
    try {
      const r = await httpRequest(`${app.url}/api/models/hub/${GATED}`);
      expect(r.status).toBe(401);
      expect(r.json()).toMatchObject({ error: 'HubUnauthorized', details: { hubStatus: 403 } });
      expect(r.body).not.toContain('hf_wrongTOKEN');
    } finally {
      await app.close();
      rmSync(dirs.root, { recursive: true, force: true });
    }
  });
});

describe('DOWNLOAD_CONCURRENCY', () => {
  it('runs at most that many jobs; the next starts when one ends', async () => {
    const dirs = makeTestDirs('magi-concurrency-');
    const app = await createTestApp({ dirs, env: { HF_ENDPOINT: hub.url, DOWNLOAD_CONCURRENCY: '1' } });
    try {
      hub.slow(2 * MiB);
      const a = (await post(app.url, { repo: REPO, file: q8.path })).json();
      const b = (await post(app.url, { repo: REPO, file: qwen.path })).json();
      await waitForJob(app.url, a.id, (j) => j.state === 'downloading' && j.receivedBytes > 0);
      expect(await getJob(app.url, b.id)).toMatchObject({ state: 'queued', receivedBytes: 0 });
      expect(hub.requests.filter((q) => q.host === 'files').length).toBe(1);
      await httpRequest(`${app.url}/api/models/downloads/${a.id}`, { method: 'DELETE' });
      await waitForJob(app.url, b.id, (j) => j.state === 'downloading' && j.receivedBytes > 0);
      await httpRequest(`${app.url}/api/models/downloads/${b.id}`, { method: 'DELETE' });
    } finally {
      await app.close();
      rmSync(dirs.root, { recursive: true, force: true });
    }
  });
});
