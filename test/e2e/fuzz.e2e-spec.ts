/**
 * Fuzz: thousands of generated bad requests across every route of the OpenAPI document.
 * Asserts zero 5xx, the error shape on every 4xx (OpenAI's under /v1), the server still
 * live, and no file changed outside the test's own temp folders.
 */
import { readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { HubFixture, startHubFixture } from '../fixtures/hub-fixture';
import { createTestApp, makeTestDirs, TestApp } from '../support/create-test-app';
import { generateCorpus } from '../support/corpus';
import { diffSnapshots, snapshotTree } from '../support/fs-snapshot';
import { isErrorShape } from '../support/json';
import { recordFigures } from '../support/figures';
import { startOllamaFixture } from '../fixtures/ollama-fixture';

interface Case {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  label: string;
}

interface Outcome {
  c: Case;
  status: number;
  body: string;
}

const HOSTILE_SEGMENTS = [
  '..',
  '%2e%2e',
  '..%2F..%2Fetc%2Fpasswd',
  '%2e%2e%2f%2e%2e%2fetc',
  '%00',
  'a%00b',
  '%ff%fe',
  'x'.repeat(3000),
  '%E2%88%95etc',
  '%EF%BC%8E%EF%BC%8E',
  'CON',
  '.hidden',
  '-',
  '_x',
  'A',
  '%20',
  "'%20OR%201=1",
  '%3Cscript%3E',
  '%5C..%5Cwin',
  '0',
  '-1',
  '1e309',
  'null',
  'true',
  '%7B%7D',
  '*',
  '%2A',
  'a;b',
  'fast%0d%0aX:1',
];

const BAD_BODIES: Array<[string, string]> = [
  ['invalid JSON', '{"a":'],
  ['invalid JSON 2', '{a:1}'],
  ['trailing garbage', '{"a":1}xyz'],
  ['a number', '42'],
  ['a string', '"hello"'],
  ['null', 'null'],
  ['true', 'true'],
  ['an array', '[1,2,3]'],
  ['array of objects', '[{"name":"x"}]'],
  ['empty object', '{}'],
  ['unknown keys', '{"zzz":1,"__proto__":{"polluted":1}}'],
  ['prototype pollution', '{"constructor":{"prototype":{"polluted":1}}}'],
  [
    'wrong types',
    '{"tier":5,"thinking":"yes","enabled":"no","name":123,"enabledModels":"x","model":7,"messages":"hi"}',
  ],
  ['nulls', '{"tier":null,"thinking":null,"enabled":null,"name":null,"model":null}'],
  [
    'nested wrong',
    '{"name":"x","enabledModels":[1,{"a":2}],"tierConfig":"no","server":{"ctxSize":"big","extraArgs":[1]}}',
  ],
  [
    'negative numbers',
    '{"name":"neg","enabledModels":[],"server":{"ctxSize":-5,"parallel":-1},"loadBalancing":{"enabled":true,"strategy":"round_robin","healthCheckInterval":-3}}',
  ],
  [
    'bad enum',
    '{"name":"e","enabledModels":[],"loadBalancing":{"enabled":true,"strategy":"fastest","healthCheckInterval":1}}',
  ],
  ['deep nesting', `${'['.repeat(5000)}${']'.repeat(5000)}`],
  ['deep objects', `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`],
  ['long string', JSON.stringify({ name: 'n'.repeat(200_000), tier: 't'.repeat(200_000), model: 'm'.repeat(200_000) })],
  ['unicode junk', '{"name":"\\u0000\\ud800","tier":"\\u202efast","model":"\\u0000"}'],
  ['huge number', '{"tier":1e400,"enabled":1e400,"max_tokens":1e400}'],
  ['many keys', JSON.stringify(Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i])))],
  ['model only wrong', '{"model":["a"],"messages":[{"role":1}]}'],
  ['gateway unknown model', '{"model":"fuzz-unknown-model","messages":[{"role":"user","content":"hi"}]}'],
  ['gateway no model', '{"messages":[{"role":"user","content":"hi"}]}'],
];

const CONTENT_TYPES = [
  'text/plain',
  'application/xml',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded',
  'application/json; charset=ebcdic',
  'application/octet-stream',
];
const ODD_METHODS = ['PATCH', 'DELETE', 'PUT', 'POST', 'GET', 'OPTIONS', 'PROPFIND', 'HEAD'];

function send(base: URL, c: Case): Promise<Outcome> {
  return new Promise((resolvePromise) => {
    const body = c.body === undefined ? undefined : Buffer.isBuffer(c.body) ? c.body : Buffer.from(c.body);
    const headers: Record<string, string | number> = { connection: 'close', ...(c.headers ?? {}) };
    if (body) {
      headers['content-length'] = body.length;
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
        headers['content-type'] = 'application/json';
    }
    let req;
    try {
      req = httpRequest({ host: base.hostname, port: base.port, method: c.method, path: c.path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () =>
          resolvePromise({ c, status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', () => resolvePromise({ c, status: res.statusCode ?? 0, body: '' }));
      });
    } catch (e) {
      // Node refused to send it (e.g. an unescaped character): not a server answer.
      return resolvePromise({ c, status: -1, body: String(e) });
    }
    req.setTimeout(15_000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolvePromise({ c, status: -2, body: String(e) }));
    if (body) req.write(body);
    req.end();
  });
}

async function runAll(base: URL, cases: Case[], concurrency: number): Promise<Outcome[]> {
  const out: Outcome[] = [];
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < cases.length) out.push(await send(base, cases[i++]));
    }),
  );
  return out;
}

/** Deterministic PRNG (mulberry32) so a failing case can be reproduced. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(20261123);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
const KEYS = [
  'name',
  'tier',
  'thinking',
  'enabled',
  'model',
  'messages',
  'prompt',
  'input',
  'stream',
  'enabledModels',
  'server',
  'aliases',
  'tierConfig',
  'twoStage',
  'loadBalancing',
  'description',
  'x',
  '',
  ' ',
];

/** A random JSON value: wrong types, odd strings, nesting. */
function randomValue(depth = 0): unknown {
  const r = rand();
  if (depth > 3 || r < 0.35)
    return pick([
      0,
      -1,
      1.5,
      1e21,
      true,
      false,
      null,
      '',
      'fast',
      'x'.repeat(Math.floor(rand() * 300)),
      '\u0000',
      '../../etc/passwd',
      '<think>',
      '%00',
    ]);
  if (r < 0.65) return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(depth + 1));
  return Object.fromEntries(Array.from({ length: Math.floor(rand() * 5) }, () => [pick(KEYS), randomValue(depth + 1)]));
}

/** A random path segment: printable junk, percent-encoded bytes, dots and slashes. */
function randomSegment(): string {
  const len = 1 + Math.floor(rand() * 40);
  let s = '';
  for (let i = 0; i < len; i++) {
    const r = rand();
    s +=
      r < 0.3
        ? '%' +
          Math.floor(rand() * 256)
            .toString(16)
            .padStart(2, '0')
        : r < 0.4
          ? '.'
          : r < 0.45
            ? '%2F'
            : String.fromCharCode(97 + Math.floor(rand() * 26));
  }
  return s;
}

/** Builds the cases for one operation of the OpenAPI document. */
function casesFor(method: string, template: string, valid: Record<string, string>): Case[] {
  const params = [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
  const fill = (over: Record<string, string> = {}): string =>
    template.replace(/\{(\w+)\}/g, (_, p: string) => over[p] ?? valid[p] ?? 'x');
  const M = method.toUpperCase();
  const cases: Case[] = [];
  for (const p of params) {
    for (const seg of HOSTILE_SEGMENTS)
      cases.push({ method: M, path: fill({ [p]: seg }), label: `${M} ${template} ${p}=${seg.slice(0, 20)}` });
    for (let i = 0; i < 25; i++)
      cases.push({ method: M, path: fill({ [p]: randomSegment() }), label: `${M} ${template} ${p}=random #${i}` });
  }
  if (M !== 'GET' && M !== 'DELETE') {
    for (let i = 0; i < 80; i++) {
      const v = randomValue();
      cases.push({
        method: M,
        path: fill(),
        body: JSON.stringify(v) ?? 'null',
        label: `${M} ${template} random body #${i}`,
      });
    }
  }
  if (M !== 'GET' && M !== 'DELETE') {
    for (const [label, body] of BAD_BODIES)
      cases.push({ method: M, path: fill(), body, label: `${M} ${template} body: ${label}` });
    for (const ct of CONTENT_TYPES)
      cases.push({
        method: M,
        path: fill(),
        body: '{"name":"x","tier":"fast"}',
        headers: { 'content-type': ct },
        label: `${M} ${template} content-type ${ct}`,
      });
  } else {
    cases.push({ method: M, path: fill(), body: '{"unexpected":', label: `${M} ${template} with a broken body` });
  }
  for (const odd of ODD_METHODS.filter((m) => m !== M))
    cases.push({ method: odd, path: fill(), label: `${odd} on ${M} ${template}` });
  cases.push({
    method: M,
    path: `${fill()}?lines=-1&lines=abc&x[y]=1&__proto__=1`,
    label: `${M} ${template} odd query`,
  });
  cases.push({
    method: M,
    path: fill(),
    headers: { 'x-long': 'a'.repeat(20_000) },
    label: `${M} ${template} over-long header`,
  });
  cases.push({
    method: M,
    path: fill(),
    headers: { authorization: 'Bearer ' + 'z'.repeat(5000) },
    label: `${M} ${template} long bearer`,
  });
  cases.push({
    method: M,
    path: fill(),
    headers: { accept: 'text/event-stream' },
    body: M === 'GET' ? undefined : '[]',
    label: `${M} ${template} SSE accept`,
  });
  return cases;
}

describe('Fuzz: bad requests across every route', () => {
  let t: TestApp;
  let ollama: Awaited<ReturnType<typeof startOllamaFixture>>;
  let hub: HubFixture;
  const projectRoot = resolve(__dirname, '..', '..');

  beforeAll(async () => {
    ollama = await startOllamaFixture();
    // The hub routes reach a hub (the fake one): valid names get its answers, never a 5xx.
    hub = await startHubFixture();
    const dirs = makeTestDirs('magi-fuzz-');
    await generateCorpus(dirs.models, { only: ['Qwen3-4B-Q4_K_M.gguf', 'phi-4-Q4_K_M.gguf'] });
    t = await createTestApp({
      dirs,
      env: { LLM_PROVIDER: 'ollama', OLLAMA_BASE_URL: ollama.url, PROVIDER_TIMEOUT_MS: '300', HF_ENDPOINT: hub.url },
    });
    // A profile to aim valid names at (never the active one, so a DELETE may remove it).
    const created = await fetch(`${t.url}/api/models/profiles`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'fuzzed',
        enabledModels: [],
        twoStage: { enabled: false, stage1Tier: 'balanced', stage2Tier: 'powerful', stage1MaxTokens: 100 },
        loadBalancing: { enabled: true, strategy: 'round_robin', healthCheckInterval: 30 },
      }),
    });
    expect(created.status).toBe(201);
  });

  afterAll(async () => {
    await t?.close();
    await ollama?.close();
    await hub?.close();
  });

  it('answers 2,000+ generated bad requests with 4xx in the error shape, never 5xx, and touches no file outside its folders', async () => {
    const doc = (await (await fetch(`${t.url}/docs-json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const valid: Record<string, string> = {
      modelId: 'qwen3_4b_q4km',
      name: 'fuzzed',
      tier: 'fast',
      modelName: 'library/llama3.2:1b',
    };
    const cases: Case[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) cases.push(...casesFor(method, path, valid));
    }
    // Unknown routes, under each prefix.
    for (const p of [
      '/api/nope',
      '/v1/nope',
      '/api/models/registry/a/b/c',
      '/health/nope',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/docs/../../etc/passwd',
    ]) {
      for (const m of ['GET', 'POST', 'PUT', 'DELETE'])
        cases.push({ method: m, path: p, body: m === 'GET' ? undefined : '{}', label: `${m} unknown ${p}` });
    }
    expect(cases.length).toBeGreaterThanOrEqual(2000);

    const before = new Map([
      ...snapshotTree(projectRoot, ['node_modules', '.git', 'test-results', 'dist', 'coverage', '.test-dist']),
      ...topLevel(tmpdir()),
    ]);

    const outcomes = await runAll(new URL(t.url), cases, 8);

    const sent = outcomes.filter((o) => o.status > 0);
    const serverErrors = sent.filter((o) => o.status >= 500);
    const unshaped = sent.filter(
      (o) => o.status >= 400 && o.status < 500 && o.c.method !== 'HEAD' && !hasErrorShape(o),
    );
    const notRefused = sent.filter((o) => o.status < 400 && isBadByConstruction(o.c));
    recordFigures('fuzz', {
      casesGenerated: cases.length,
      requestsAnswered: sent.length,
      serverErrors: serverErrors.length,
      unshaped4xx: unshaped.length,
    });
    expect(sent.length).toBeGreaterThanOrEqual(2000);
    expect(serverErrors.map((o) => `${o.status} ${o.c.label}: ${o.body.slice(0, 200)}`)).toEqual([]);
    expect(unshaped.map((o) => `${o.status} ${o.c.label}: ${o.body.slice(0, 200)}`)).toEqual([]);
    expect(notRefused.map((o) => `${o.status} ${o.c.label}`)).toEqual([]);

    expect((await fetch(`${t.url}/health/live`)).status).toBe(200);
    const after = new Map([
      ...snapshotTree(projectRoot, ['node_modules', '.git', 'test-results', 'dist', 'coverage', '.test-dist']),
      ...topLevel(tmpdir()),
    ]);
    // Suites running alongside create and remove their own temp folders in the temp dir
    // meanwhile (stand-in models, Chromium profiles, ...); the server creates no folder
    // from request input, so folders coming and going there are theirs. Files are ours to explain.
    const tmp = tmpdir();
    const theirs = (d: string): boolean => {
      const m = /^(created|deleted) (.*)$/.exec(d);
      if (!m || dirname(m[2]) !== tmp) return false;
      return (m[1] === 'created' ? after : before).get(m[2]) === 'dir' || /^(magi-|jest_|tmp-|\.)/.test(basename(m[2]));
    };
    const changed = diffSnapshots(before, after).filter((d) => !theirs(d));
    expect(changed).toEqual([]);
  }, 240_000);
});

/** Top-level entries of a folder (other suites' temp folders come and go; their insides are theirs). */
/** The entries right under `dir`, each marked `dir` or `file`. */
function topLevel(dir: string): Map<string, string> {
  return new Map(
    readdirSync(dir, { withFileTypes: true }).map((e) => [join(dir, e.name), e.isDirectory() ? 'dir' : 'file']),
  );
}

function hasErrorShape(o: Outcome): boolean {
  let body: unknown;
  try {
    body = JSON.parse(o.body);
  } catch {
    return false;
  }
  const path = o.c.path;
  if (path === '/v1' || path.startsWith('/v1/')) {
    const e = (body as { error?: Record<string, unknown> }).error;
    return !!e && typeof e.message === 'string' && typeof e.type === 'string' && 'code' in e;
  }
  return isErrorShape(body);
}

/** Cases that can only be wrong: hostile path segments, broken bodies, wrong methods. */
function isBadByConstruction(c: Case): boolean {
  return /body: (invalid JSON|trailing garbage)|=\.\.$|=%00$/.test(c.label);
}
