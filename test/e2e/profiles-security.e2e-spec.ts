import { randomBytes } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createTestApp, makeTestDirs, TestApp, TestDirs } from '../support/create-test-app';
import { isErrorShape } from '../support/json';

/**
 * Hostile profile names (API.md §5, issue 3): every one, on every route that takes a
 * `{name}`, is answered 400 or 404 in the error shape, and the file tree around the app's
 * temp folders is byte-for-byte (size + mtime) the same afterwards.
 *
 * The app's folders sit four levels deep inside a private sandbox, so `../` chains land
 * inside the snapshot; absolute targets carry a unique marker and are checked one by one.
 */

const P = '/api/models/profiles';
const MARKER = `magi-hostile-${randomBytes(4).toString('hex')}`;

interface RawResponse {
  status: number;
  body: unknown;
}

/** A request whose path is sent exactly as given (no URL normalisation, unlike fetch/supertest). */
function raw(base: string, method: string, path: string, body?: unknown): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        hostname,
        port,
        method,
        path,
        headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* not JSON: kept as text, the shape check below fails on it */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Every entry below `dir` (not following links) with its type, size and mtime. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const full = join(d, name);
      const st = lstatSync(full);
      const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : 'file';
      out.set(relative(dir, full), `${kind} size=${kind === 'dir' ? '-' : st.size} mtime=${st.mtimeMs}`);
      if (st.isDirectory()) visit(full);
    }
  };
  visit(dir);
  return out;
}

function diff(before: Map<string, string>, after: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of before)
    if (after.get(k) !== v) out.push(after.has(k) ? `changed ${k}: ${v} → ${after.get(k)}` : `deleted ${k}`);
  for (const k of after.keys()) if (!before.has(k)) out.push(`created ${k}`);
  return out;
}

/** Entries of the system temp folder that carry our marker (where absolute-path attacks would land). */
function markedInTmp(): string[] {
  return readdirSync(tmpdir()).filter((n) => n.includes(MARKER));
}

/** Path segments after `/api/models/profiles/`, as sent on the wire. At least 30. */
const HOSTILE: string[] = [
  '..',
  '../x',
  '../../x',
  '../data/secret',
  '..%2Fx',
  '..%2F..%2Fetc%2Fpasswd',
  '..%2F..%2F..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd',
  `..%2F..%2F..%2F..%2F..%2F..%2F..%2F..%2Ftmp%2F${MARKER}`,
  '%2e%2e',
  '%2e%2e%2fx',
  '%2E%2E%2Fdata%2Fsecret',
  '.%2e',
  '%2e',
  '.',
  '..%5Cx',
  '..%5C..%5Cx',
  '..\\x',
  'a\\b',
  'a%5Cb',
  '%2Fetc%2Fpasswd',
  `%2Ftmp%2F${MARKER}`,
  `%2F%2Ftmp%2F${MARKER}`,
  'C:%5CWindows%5Cwin.ini',
  'a/b',
  'a%2Fb',
  'data%2Fsecret',
  'x%00',
  '%00',
  'development%00.txt',
  'a%00%2F..%2Fx',
  'x'.repeat(65),
  'x'.repeat(300),
  'a'.repeat(4000),
  '.hidden',
  '.development',
  'CON',
  'nul',
  'NUL',
  'COM1',
  'LPT1',
  'aux',
  '%E2%88%95etc%E2%88%95passwd',
  '..%E2%88%95x',
  '%E2%80%A4%E2%80%A4',
  '%E2%80%A4%E2%80%A4%E2%88%95x',
  '%EF%BC%8E%EF%BC%8E',
  '%EF%BC%8E%EF%BC%8E%EF%BC%8Fx',
  '%C0%AE%C0%AE%C0%AFx',
  '%E2%80%AEx',
  '..%252F..%252Fx',
  'x.yaml',
  'development.yaml',
  'x.yml',
  '-x',
  '_x',
  'Development',
  'DEVELOPMENT',
  'a%20b',
  '%20development',
  'development%20',
  'a%0Ab',
  '~',
  '%7Eroot',
  '*',
  'dev*',
  'x%3F',
  "x'",
  'x%22',
  'x;rm',
  '%25',
  '%',
  '%zz',
  'active',
];

describe('Hostile profile names', () => {
  let sandbox: string;
  let dirs: TestDirs;
  let t: TestApp;

  beforeAll(async () => {
    sandbox = mkdtempSync(join(tmpdir(), 'magi-profiles-sec-'));
    const nest = join(sandbox, 'l1', 'l2', 'l3');
    mkdirSync(nest, { recursive: true });
    dirs = makeTestDirs(`${relative(tmpdir(), nest)}/root-`);
    // Targets a traversal would hit, at every level.
    for (const d of [sandbox, join(sandbox, 'l1'), join(sandbox, 'l1', 'l2'), nest, dirs.root, dirs.data]) {
      writeFileSync(join(d, 'x.yaml'), 'name: outside\nenabledModels: []\n');
      writeFileSync(join(d, 'x'), 'outside');
    }
    writeFileSync(join(dirs.data, 'secret.yaml'), 'name: secret\nenabledModels: []\n');
    mkdirSync(join(sandbox, 'etc'));
    writeFileSync(join(sandbox, 'etc', 'passwd'), 'root:x:0:0');
    writeFileSync(join(dirs.profiles, 'development.yaml'), 'name: Development\nenabledModels: [qwen3_4b_q4km]\n');
    writeFileSync(join(dirs.profiles, 'keep.yaml'), 'name: Keep\nenabledModels: []\n');
    t = await createTestApp({ dirs });
  });

  afterAll(async () => {
    await t?.close();
    rmSync(sandbox, { recursive: true, force: true });
    for (const n of markedInTmp()) rmSync(join(tmpdir(), n), { recursive: true, force: true });
  });

  it('has at least 30 names in the battery', () => {
    expect(HOSTILE.length).toBeGreaterThanOrEqual(30);
  });

  it('answers every hostile name 400 or 404 in the error shape on GET, PUT, DELETE and activate, touching nothing', async () => {
    const before = snapshot(sandbox);
    const passwd = statSync('/etc/passwd', { throwIfNoEntry: false });
    const body = { name: 'Hostile', enabledModels: ['x'] };
    const answers: Array<{ method: string; path: string; status: number; shape: boolean }> = [];
    for (const name of HOSTILE) {
      const calls: Array<[string, string, unknown?]> = [
        ['PUT', `${P}/${name}`, body],
        ['DELETE', `${P}/${name}`],
        ['POST', `${P}/${name}/activate`],
      ];
      // `GET …/active` is the active-profile route, not a profile.
      if (name !== 'active') calls.unshift(['GET', `${P}/${name}`]);
      for (const [method, path, b] of calls) {
        const res = await raw(t.url, method, path, b);
        answers.push({ method, path: path.slice(0, 120), status: res.status, shape: isErrorShape(res.body) });
      }
    }
    expect(answers.filter((a) => ![400, 404].includes(a.status) || !a.shape)).toEqual([]);
    expect(answers.length).toBeGreaterThanOrEqual(4 * 30);
    // Most must be refused as names, not merely unrouted.
    expect(answers.filter((a) => a.status === 400).length).toBeGreaterThan(answers.length / 2);

    expect(diff(before, snapshot(sandbox))).toEqual([]);
    expect(markedInTmp()).toEqual([]);
    expect(statSync('/etc/passwd', { throwIfNoEntry: false })?.mtimeMs).toBe(passwd?.mtimeMs);
    expect(readFileSync(join(dirs.data, 'secret.yaml'), 'utf8')).toContain('secret');
    const active = await raw(t.url, 'GET', `${P}/active`);
    expect(active.body).toEqual(expect.objectContaining({ activeProfile: 'development' }));
    expect(existsSync(join(dirs.data, 'state.json'))).toBe(false);
  });

  it('never serves a file outside the folder as a profile', async () => {
    for (const path of ['..%2Fdata%2Fsecret', '..%2F..%2Fx', '%2E%2E%2Fx', `..%2F..%2F..%2F..%2F..%2Fx`]) {
      const res = await raw(t.url, 'GET', `${P}/${path}`);
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).not.toContain('outside');
      expect(JSON.stringify(res.body)).not.toContain('"enabledModels"');
    }
  });

  it('turns hostile POSTed names into sanitized keys inside the folder, or refuses them', async () => {
    const before = snapshot(sandbox);
    const profilesBefore = new Set(readdirSync(dirs.profiles));
    const names = [
      '../x',
      '../../etc/passwd',
      `/tmp/${MARKER}`,
      '..\\..\\x',
      'a/b',
      'C:\\Windows\\win.ini',
      '..',
      '.',
      '.hidden',
      'x.yaml',
      'keep',
      'development',
      'a\u0000b',
      '\u0000',
      'CON',
      'nul',
      'a\u2215b',
      '\u2024\u2024\u2215x',
      '\uff0e\uff0e\uff0fx',
      '\u202ex',
      'x'.repeat(64),
      'x'.repeat(65),
      '-x-',
      '_x',
      'Active',
      '%2e%2e%2fx',
      'a\nb',
      '~root',
      '*',
      'Ünïcödé',
    ];
    const created: string[] = [];
    for (const name of names) {
      const res = await raw(t.url, 'POST', P, { name, enabledModels: [] });
      expect({
        name,
        ok: [201, 400, 409].includes(res.status),
        shape: res.status === 201 || isErrorShape(res.body),
      }).toEqual({
        name,
        ok: true,
        shape: true,
      });
      if (res.status === 201) {
        const b = res.body as { profileName: string; path: string };
        expect(b.profileName).toMatch(/^[a-z0-9][a-z0-9_-]{0,63}$/);
        expect(b.path).toBe(`${b.profileName}.yaml`);
        expect(existsSync(join(dirs.profiles, b.path))).toBe(true);
        created.push(b.path);
      }
    }
    expect(created.length).toBeGreaterThan(10);
    // Outside the profiles folder nothing changed; inside it only the new `<key>.yaml` files appeared.
    const after = snapshot(sandbox);
    const profilesRel = relative(sandbox, dirs.profiles);
    const outside = (m: Map<string, string>) =>
      new Map([...m].filter(([k]) => k !== profilesRel && !k.startsWith(`${profilesRel}/`)));
    expect(diff(outside(before), outside(after))).toEqual([]);
    expect(markedInTmp()).toEqual([]);
    const added = readdirSync(dirs.profiles)
      .filter((f) => !profilesBefore.has(f))
      .sort();
    expect(added).toEqual([...created].sort());
    for (const f of added) expect(f).toMatch(/^[a-z0-9][a-z0-9_-]{0,63}\.yaml$/);
    expect(readFileSync(join(dirs.profiles, 'development.yaml'), 'utf8')).toContain('qwen3_4b_q4km');
  });
});
