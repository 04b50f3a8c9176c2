import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseProfileYaml, serializeProfile, validateProfile } from './profile-file';
import { DEFAULT_IDLE_TIMEOUT_SECONDS } from './profile.types';
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

  it("development.yaml's commented scheduling example is valid once uncommented", () => {
    const text = readFileSync(join(SHIPPED, 'development.yaml'), 'utf8');
    const uncommented = text.replace(
      /^# (onDemand:| {2}models:| {2}idleTimeoutSeconds:|memoryBudget:|maxRunning:)/gm,
      '$1',
    );
    const parsed = parseProfileYaml(uncommented);
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(parsed.profile).toMatchObject({
      onDemand: { models: ['qwen3_*'], idleTimeoutSeconds: 600 },
      memoryBudget: '8GiB',
      maxRunning: 2,
    });
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
      onDemand: { models: ['qwen3_*', 'gemma_3_12b_q4km'], idleTimeoutSeconds: 900 },
      memoryBudget: '24GiB',
      maxRunning: 4,
    };
    const parsed = parseProfileYaml(serializeProfile(profile));
    expect(parsed).toEqual({ ok: true, profile });
  });

  it('reads the scheduling keys of API.md §9, filling idleTimeoutSeconds with 600 when absent', () => {
    const parsed = parseProfileYaml(
      'name: a\nenabledModels: ["*"]\nonDemand:\n  models: ["qwen3_*"]\nmemoryBudget: off\nmaxRunning: 2\n',
    );
    expect(parsed).toEqual({
      ok: true,
      profile: {
        name: 'a',
        enabledModels: ['*'],
        onDemand: { models: ['qwen3_*'], idleTimeoutSeconds: DEFAULT_IDLE_TIMEOUT_SECONDS },
        memoryBudget: 'off',
        maxRunning: 2,
      },
    });
    expect(DEFAULT_IDLE_TIMEOUT_SECONDS).toBe(600);
    const nullIdle = parseProfileYaml('name: a\nenabledModels: []\nonDemand: {models: [], idleTimeoutSeconds: ~}');
    expect(nullIdle.ok && nullIdle.profile.onDemand).toEqual({ models: [], idleTimeoutSeconds: 600 });
  });

  it.each(['24GiB', '16000MiB', '1.5 GB', 'auto', 'AUTO', 'off', '512MB'])('accepts memoryBudget %s', (budget) => {
    expect(validateProfile({ ...minimal, memoryBudget: budget })).toEqual({
      ok: true,
      profile: { ...minimal, memoryBudget: budget },
    });
  });

  it.each([
    [
      'a size without a unit',
      'memoryBudget: "24"',
      'memoryBudget: Invalid memoryBudget: 24. Must be a number and a unit',
    ],
    ['a YAML number', 'memoryBudget: 24', 'memoryBudget: memoryBudget must be a size with a unit (such as 24GiB'],
    ['a size without a number', 'memoryBudget: GiB', 'memoryBudget: Invalid memoryBudget: GiB.'],
    ['a budget of 0', 'memoryBudget: 0GiB', 'A budget of 0 admits no model; write off for none'],
    ['an unknown unit', 'memoryBudget: 24 gigs', 'memoryBudget: Invalid memoryBudget: 24 gigs.'],
    ['a negative size', 'memoryBudget: -1GiB', 'memoryBudget: Invalid memoryBudget: -1GiB.'],
    ['a list as memoryBudget', 'memoryBudget: [24GiB]', 'memoryBudget: memoryBudget must be a size with a unit'],
    ['maxRunning 0', 'maxRunning: 0', 'maxRunning'],
    ['a fractional maxRunning', 'maxRunning: 1.5', 'maxRunning'],
    ['a string maxRunning', 'maxRunning: "4"', 'maxRunning'],
    ['onDemand without models', 'onDemand: {idleTimeoutSeconds: 60}', 'onDemand.models'],
    ['onDemand as a list', 'onDemand: [qwen3_*]', 'onDemand'],
    ['onDemand.models as a string', 'onDemand: {models: qwen3_*}', 'onDemand.models'],
    ['a bad onDemand pattern', 'onDemand: {models: [../x]}', 'onDemand.models'],
    ['idleTimeoutSeconds 0', 'onDemand: {models: [], idleTimeoutSeconds: 0}', 'onDemand.idleTimeoutSeconds'],
    [
      'a fractional idleTimeoutSeconds',
      'onDemand: {models: [], idleTimeoutSeconds: 0.5}',
      'onDemand.idleTimeoutSeconds',
    ],
    ['an unknown onDemand key', 'onDemand: {models: [], idleTimeout: 60}', 'onDemand.idleTimeout'],
  ])('refuses %s', (_what, line, reason) => {
    const parsed = parseProfileYaml(`name: a\nenabledModels: []\n${line}\n`);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(reason);
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
    const all = validateProfile({
      maxRunning: 1,
      memoryBudget: 'off',
      onDemand: { idleTimeoutSeconds: 5, models: [] },
      aliases: {},
      server: {},
      enabledModels: [],
      name: 'n',
    });
    expect(all.ok && Object.keys(all.profile)).toEqual([
      'name',
      'enabledModels',
      'server',
      'aliases',
      'onDemand',
      'memoryBudget',
      'maxRunning',
    ]);
    expect(all.ok && Object.keys(all.profile.onDemand!)).toEqual(['models', 'idleTimeoutSeconds']);
  });

  it('caps sizes', () => {
    expect(validateProfile({ ...minimal, description: 'x'.repeat(2001) }).ok).toBe(false);
    expect(validateProfile({ ...minimal, enabledModels: Array(1001).fill('a') }).ok).toBe(false);
    expect(validateProfile({ ...minimal, server: { extraArgs: Array(65).fill('a') } }).ok).toBe(false);
    expect(validateProfile({ ...minimal, name: 'x'.repeat(201) }).ok).toBe(false);
    expect(validateProfile({ ...minimal, onDemand: { models: Array(1001).fill('a') } }).ok).toBe(false);
    const long = validateProfile({ ...minimal, memoryBudget: `${'1'.repeat(100_000)}GiB` });
    expect(long.ok).toBe(false);
    if (!long.ok) expect(long.reason.length).toBeLessThan(1000);
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
