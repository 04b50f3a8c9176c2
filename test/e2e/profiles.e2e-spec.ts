import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import request from 'supertest';
import { createTestApp, makeTestDirs, TestApp, TestDirs } from '../support/create-test-app';
import { isErrorShape, nonCamelKeys } from '../support/json';

const SHIPPED = join(__dirname, '..', '..', 'profiles');
const P = '/api/models/profiles';

/** A complete profile using every block (camelCase, as API.md §5 and §9 show it). */
function fullProfile(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    description: `Profile ${name}`,
    enabledModels: ['qwen3_4b_q4km', 'llama_*'],
    tierConfig: [
      { name: 'fast', maxScore: 3, expectedTimeSeconds: 2, description: 'Simple queries' },
      { name: 'powerful', maxScore: 10, expectedTimeSeconds: 30 },
    ],
    twoStage: { enabled: false, stage1Tier: 'balanced', stage2Tier: 'powerful', stage1MaxTokens: 500 },
    loadBalancing: { enabled: true, strategy: 'least_loaded', healthCheckInterval: 30 },
    server: { ctxSize: 4096, gpuLayers: 0, parallel: 1, extraArgs: ['--flash-attn', 'on'], embeddings: false },
    aliases: { 'gpt-4o-mini': 'qwen3_4b_q4km', 'gpt-4o': 'powerful' },
    onDemand: { models: ['llama_*'], idleTimeoutSeconds: 300 },
    memoryBudget: '24GiB',
    maxRunning: 4,
    ...extra,
  };
}

function writeProfileFile(dirs: TestDirs, key: string, text: string): void {
  writeFileSync(join(dirs.profiles, `${key}.yaml`), text);
}

function copyShipped(dirs: TestDirs): void {
  for (const f of readdirSync(SHIPPED)) if (f.endsWith('.yaml')) copyFileSync(join(SHIPPED, f), join(dirs.profiles, f));
}

function expectError(res: request.Response, status: number, type?: string): void {
  expect({ status: res.status, body: res.body }).toEqual(expect.objectContaining({ status }));
  expect(isErrorShape(res.body)).toBe(true);
  if (type) expect(res.body.error).toBe(type);
}

describe('Profiles over HTTP', () => {
  let t: TestApp;
  let dirs: TestDirs;

  beforeAll(async () => {
    dirs = makeTestDirs();
    copyShipped(dirs);
    t = await createTestApp({ dirs });
  });
  afterAll(async () => {
    await t.close();
    rmSync(dirs.root, { recursive: true, force: true });
  });

  describe('GET /api/models/profiles', () => {
    it('lists the keys of the profile files, sorted', async () => {
      const res = await request(t.url).get(P).expect(200);
      expect(res.body).toEqual(expect.arrayContaining(['development', 'fast-only', 'production']));
      expect([...res.body].sort()).toEqual(res.body);
    });

    it('ignores files that are not `<key>.yaml`', async () => {
      for (const f of ['notes.txt', 'Upper.yaml', 'x.yml', '.hidden.yaml', 'active.yaml', '_under.yaml', 'a.b.yaml']) {
        writeFileSync(join(dirs.profiles, f), 'name: x\nenabledModels: []\n');
      }
      mkdirSync(join(dirs.profiles, 'folder.yaml'));
      const res = await request(t.url).get(P).expect(200);
      expect(res.body.filter((k: string) => !/^[a-z0-9][a-z0-9_-]{0,63}$/.test(k) || k === 'active')).toEqual([]);
      expect(res.body).not.toContain('folder');
      await request(t.url).get(`${P}/folder`).expect(404);
    });
  });

  describe('GET /api/models/profiles/{name}', () => {
    it('answers a shipped profile as its file says, camelCase all the way down', async () => {
      const res = await request(t.url).get(`${P}/production`).expect(200);
      const onDisk = load(readFileSync(join(dirs.profiles, 'production.yaml'), 'utf8'));
      expect(res.body).toEqual(onDisk);
      expect(nonCamelKeys(res.body, '$', (p) => p.startsWith('$.aliases.'))).toEqual([]);
      expect(res.body.server.gpuLayers).toBe('all');
    });

    it('is 404 ProfileNotFound for a missing key', async () => {
      const res = await request(t.url).get(`${P}/nope`);
      expectError(res, 404, 'ProfileNotFound');
      expect(res.body.details.profileName).toBe('nope');
    });

    it('is 400 InvalidProfileName for a name that is not a key', async () => {
      expectError(await request(t.url).get(`${P}/Development`), 400, 'InvalidProfileName');
    });

    it('picks up a hand-edited file without a restart', async () => {
      writeProfileFile(dirs, 'handmade', 'name: Handmade\nenabledModels: [a]\n');
      expect((await request(t.url).get(`${P}/handmade`).expect(200)).body).toEqual({
        name: 'Handmade',
        enabledModels: ['a'],
      });
      writeProfileFile(dirs, 'handmade', 'name: Handmade v2\ndescription: edited\nenabledModels: [a, b]\n');
      expect((await request(t.url).get(`${P}/handmade`).expect(200)).body).toEqual({
        name: 'Handmade v2',
        description: 'edited',
        enabledModels: ['a', 'b'],
      });
      rmSync(join(dirs.profiles, 'handmade.yaml'));
      await request(t.url).get(`${P}/handmade`).expect(404);
    });

    it('reads the scheduling keys from a hand-written file', async () => {
      writeProfileFile(
        dirs,
        'scheduled',
        'name: Scheduled\nenabledModels: ["*"]\nonDemand:\n  models: [qwen3_*, gemma_3_12b_q4km]\nmemoryBudget: 12GiB\nmaxRunning: 2\n',
      );
      expect((await request(t.url).get(`${P}/scheduled`).expect(200)).body).toEqual({
        name: 'Scheduled',
        enabledModels: ['*'],
        onDemand: { models: ['qwen3_*', 'gemma_3_12b_q4km'], idleTimeoutSeconds: 600 },
        memoryBudget: '12GiB',
        maxRunning: 2,
      });
    });

    it('is 422 InvalidProfileFile for broken YAML, while the list and other profiles still work', async () => {
      writeProfileFile(dirs, 'broken', 'name: [unclosed\nenabledModels: {');
      const res = await request(t.url).get(`${P}/broken`);
      expectError(res, 422, 'InvalidProfileFile');
      expect(res.body.details.file).toBe('broken.yaml');
      expect(res.body.details.reason).toMatch(/not valid YAML/);
      expect((await request(t.url).get(P).expect(200)).body).toContain('broken');
      await request(t.url).get(`${P}/development`).expect(200);
    });

    it.each([
      ['an unknown key', 'name: x\nenabledModels: []\nenabledModel: [typo]\n', 'enabledModel'],
      ['a nested unknown key', 'name: x\nenabledModels: []\nserver: {ctx_size: 4096}\n', 'server.ctx_size'],
      [
        'a bad strategy',
        'name: x\nenabledModels: []\nloadBalancing: {enabled: true, strategy: fastest, healthCheckInterval: 1}\n',
        'loadBalancing.strategy',
      ],
      [
        'a bad memoryBudget',
        'name: x\nenabledModels: []\nmemoryBudget: 0GiB\n',
        'memoryBudget: Invalid memoryBudget: 0GiB',
      ],
      ['a zero maxRunning', 'name: x\nenabledModels: []\nmaxRunning: 0\n', 'maxRunning'],
      [
        'a zero idleTimeoutSeconds',
        'name: x\nenabledModels: []\nonDemand: {models: [a], idleTimeoutSeconds: 0}\n',
        'onDemand.idleTimeoutSeconds',
      ],
      ['a scalar document', 'hello\n', 'mapping'],
      ['an empty file', '', 'YAML'],
    ])('is 422 for a file with %s, naming it', async (_what, text, mention) => {
      writeProfileFile(dirs, 'invalid-one', text);
      const res = await request(t.url).get(`${P}/invalid-one`);
      expectError(res, 422, 'InvalidProfileFile');
      expect(res.body.details.reason).toContain(mention);
      expect((await request(t.url).get(P).expect(200)).body).toContain('invalid-one');
    });
  });

  describe('POST /api/models/profiles', () => {
    const json = JSON.stringify(fullProfile('Deep'));
    it('creates a profile (201) whose key comes from its name, written camelCase as YAML', async () => {
      const body = fullProfile('My Profile!');
      const res = await request(t.url).post(P).send(body).expect(201);
      expect(res.body).toEqual({ message: expect.any(String), profileName: 'my-profile', path: 'my-profile.yaml' });
      const file = join(dirs.profiles, res.body.path);
      const onDisk = load(readFileSync(file, 'utf8'));
      expect(onDisk).toEqual(body);
      expect(nonCamelKeys(onDisk, '$', (p) => p.startsWith('$.aliases.'))).toEqual([]);
      const got = await request(t.url).get(`${P}/my-profile`).expect(200);
      expect(got.body).toEqual(body);
      expect((await request(t.url).get(P).expect(200)).body).toContain('my-profile');
    });

    it('creates a minimal profile and leaves absent optional blocks out', async () => {
      const res = await request(t.url).post(P).send({ name: 'Minimal', enabledModels: [] }).expect(201);
      expect((await request(t.url).get(`${P}/${res.body.profileName}`).expect(200)).body).toEqual({
        name: 'Minimal',
        enabledModels: [],
      });
    });

    it('is 409 ProfileExists when the key exists, whatever the spelling of the name', async () => {
      await request(t.url).post(P).send(fullProfile('Twice')).expect(201);
      for (const name of ['Twice', 'twice', ' TWICE! ']) {
        const res = await request(t.url).post(P).send(fullProfile(name));
        expectError(res, 409, 'ProfileExists');
        expect(res.body.details.profileName).toBe('twice');
      }
      expect(load(readFileSync(join(dirs.profiles, 'twice.yaml'), 'utf8'))).toEqual(fullProfile('Twice'));
    });

    it('is 409 for the key of an existing but invalid file too, and leaves it alone', async () => {
      writeProfileFile(dirs, 'occupied', 'not: [valid');
      expectError(await request(t.url).post(P).send(fullProfile('Occupied')), 409, 'ProfileExists');
      expect(readFileSync(join(dirs.profiles, 'occupied.yaml'), 'utf8')).toBe('not: [valid');
    });

    it.each([
      ['!!!', 'empty'],
      ['..', 'empty'],
      ['_x', 'does not match'],
      ['-', 'empty'],
      ['Active', 'reserved'],
      ['x'.repeat(65), 'longer than 64'],
      ['\uff0e\uff0e', 'empty'],
    ])('is 400 InvalidProfileName for the name %j', async (name, reason) => {
      const res = await request(t.url).post(P).send(fullProfile(name));
      expectError(res, 400, 'InvalidProfileName');
      expect(res.body.details.reason).toContain(reason);
    });

    it('is 400 naming unknown keys, top-level and nested (a typo is never dropped)', async () => {
      const res = await request(t.url)
        .post(P)
        .send(fullProfile('Typos', { enabledModel: ['x'], server: { ctxSize: 1, ctx_size: 2 } }));
      expectError(res, 400, 'ValidationFailed');
      expect(Object.keys(res.body.details.fields)).toEqual(expect.arrayContaining(['enabledModel', 'server.ctx_size']));
      expect(existsSync(join(dirs.profiles, 'typos.yaml'))).toBe(false);
    });

    it.each([
      ['name', { name: 42 }],
      ['name', { name: '' }],
      ['enabledModels', { enabledModels: 'qwen3_4b_q4km' }],
      ['enabledModels', { enabledModels: [1, 2] }],
      ['enabledModels', { enabledModels: ['../etc/passwd'] }],
      ['tierConfig[0].name', { tierConfig: [{ name: 'huge', maxScore: 1, expectedTimeSeconds: 1 }] }],
      ['tierConfig[0].maxScore', { tierConfig: [{ name: 'fast', maxScore: -1, expectedTimeSeconds: 1 }] }],
      ['tierConfig[0].expectedTimeSeconds', { tierConfig: [{ name: 'fast', maxScore: 1, expectedTimeSeconds: '2' }] }],
      [
        'tierConfig',
        {
          tierConfig: [
            { name: 'fast', maxScore: 1, expectedTimeSeconds: 1 },
            { name: 'fast', maxScore: 2, expectedTimeSeconds: 1 },
          ],
        },
      ],
      ['tierConfig', { tierConfig: { name: 'fast' } }],
      [
        'twoStage.stage1Tier',
        { twoStage: { enabled: true, stage1Tier: 'tiny', stage2Tier: 'powerful', stage1MaxTokens: 5 } },
      ],
      [
        'twoStage.stage1MaxTokens',
        { twoStage: { enabled: true, stage1Tier: 'fast', stage2Tier: 'powerful', stage1MaxTokens: 0 } },
      ],
      [
        'twoStage.stage1MaxTokens',
        { twoStage: { enabled: true, stage1Tier: 'fast', stage2Tier: 'powerful', stage1MaxTokens: 2.5 } },
      ],
      [
        'twoStage.enabled',
        { twoStage: { enabled: 'yes', stage1Tier: 'fast', stage2Tier: 'powerful', stage1MaxTokens: 5 } },
      ],
      ['loadBalancing.strategy', { loadBalancing: { enabled: true, strategy: 'fastest', healthCheckInterval: 30 } }],
      [
        'loadBalancing.healthCheckInterval',
        { loadBalancing: { enabled: true, strategy: 'random', healthCheckInterval: -5 } },
      ],
      ['loadBalancing', { loadBalancing: 'round_robin' }],
      ['server.ctxSize', { server: { ctxSize: -1 } }],
      ['server.ctxSize', { server: { ctxSize: 1.5 } }],
      ['server.gpuLayers', { server: { gpuLayers: 'most' } }],
      ['server.parallel', { server: { parallel: 0 } }],
      ['server.extraArgs', { server: { extraArgs: '--flash-attn' } }],
      ['server.extraArgs', { server: { extraArgs: [1, true] } }],
      ['server.extraArgs', { server: { extraArgs: Array(65).fill('--x') } }],
      ['server.embeddings', { server: { embeddings: 'true' } }],
      ['aliases', { aliases: ['gpt-4o'] }],
      ['aliases', { aliases: { 'gpt-4o': 3 } }],
      ['aliases', { aliases: { 'gpt-4o': { nested: 'x' } } }],
      ['description', { description: 'x'.repeat(2001) }],
      ['enabledModels', { enabledModels: Array(1001).fill('a') }],
      ['onDemand', { onDemand: ['llama_*'] }],
      ['onDemand.models', { onDemand: { idleTimeoutSeconds: 60 } }],
      ['onDemand.models', { onDemand: { models: 'llama_*' } }],
      ['onDemand.models', { onDemand: { models: ['Llama 3'] } }],
      ['onDemand.idleTimeoutSeconds', { onDemand: { models: [], idleTimeoutSeconds: 0 } }],
      ['onDemand.idleTimeoutSeconds', { onDemand: { models: [], idleTimeoutSeconds: 1.5 } }],
      ['onDemand.idleTimeoutSeconds', { onDemand: { models: [], idleTimeoutSeconds: '600' } }],
      ['onDemand.idleTimeout', { onDemand: { models: [], idleTimeout: 600 } }],
      ['memoryBudget', { memoryBudget: '24' }],
      ['memoryBudget', { memoryBudget: 24 * 1024 ** 3 }],
      ['memoryBudget', { memoryBudget: '0MiB' }],
      ['memoryBudget', { memoryBudget: '24 gigabytes' }],
      ['memoryBudget', { memoryBudget: 'unlimited' }],
      ['memoryBudget', { memoryBudget: '' }],
      ['maxRunning', { maxRunning: 0 }],
      ['maxRunning', { maxRunning: 2.5 }],
      ['maxRunning', { maxRunning: '4' }],
    ])('is 400 ValidationFailed naming %s for a wrong value', async (field, patch) => {
      const res = await request(t.url)
        .post(P)
        .send({ ...fullProfile('Wrong types'), ...patch });
      expectError(res, 400, 'ValidationFailed');
      expect(Object.keys(res.body.details.fields)).toContain(field);
      expect(existsSync(join(dirs.profiles, 'wrong-types.yaml'))).toBe(false);
    });

    it('says why a memoryBudget is refused', async () => {
      const zero = await request(t.url)
        .post(P)
        .send(fullProfile('Zero budget', { memoryBudget: '0GiB' }));
      expectError(zero, 400, 'ValidationFailed');
      expect(zero.body.details.fields).toEqual({
        memoryBudget: ['Invalid memoryBudget: 0GiB. A budget of 0 admits no model; write off for none'],
      });
      const bare = await request(t.url)
        .post(P)
        .send(fullProfile('Bare budget', { memoryBudget: '24' }));
      expect(bare.body.details.fields.memoryBudget[0]).toMatch(
        /^Invalid memoryBudget: 24\. Must be a number and a unit/,
      );
    });

    it('fills idleTimeoutSeconds with 600 when onDemand leaves it out, and keeps every budget word', async () => {
      const body = fullProfile('Lazy', { onDemand: { models: ['qwen3_*'] }, memoryBudget: 'off', maxRunning: 1 });
      await request(t.url).post(P).send(body).expect(201);
      const expected = { ...body, onDemand: { models: ['qwen3_*'], idleTimeoutSeconds: 600 } };
      expect((await request(t.url).get(`${P}/lazy`).expect(200)).body).toEqual(expected);
      expect(load(readFileSync(join(dirs.profiles, 'lazy.yaml'), 'utf8'))).toEqual(expected);
      for (const memoryBudget of ['auto', '16000MiB', '1.5 GB']) {
        await request(t.url)
          .put(`${P}/lazy`)
          .send({ ...body, memoryBudget })
          .expect(200);
        expect((await request(t.url).get(`${P}/lazy`).expect(200)).body.memoryBudget).toBe(memoryBudget);
      }
    });

    it('is 400 when a required field is missing', async () => {
      const res = await request(t.url).post(P).send({ name: 'No models' });
      expectError(res, 400, 'ValidationFailed');
      expect(Object.keys(res.body.details.fields)).toContain('enabledModels');
    });

    it.each([
      ['an array', '[{"name":"x","enabledModels":[]}]'],
      ['a JSON string', '"profile"'],
      ['a number', '42'],
      ['null', 'null'],
      ['true', 'true'],
      ['broken JSON', '{"name": "x",'],
      ['an empty body', ''],
    ])('is 400 for a body that is %s', async (_what, raw) => {
      const res = await request(t.url).post(P).set('Content-Type', 'application/json').send(raw);
      expectError(res, 400);
    });

    it('is 4xx for a body that is not JSON', async () => {
      const res = await request(t.url).post(P).set('Content-Type', 'text/plain').send('name: x');
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(isErrorShape(res.body)).toBe(true);
    });

    it('is 413 PayloadTooLarge for a body over 1 MB (a 2 MB string)', async () => {
      const res = await request(t.url)
        .post(P)
        .send(fullProfile('Big', { description: 'x'.repeat(2 * 1024 * 1024) }));
      expectError(res, 413, 'PayloadTooLarge');
    });

    it('is 400 for a megabyte string inside the limit', async () => {
      const res = await request(t.url)
        .post(P)
        .send(fullProfile('Big', { name: 'n'.repeat(900_000) }));
      expectError(res, 400, 'ValidationFailed');
      expect(res.text.length).toBeLessThan(10_000);
    });

    // The bodies are built as text: JSON.stringify itself would overflow on them.
    it.each([
      ['an unknown key', (d: string) => json.replace(/}$/, `,"junk":${d}}`)],
      ['a known key', (d: string) => json.replace('"extraArgs":[', `"extraArgs":[${d},`)],
      ['aliases', (d: string) => json.replace('"aliases":{', `"aliases":{"x":${d},`)],
      [
        'nested objects',
        (d: string) =>
          json.replace(/}$/, `,"junk":${d.replace(/\[/g, '{"a":').replace(/]/g, '}').replace('{"a":}', '1')}}`),
      ],
    ])('is 400 for deep nesting under %s, never 500', async (_what, make) => {
      for (const depth of [50, 5_000, 100_000]) {
        const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;
        const res = await request(t.url).post(P).set('Content-Type', 'application/json').send(make(deep));
        expectError(res, 400);
      }
      expect(existsSync(join(dirs.profiles, 'deep.yaml'))).toBe(false);
    });

    it('is 400 for a __proto__ key instead of silently dropping it', async () => {
      const raw = JSON.stringify(fullProfile('Proto')).replace('"aliases":{', '"aliases":{"__proto__":"fast",');
      expectError(await request(t.url).post(P).set('Content-Type', 'application/json').send(raw), 400);
      expect(existsSync(join(dirs.profiles, 'proto.yaml'))).toBe(false);
    });
  });

  describe('PUT /api/models/profiles/{name}', () => {
    beforeAll(async () => {
      await request(t.url).post(P).send(fullProfile('Editable')).expect(201);
    });

    it('replaces the profile and keeps its key when the name changes', async () => {
      const body = fullProfile('A new display name', { enabledModels: ['x_*'], aliases: { a: 'fast' } });
      const res = await request(t.url).put(`${P}/editable`).send(body).expect(200);
      expect(res.body).toEqual({ message: expect.any(String), profileName: 'editable', path: 'editable.yaml' });
      expect((await request(t.url).get(`${P}/editable`).expect(200)).body).toEqual(body);
      expect(load(readFileSync(join(dirs.profiles, 'editable.yaml'), 'utf8'))).toEqual(body);
      expect(existsSync(join(dirs.profiles, 'a-new-display-name.yaml'))).toBe(false);
    });

    it('repairs a file that was invalid', async () => {
      writeProfileFile(dirs, 'repairable', 'name: [broken');
      await request(t.url).put(`${P}/repairable`).send(fullProfile('Repaired')).expect(200);
      expect((await request(t.url).get(`${P}/repairable`).expect(200)).body.name).toBe('Repaired');
    });

    it('is 404 for a missing key and creates nothing', async () => {
      expectError(await request(t.url).put(`${P}/ghost`).send(fullProfile('Ghost')), 404, 'ProfileNotFound');
      expect(existsSync(join(dirs.profiles, 'ghost.yaml'))).toBe(false);
    });

    it('is 400 for an invalid body and leaves the file as it was', async () => {
      const before = readFileSync(join(dirs.profiles, 'editable.yaml'), 'utf8');
      expectError(
        await request(t.url)
          .put(`${P}/editable`)
          .send({ ...fullProfile('x'), unknown: 1 }),
        400,
        'ValidationFailed',
      );
      expectError(await request(t.url).put(`${P}/editable`).set('Content-Type', 'application/json').send('[]'), 400);
      const deep = JSON.stringify(fullProfile('x')).replace(
        /}$/,
        `,"junk":${'['.repeat(50_000)}${']'.repeat(50_000)}}`,
      );
      expectError(await request(t.url).put(`${P}/editable`).set('Content-Type', 'application/json').send(deep), 400);
      expect(readFileSync(join(dirs.profiles, 'editable.yaml'), 'utf8')).toBe(before);
    });

    it('is 400 InvalidProfileName for a path name that is not a key', async () => {
      expectError(await request(t.url).put(`${P}/Editable`).send(fullProfile('x')), 400, 'InvalidProfileName');
    });

    it.each(['tier', 'thinking', 'enabled'])(
      'reaches a profile whose key is %j (not a registry route)',
      async (key) => {
        writeProfileFile(dirs, key, 'name: x\nenabledModels: []\n');
        await request(t.url)
          .put(`${P}/${key}`)
          .send(fullProfile(`Key ${key}`))
          .expect(200);
        expect((await request(t.url).get(`${P}/${key}`).expect(200)).body.name).toBe(`Key ${key}`);
      },
    );
  });

  describe('DELETE /api/models/profiles/{name}', () => {
    it('deletes a profile file', async () => {
      await request(t.url).post(P).send(fullProfile('Doomed')).expect(201);
      const res = await request(t.url).delete(`${P}/doomed`).expect(200);
      expect(res.body).toEqual({ message: expect.any(String), profileName: 'doomed' });
      expect(existsSync(join(dirs.profiles, 'doomed.yaml'))).toBe(false);
      expect((await request(t.url).get(P).expect(200)).body).not.toContain('doomed');
      expectError(await request(t.url).delete(`${P}/doomed`), 404, 'ProfileNotFound');
    });

    it('deletes an invalid file too', async () => {
      writeProfileFile(dirs, 'junk', '::: not yaml [');
      await request(t.url).delete(`${P}/junk`).expect(200);
      expect(existsSync(join(dirs.profiles, 'junk.yaml'))).toBe(false);
    });

    it('is 409 ProfileActive for the active profile, which stays', async () => {
      const res = await request(t.url).delete(`${P}/development`);
      expectError(res, 409, 'ProfileActive');
      expect(existsSync(join(dirs.profiles, 'development.yaml'))).toBe(true);
    });

    it('is 400 InvalidProfileName for a path name that is not a key', async () => {
      expectError(await request(t.url).delete(`${P}/_x`), 400, 'InvalidProfileName');
    });
  });

  describe('GET /api/models/profiles/active', () => {
    it('answers the active key and its content (development by default)', async () => {
      const res = await request(t.url).get(`${P}/active`).expect(200);
      expect(res.body.activeProfile).toBe('development');
      expect(res.body.profile).toEqual(load(readFileSync(join(dirs.profiles, 'development.yaml'), 'utf8')));
      expect(nonCamelKeys(res.body, '$', (p) => p.startsWith('$.profile.aliases.'))).toEqual([]);
    });
  });

  describe('OpenAPI document', () => {
    it('documents every profiles route with its status codes, and every profile field with a description and an example', async () => {
      const doc = (await request(t.url).get('/docs-json').expect(200)).body;
      const codes = (path: string, method: string): string[] =>
        Object.keys(doc.paths[path]?.[method]?.responses ?? {}).sort();
      expect(codes(P, 'get')).toEqual(expect.arrayContaining(['200']));
      expect(codes(P, 'post')).toEqual(expect.arrayContaining(['201', '400', '409', '413']));
      expect(codes(`${P}/active`, 'get')).toEqual(expect.arrayContaining(['200']));
      expect(codes(`${P}/{name}`, 'get')).toEqual(expect.arrayContaining(['200', '400', '404', '422']));
      expect(codes(`${P}/{name}`, 'put')).toEqual(expect.arrayContaining(['200', '400', '404']));
      expect(codes(`${P}/{name}`, 'delete')).toEqual(expect.arrayContaining(['200', '400', '404', '409']));
      expect(codes(`${P}/{name}/activate`, 'post')).toEqual(expect.arrayContaining(['200', '400', '404', '422']));
      for (const path of [P, `${P}/active`, `${P}/{name}`, `${P}/{name}/activate`]) {
        for (const op of Object.values<Record<string, unknown>>(doc.paths[path])) expect(op.tags).toEqual(['profiles']);
      }
      const undocumented: string[] = [];
      for (const schema of [
        'ProfileDto',
        'TierConfigEntryDto',
        'TwoStageDto',
        'LoadBalancingDto',
        'ProfileServerSettingsDto',
        'OnDemandDto',
        'ProfileWrittenDto',
        'ProfileDeletedDto',
        'ActivationResultDto',
      ]) {
        for (const [field, prop] of Object.entries<Record<string, unknown>>(
          doc.components.schemas[schema].properties,
        )) {
          const example =
            prop.example !== undefined ||
            ['twoStage', 'loadBalancing', 'server', 'tierConfig', 'onDemand'].includes(field);
          if (!prop.description || !example) undocumented.push(`${schema}.${field}`);
        }
      }
      expect(undocumented).toEqual([]);
    });
  });

  describe('concurrent writers', () => {
    it('leaves one whole version after 20 parallel PUTs to one profile', async () => {
      await request(t.url).post(P).send(fullProfile('Contended')).expect(201);
      const versions = Array.from({ length: 20 }, (_, i) =>
        fullProfile(`Contended v${i}`, {
          description: `version ${i} `.repeat(20 + i * 8),
          enabledModels: Array.from({ length: i + 1 }, (_, j) => `model_${i}_${j}`),
          server: { ctxSize: 1024 * (i + 1), extraArgs: Array.from({ length: i % 7 }, (_, j) => `--arg-${i}-${j}`) },
        }),
      );
      const results = await Promise.all(versions.map((v) => request(t.url).put(`${P}/contended`).send(v)));
      expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
      const onDisk = load(readFileSync(join(dirs.profiles, 'contended.yaml'), 'utf8'));
      expect(versions).toContainEqual(onDisk);
      expect((await request(t.url).get(`${P}/contended`).expect(200)).body).toEqual(onDisk);
      expect(readdirSync(dirs.profiles).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    });

    it('creates a profile once when the same name is POSTed 10 times at once', async () => {
      const results = await Promise.all(
        Array.from({ length: 10 }, () => request(t.url).post(P).send(fullProfile('Racer'))),
      );
      expect(results.map((r) => r.status).sort()).toEqual([201, ...Array(9).fill(409)]);
    });
  });
});

describe('Profile activation', () => {
  const readState = (dirs: TestDirs): unknown => JSON.parse(readFileSync(join(dirs.data, 'state.json'), 'utf8'));

  it('persists the activation in STATE_PATH, answers the summary and survives a restart', async () => {
    const dirs = makeTestDirs();
    copyShipped(dirs);
    let t = await createTestApp({ dirs });
    try {
      expect((await request(t.url).get(`${P}/active`).expect(200)).body.activeProfile).toBe('development');
      const res = await request(t.url).post(`${P}/production/activate`).expect(200);
      expect(res.body).toEqual({
        message: expect.any(String),
        activeProfile: 'production',
        started: expect.any(Array),
        stopped: expect.any(Array),
        kept: expect.any(Array),
      });
      expect(readState(dirs)).toEqual(expect.objectContaining({ activeProfile: 'production' }));
      const active = await request(t.url).get(`${P}/active`).expect(200);
      expect(active.body).toEqual({
        activeProfile: 'production',
        profile: load(readFileSync(join(dirs.profiles, 'production.yaml'), 'utf8')),
      });
      expectError(await request(t.url).delete(`${P}/production`), 409, 'ProfileActive');
      await request(t.url).delete(`${P}/development`).expect(200);

      await t.close({ keepDirs: true });
      t = await createTestApp({ dirs });
      expect((await request(t.url).get(`${P}/active`).expect(200)).body.activeProfile).toBe('production');
      expectError(await request(t.url).delete(`${P}/production`), 409, 'ProfileActive');
    } finally {
      await t.close();
      rmSync(dirs.root, { recursive: true, force: true });
    }
  });

  it('lets ACTIVE_PROFILE win over the state file', async () => {
    const dirs = makeTestDirs();
    copyShipped(dirs);
    writeFileSync(join(dirs.data, 'state.json'), JSON.stringify({ activeProfile: 'production' }));
    const t = await createTestApp({ dirs, env: { ACTIVE_PROFILE: 'fast-only' } });
    try {
      const res = await request(t.url).get(`${P}/active`).expect(200);
      expect(res.body.activeProfile).toBe('fast-only');
      expect(res.body.profile.name).toBe('Fast only');
    } finally {
      await t.close();
      rmSync(dirs.root, { recursive: true, force: true });
    }
  });

  it('starts on development when the state file is corrupt, and rewrites it on activation', async () => {
    const dirs = makeTestDirs();
    copyShipped(dirs);
    writeFileSync(join(dirs.data, 'state.json'), '{"activeProfile": "produ');
    const t = await createTestApp({ dirs });
    try {
      expect((await request(t.url).get(`${P}/active`).expect(200)).body.activeProfile).toBe('development');
      await request(t.url).post(`${P}/fast-only/activate`).expect(200);
      expect(readState(dirs)).toEqual({ activeProfile: 'fast-only' });
    } finally {
      await t.close();
      rmSync(dirs.root, { recursive: true, force: true });
    }
  });

  it('starts without crashing when the active profile is missing, then answers profile null', async () => {
    const dirs = makeTestDirs();
    const t = await createTestApp({ dirs, env: { ACTIVE_PROFILE: 'not-there' } });
    try {
      expect((await request(t.url).get(`${P}/active`).expect(200)).body).toEqual({
        activeProfile: 'not-there',
        profile: null,
      });
      expect((await request(t.url).get(P).expect(200)).body).toEqual([]);
      // The file appearing later (hand-made) is seen without a restart.
      writeProfileFile(dirs, 'not-there', 'name: Late\nenabledModels: [a]\n');
      expect((await request(t.url).get(`${P}/active`).expect(200)).body.profile).toEqual({
        name: 'Late',
        enabledModels: ['a'],
      });
    } finally {
      await t.close();
      rmSync(dirs.root, { recursive: true, force: true });
    }
  });

  it('is 404 for a missing profile, 422 for an invalid one, 400 for a bad name — and keeps the active one', async () => {
    const dirs = makeTestDirs();
    copyShipped(dirs);
    writeProfileFile(dirs, 'bad', 'name: x\nenabledModels: []\nsurprise: 1\n');
    const t = await createTestApp({ dirs });
    try {
      expectError(await request(t.url).post(`${P}/ghost/activate`), 404, 'ProfileNotFound');
      const invalid = await request(t.url).post(`${P}/bad/activate`);
      expectError(invalid, 422, 'InvalidProfileFile');
      expect(invalid.body.details.reason).toContain('surprise');
      expectError(await request(t.url).post(`${P}/Bad/activate`), 400, 'InvalidProfileName');
      expectError(await request(t.url).post(`${P}/active/activate`), 400, 'InvalidProfileName');
      expect((await request(t.url).get(`${P}/active`).expect(200)).body.activeProfile).toBe('development');
      expect(existsSync(join(dirs.data, 'state.json'))).toBe(false);
    } finally {
      await t.close();
      rmSync(dirs.root, { recursive: true, force: true });
    }
  });

  it('shows a hand-edit of the active profile in GET /active at once', async () => {
    const dirs = makeTestDirs();
    copyShipped(dirs);
    const t = await createTestApp({ dirs });
    try {
      writeProfileFile(dirs, 'development', 'name: Edited by hand\nenabledModels: [x]\naliases: {gpt-4o: x}\n');
      expect((await request(t.url).get(`${P}/active`).expect(200)).body.profile).toEqual({
        name: 'Edited by hand',
        enabledModels: ['x'],
        aliases: { 'gpt-4o': 'x' },
      });
      writeProfileFile(dirs, 'development', 'name: Broken\nenabledModels: x: y\n');
      expect((await request(t.url).get(`${P}/active`).expect(200)).body).toEqual({
        activeProfile: 'development',
        profile: null,
      });
    } finally {
      await t.close();
      rmSync(dirs.root, { recursive: true, force: true });
    }
  });
});
