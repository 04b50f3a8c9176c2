import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseProfileYaml, serializeProfile, validateProfile } from './profile-file';
import { plainShapeProblem } from '../common/validation/plain-shape';

const SHIPPED = join(__dirname, '..', '..', 'profiles');

const minimal = { name: 'X', enabledModels: ['a'] };

describe('shipped profiles', () => {
  it('ships development, fast-only and production', () => {
    expect(
      readdirSync(SHIPPED)
        .filter((f) => f.endsWith('.yaml'))
        .sort(),
    ).toEqual(['development.yaml', 'fast-only.yaml', 'production.yaml']);
  });

  it.each(['development', 'fast-only', 'production'])('%s.yaml is a valid, commented profile', (key) => {
    const text = readFileSync(join(SHIPPED, `${key}.yaml`), 'utf8');
    const parsed = parseProfileYaml(text);
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(parsed.profile.enabledModels.length).toBeGreaterThan(0);
    expect(parsed.profile.aliases).toBeDefined();
    expect(text.split('\n').filter((l) => l.trim().startsWith('#')).length).toBeGreaterThan(3);
  });
});

describe('parseProfileYaml', () => {
  it('round-trips what serializeProfile writes', () => {
    const profile = {
      name: 'a: b # not a comment\n"quoted"',
      description: 'x '.repeat(900),
      enabledModels: ['*_q4km', 'qwen3_?b_q4km'],
      tierConfig: [{ name: 'fast' as const, maxScore: 3, expectedTimeSeconds: 2 }],
      server: { gpuLayers: 'all' as const, extraArgs: ['yes', 'null', '0x10', '~', ''] },
      aliases: { 'gpt-4o': 'fast', 'a b': 'yes' },
    };
    const parsed = parseProfileYaml(serializeProfile(profile));
    expect(parsed).toEqual({ ok: true, profile });
  });

  it.each([
    ['not YAML', 'name: [unclosed', 'not valid YAML'],
    ['a scalar', 'just text', 'must be a mapping'],
    ['a list', '- a\n- b', 'must be a mapping'],
    ['duplicate keys', 'name: a\nname: b\nenabledModels: []', 'not valid YAML'],
    ['a custom tag', 'name: !!js/function "x"\nenabledModels: []', 'not valid YAML'],
    ['an unknown key', 'name: a\nenabledModels: []\nenabledModel: [x]', 'enabledModel'],
    ['a nested unknown key', 'name: a\nenabledModels: []\nserver: {ctxSize: 1, gpu_layers: 2}', 'server.gpu_layers'],
    [
      'a bad tier',
      'name: a\nenabledModels: []\ntierConfig: [{name: huge, maxScore: 1, expectedTimeSeconds: 1}]',
      'tierConfig[0].name',
    ],
    [
      'a negative number',
      'name: a\nenabledModels: []\ntierConfig: [{name: fast, maxScore: -1, expectedTimeSeconds: 1}]',
      'maxScore',
    ],
    [
      'a zero stage1MaxTokens',
      'name: a\nenabledModels: []\ntwoStage: {enabled: true, stage1Tier: fast, stage2Tier: powerful, stage1MaxTokens: 0}',
      'stage1MaxTokens',
    ],
    [
      'a fractional stage1MaxTokens',
      'name: a\nenabledModels: []\ntwoStage: {enabled: true, stage1Tier: fast, stage2Tier: powerful, stage1MaxTokens: 1.5}',
      'stage1MaxTokens',
    ],
    [
      'a bad strategy',
      'name: a\nenabledModels: []\nloadBalancing: {enabled: true, strategy: fastest, healthCheckInterval: 1}',
      'strategy',
    ],
    ['non-string extraArgs', 'name: a\nenabledModels: []\nserver: {extraArgs: [1]}', 'server.extraArgs'],
    ['a bad gpuLayers', 'name: a\nenabledModels: []\nserver: {gpuLayers: some}', 'server.gpuLayers'],
    ['a non-string alias', 'name: a\nenabledModels: []\naliases: {x: [1]}', 'aliases'],
    ['a missing name', 'enabledModels: []', 'name'],
    ['a missing enabledModels', 'name: a', 'enabledModels'],
    ['deep nesting', `name: a\nenabledModels: []\nx: ${'['.repeat(200)}${']'.repeat(200)}`, 'not valid YAML'],
    [
      'an alias bomb',
      `a: &a [x, x, x, x, x, x, x, x, x, x]\n${Array.from(
        { length: 8 },
        (_, i) =>
          `b${i}: &b${i} [${Array(10)
            .fill(i ? `*b${i - 1}` : '*a')
            .join(', ')}]`,
      ).join('\n')}`,
      'values',
    ],
  ])('refuses %s', (_what, text, reason) => {
    const parsed = parseProfileYaml(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(reason);
  });

  it('treats YAML 1.1 words as strings and nulls of optional keys as absent', () => {
    const parsed = parseProfileYaml('name: yes\ndescription: ~\nenabledModels: [on]');
    expect(parsed).toEqual({ ok: true, profile: { name: 'yes', enabledModels: ['on'] } });
  });
});

describe('validateProfile', () => {
  it('keeps known keys only, in the canonical order', () => {
    const r = validateProfile({ aliases: { a: 'b' }, enabledModels: [], name: 'n' });
    expect(r.ok && Object.keys(r.profile)).toEqual(['name', 'enabledModels', 'aliases']);
  });

  it('caps sizes', () => {
    expect(validateProfile({ ...minimal, description: 'x'.repeat(2001) }).ok).toBe(false);
    expect(validateProfile({ ...minimal, enabledModels: Array(1001).fill('a') }).ok).toBe(false);
    expect(validateProfile({ ...minimal, server: { extraArgs: Array(65).fill('a') } }).ok).toBe(false);
    expect(validateProfile({ ...minimal, name: 'x'.repeat(201) }).ok).toBe(false);
  });
});

describe('plainShapeProblem', () => {
  it('refuses deep, huge and __proto__-carrying values without recursing', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(plainShapeProblem({ x: deep })).toContain('nested deeper');
    expect(plainShapeProblem({ x: Array(60_000).fill(1) })).toContain('more than');
    expect(plainShapeProblem(JSON.parse('{"a": {"__proto__": {"x": 1}}}'))).toContain('__proto__');
    expect(plainShapeProblem({ a: [{ b: { c: ['d'] } }] })).toBeNull();
  });
});
