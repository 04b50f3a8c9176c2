/**
 * GET /api/models/hub/{owner}/{repo} against the fake hub: every GGUF file (a split once,
 * projectors flagged) with the memory estimate read from its header on the hub — the same
 * estimate as the file parsed locally — while the file host serves the headers only.
 */
import { rmSync } from 'node:fs';
import {
  corpusModelFiles,
  HubFileSpec,
  startHubFixture,
  type HubFixture,
  bufferContent,
} from '../fixtures/hub-fixture';
import { createTestApp, makeTestDirs, type TestApp } from '../support/create-test-app';
import { diffSnapshots, snapshotTree } from '../support/fs-snapshot';
import { httpRequest } from '../support/fixtures';
import { localEstimate, PROFILE_KEY, rawRequest, writeProfile } from './downloads.helpers';

jest.setTimeout(120_000);

const MiB = 1024 * 1024;
const REPO = 'magi-test/Models-GGUF';
let hub: HubFixture;
let t: TestApp;
let qwen: HubFileSpec[];
let llama: HubFileSpec[];
let mmproj: HubFileSpec[];

beforeAll(async () => {
  hub = await startHubFixture();
  qwen = corpusModelFiles('Qwen3-4B-Q4_K_M.gguf', 64 * MiB);
  llama = corpusModelFiles('Llama-3.3-70B-Instruct-Q4_K_M.gguf', 16 * MiB, 'Q4_K_M/');
  mmproj = corpusModelFiles('mmproj-gemma-3-12b-it-f16.gguf', 4 * MiB);
  hub.addRepo({
    id: REPO,
    files: [
      ...qwen,
      ...llama,
      ...mmproj,
      { path: 'README.md', content: bufferContent(Buffer.from('# models\n')), lfs: false },
    ],
  });
  hub.addRepo({ id: 'magi-test/Gated-GGUF', gated: true, files: corpusModelFiles('Qwen3-4B-Q4_K_M.gguf', MiB) });
  hub.addRepo({ id: 'magi-test/Empty', files: [] });
  const dirs = makeTestDirs('magi-hub-');
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
  hub.pageSize = 0;
});

describe('GET /api/models/hub/{owner}/{repo}', () => {
  it('lists the GGUF files with the estimate read from each remote header, fetching headers only', async () => {
    const r = await httpRequest(`${t.url}/api/models/hub/${REPO}`, { timeoutMs: 60_000 });
    expect(r.status).toBe(200);
    const body = r.json();
    expect(body).toMatchObject({ repo: REPO, revision: 'main', commit: hub.commit(REPO) });
    // The default budget is `auto`; nothing runs in this app, so all of it is free.
    expect(body.budgetBytes).toBeGreaterThan(0);
    expect(body.freeBytes).toBe(body.budgetBytes);
    expect(body.files.map((f: { path: string }) => f.path)).toEqual([
      'Q4_K_M/Llama-3.3-70B-Instruct-Q4_K_M-00001-of-00003.gguf',
      'Qwen3-4B-Q4_K_M.gguf',
      'mmproj-gemma-3-12b-it-f16.gguf',
    ]);
    const [split, single, projector] = body.files;

    const qwenLocal = await localEstimate(qwen.map((f) => f.content));
    expect(single).toEqual({
      path: 'Qwen3-4B-Q4_K_M.gguf',
      sizeBytes: qwen[0].content.size,
      sha256: hub.sha256(REPO, 'Qwen3-4B-Q4_K_M.gguf'),
      quantization: 'Q4_K_M',
      shards: null,
      isProjector: false,
      memoryEstimate: qwenLocal.estimate,
      fits: qwenLocal.estimate!.totalBytes <= body.freeBytes,
      headerError: null,
    });
    expect(single.memoryEstimate).toMatchObject({ ctxSize: 8192, parallel: 1 });

    const llamaLocal = await localEstimate(llama.map((f) => f.content));
    expect(split).toMatchObject({
      sizeBytes: llama.reduce((n, f) => n + f.content.size, 0),
      quantization: 'Q4_K_M',
      shards: llama.map((f) => f.path),
      isProjector: false,
      memoryEstimate: llamaLocal.estimate,
    });
    // The 70B model's weights are ~40 GiB: every shard's header was read.
    expect(split.memoryEstimate.weightsBytes).toBeGreaterThan(40e9);

    expect(projector).toMatchObject({ isProjector: true, memoryEstimate: null, fits: null, quantization: 'F16' });

    // Header only: the file host sent each header plus at most one read-ahead window, far less than the files.
    const served = hub.counters.perFile.get(`${REPO}/Qwen3-4B-Q4_K_M.gguf`)!;
    expect(served.bytes).toBeGreaterThanOrEqual(qwenLocal.headerBytes);
    expect(served.bytes).toBeLessThanOrEqual(qwenLocal.headerBytes + 1.1 * MiB);
    expect(served.bytes).toBeLessThan(qwen[0].content.size / 10);
    const total = [...qwen, ...llama, ...mmproj].reduce((n, f) => n + f.content.size, 0);
    expect(hub.counters.fileBytes).toBeLessThan(total / 5);
    // And the token-free file host never saw an Authorization header.
    expect(hub.counters.fileHostAuthorization).toBe(0);
  });

  it('answers the same through a relative redirect and a paginated tree listing', async () => {
    hub.redirect = 'relative';
    hub.pageSize = 2;
    const r = await httpRequest(`${t.url}/api/models/hub/${REPO}?revision=main`, { timeoutMs: 60_000 });
    expect(r.status).toBe(200);
    expect(r.json().files).toHaveLength(3);
    expect(hub.requests.filter((q) => q.url.includes('/tree/')).length).toBeGreaterThan(2);
    expect(hub.requests.some((q) => q.url.startsWith('/api/resolve-cache/'))).toBe(true);
  });

  it('lists a repository without GGUF files as empty', async () => {
    const r = await httpRequest(`${t.url}/api/models/hub/magi-test/Empty`);
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ repo: 'magi-test/Empty', commit: null, files: [] });
  });

  it('answers 404 RepositoryNotFound for an unknown repository or revision', async () => {
    const unknown = await httpRequest(`${t.url}/api/models/hub/magi-test/Nothing-Here`);
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toMatchObject({ error: 'RepositoryNotFound', details: { repo: 'magi-test/Nothing-Here' } });
    const rev = await httpRequest(`${t.url}/api/models/hub/${REPO}?revision=no-such-branch`);
    expect(rev.status).toBe(404);
    expect(rev.json()).toMatchObject({ error: 'RepositoryNotFound', details: { hubError: 'RevisionNotFound' } });
  });

  it('answers 401 HubUnauthorized for a gated repository without HF_TOKEN', async () => {
    const r = await httpRequest(`${t.url}/api/models/hub/magi-test/Gated-GGUF`);
    expect(r.status).toBe(401);
    expect(r.json()).toMatchObject({ error: 'HubUnauthorized', details: { hubStatus: 401 } });
  });

  it.each([
    ['..', 'x'],
    ['%2e%2e', 'x'],
    ['%252e%252e', 'x'],
    ['owner', '..%2F..%2Fetc'],
    ['owner', 'a%5Cb'],
    ['owner', 'a%00b'],
    ['owner', '%E2%80%A5'],
    ['%EF%BC%8E%EF%BC%8E', 'repo'],
  ])('refuses owner %j and repo %j with 400 before asking the hub', async (owner, repo) => {
    const before = snapshotTree(t.dirs.root);
    const r = await rawRequest(t.url, `/api/models/hub/${owner}/${repo}`);
    expect(r.status).toBe(400);
    expect(r.json()).toMatchObject({ error: 'ValidationFailed' });
    expect(hub.counters.hubRequests).toBe(0);
    expect(diffSnapshots(before, snapshotTree(t.dirs.root))).toEqual([]);
  });

  it('refuses a revision with a space or a `..` part', async () => {
    const r = await httpRequest(`${t.url}/api/models/hub/${REPO}?revision=..%2Fmain`);
    expect(r.status).toBe(400);
    expect(r.json().details.fields[0]).toMatchObject({ field: 'revision' });
  });

  it('answers 503 HubUnavailable when the hub cannot be reached', async () => {
    const dirs = makeTestDirs('magi-hub-down-');
    const down = await createTestApp({ dirs, env: { HF_ENDPOINT: 'http://127.0.0.1:9' } });
    try {
      const r = await httpRequest(`${down.url}/api/models/hub/${REPO}`);
      expect(r.status).toBe(503);
      expect(r.json()).toMatchObject({ error: 'HubUnavailable' });
    } finally {
      await down.close();
      rmSync(dirs.root, { recursive: true, force: true });
    }
  });
});

describe('fits, against the fleet budget', () => {
  it('compares each estimate with the memory free now, under the active profile memoryBudget', async () => {
    const profileUrl = `${t.url}/api/models/profiles/${PROFILE_KEY}`;
    const original = (await httpRequest(profileUrl)).json();
    const listing = (await httpRequest(`${t.url}/api/models/hub/${REPO}`, { timeoutMs: 60_000 })).json();
    const [split, single] = listing.files;
    const between = Math.floor((single.memoryEstimate.totalBytes + split.memoryEstimate.totalBytes) / 2);
    expect(single.memoryEstimate.totalBytes).toBeLessThan(between);
    expect(split.memoryEstimate.totalBytes).toBeGreaterThan(between);
    try {
      const put = await httpRequest(profileUrl, { method: 'PUT', body: { ...original, memoryBudget: `${between}B` } });
      expect(put.status).toBe(200);
      const r = (await httpRequest(`${t.url}/api/models/hub/${REPO}`, { timeoutMs: 60_000 })).json();
      expect([r.budgetBytes, r.freeBytes]).toEqual([between, between]);
      expect(r.files.map((f: { fits: boolean | null }) => f.fits)).toEqual([false, true, null]);
      await httpRequest(profileUrl, { method: 'PUT', body: { ...original, memoryBudget: 'off' } });
      const off = (await httpRequest(`${t.url}/api/models/hub/${REPO}`, { timeoutMs: 60_000 })).json();
      expect([off.budgetBytes, off.freeBytes]).toEqual([null, null]);
      expect(off.files.map((f: { fits: boolean | null }) => f.fits)).toEqual([true, true, null]);
    } finally {
      await httpRequest(profileUrl, { method: 'PUT', body: original });
    }
  });
});
