import {
  groupGgufFiles,
  HubGgufGroup,
  HubTreeEntry,
  isProjectorName,
  pickGroup,
  pickProjector,
  quantizationOfPath,
} from './hub-files';

const sha = (c: string) => c.repeat(64);
const file = (path: string, size = 100, oid: string | null = sha('a')): HubTreeEntry => ({
  type: 'file',
  path,
  size: 134,
  oid: '1'.repeat(40),
  ...(oid ? { lfs: { oid, size, pointerSize: 134 } } : {}),
});

describe('groupGgufFiles', () => {
  it('counts a split once, with its shards in order and sizes summed', () => {
    const sut = groupGgufFiles([
      file('Llama-70B-Q4_K_M-00002-of-00003.gguf', 20, sha('b')),
      file('Llama-70B-Q4_K_M-00001-of-00003.gguf', 10, sha('a')),
      file('Llama-70B-Q4_K_M-00003-of-00003.gguf', 30, sha('c')),
    ]);
    expect(sut).toEqual([
      {
        path: 'Llama-70B-Q4_K_M-00001-of-00003.gguf',
        files: [
          { path: 'Llama-70B-Q4_K_M-00001-of-00003.gguf', sizeBytes: 10, sha256: sha('a') },
          { path: 'Llama-70B-Q4_K_M-00002-of-00003.gguf', sizeBytes: 20, sha256: sha('b') },
          { path: 'Llama-70B-Q4_K_M-00003-of-00003.gguf', sizeBytes: 30, sha256: sha('c') },
        ],
        sizeBytes: 60,
        quantization: 'Q4_K_M',
        shards: [
          'Llama-70B-Q4_K_M-00001-of-00003.gguf',
          'Llama-70B-Q4_K_M-00002-of-00003.gguf',
          'Llama-70B-Q4_K_M-00003-of-00003.gguf',
        ],
        isProjector: false,
      },
    ]);
  });

  it('leaves out a split missing a shard, and keeps splits of different folders apart', () => {
    const sut = groupGgufFiles([
      file('a/M-Q8_0-00001-of-00002.gguf'),
      file('b/M-Q8_0-00001-of-00002.gguf'),
      file('b/M-Q8_0-00002-of-00002.gguf'),
    ]);
    expect(sut.map((g) => g.shards)).toEqual([['b/M-Q8_0-00001-of-00002.gguf', 'b/M-Q8_0-00002-of-00002.gguf']]);
  });

  it('keeps GGUF files only, flags projectors, reads sizes and sha256 from lfs', () => {
    const sut = groupGgufFiles([
      { type: 'directory', path: 'Q4_K_M', oid: 'x', size: 0 },
      file('README.md', 5, null),
      file('.gitattributes', 5, null),
      file('mmproj-gemma-3-12b-it-f16.gguf', 50, sha('D')),
      file('gemma-3-12b-it-Q4_K_M.gguf', 70, sha('e')),
      file('tiny.gguf', 7, null),
    ]);
    expect(sut.map((g) => [g.path, g.quantization, g.isProjector, g.sizeBytes, g.files[0].sha256])).toEqual([
      ['gemma-3-12b-it-Q4_K_M.gguf', 'Q4_K_M', false, 70, sha('e')],
      ['mmproj-gemma-3-12b-it-f16.gguf', 'F16', true, 50, sha('d')],
      ['tiny.gguf', null, false, 134, null],
    ]);
  });
});

describe('quantizationOfPath / isProjectorName', () => {
  it.each([
    ['Qwen3-4B-Q4_K_M.gguf', 'Q4_K_M'],
    ['Q5_K_S/model-00001-of-00002.gguf', 'Q5_K_S'],
    ['model-IQ3_XXS.gguf', 'IQ3_XXS'],
    ['model-bf16.gguf', 'BF16'],
    ['model.gguf', null],
  ])('%s → %s', (p, q) => expect(quantizationOfPath(p)).toBe(q));

  it.each([
    ['mmproj-F16.gguf', true],
    ['gemma-3-mmproj-f16.gguf', true],
    ['sub/mmproj.gguf', true],
    ['mmprojector-notes.gguf', false],
    ['Qwen3-4B-Q4_K_M.gguf', false],
  ])('%s projector: %s', (p, want) => expect(isProjectorName(p)).toBe(want));
});

describe('pickGroup', () => {
  const groups = groupGgufFiles([
    file('M-Q4_K_M.gguf'),
    file('M-Q4_K_S.gguf'),
    file('M-Q8_0-00001-of-00002.gguf'),
    file('M-Q8_0-00002-of-00002.gguf'),
    file('mmproj-M-F16.gguf'),
    file('M-F16.gguf'),
    file('other/M-Q5_K_M.gguf'),
    file('again/M-Q5_K_M.gguf'),
  ]);

  it('picks the one file of a quantization, written any case', () => {
    const r = pickGroup(groups, { quantization: 'q4_k_m' });
    expect(r.ok && r.group.path).toBe('M-Q4_K_M.gguf');
  });

  it('does not take Q4_K for Q4_K_M', () => {
    expect(pickGroup(groups, { quantization: 'Q4_K' })).toMatchObject({ ok: false, reason: 'no-match' });
  });

  it('picks a whole split by its quantization or by any shard path', () => {
    for (const choice of [{ quantization: 'Q8_0' }, { file: 'M-Q8_0-00002-of-00002.gguf' }]) {
      const r = pickGroup(groups, choice);
      expect(r.ok && r.group.shards).toEqual(['M-Q8_0-00001-of-00002.gguf', 'M-Q8_0-00002-of-00002.gguf']);
    }
  });

  it('leaves projectors out of a quantization choice, and picks them by path', () => {
    const r = pickGroup(groups, { quantization: 'F16' });
    expect(r.ok && r.group.path).toBe('M-F16.gguf');
    const p = pickGroup(groups, { file: 'mmproj-M-F16.gguf' });
    expect(p.ok && p.group.isProjector).toBe(true);
  });

  it('refuses several matches, naming them', () => {
    expect(pickGroup(groups, { quantization: 'Q5_K_M' })).toEqual({
      ok: false,
      reason: 'several-match',
      candidates: ['again/M-Q5_K_M.gguf', 'other/M-Q5_K_M.gguf'],
    });
  });

  it('refuses nothing named, both named, and an unknown file', () => {
    expect(pickGroup(groups, {})).toMatchObject({ ok: false, reason: 'nothing-named' });
    expect(pickGroup(groups, { file: 'M-F16.gguf', quantization: 'F16' })).toMatchObject({
      ok: false,
      reason: 'both-named',
    });
    expect(pickGroup(groups, { file: 'README.md' })).toMatchObject({ ok: false, reason: 'no-match' });
  });
});

describe('pickProjector', () => {
  /** The projector picked for `model` among `paths` (a repository's files), by path; null for none. */
  function projectorOf(model: string, paths: string[]): string | null {
    const groups = groupGgufFiles(paths.map((p) => file(p)));
    const wanted: HubGgufGroup = groups.find((g) => g.files.some((f) => f.path === model))!;
    return pickProjector(groups, wanted)?.path ?? null;
  }

  it('takes the one projector of the repository', () => {
    expect(
      projectorOf('gemma-3-12b-it-Q4_K_M.gguf', ['gemma-3-12b-it-Q4_K_M.gguf', 'mmproj-gemma-3-12b-it-f16.gguf']),
    ).toBe('mmproj-gemma-3-12b-it-f16.gguf');
  });

  it('takes a projector whose name names no model', () => {
    expect(
      projectorOf('Mistral-Small-3.1-24B-Q4_K_M.gguf', ['Mistral-Small-3.1-24B-Q4_K_M.gguf', 'mmproj-F16.gguf']),
    ).toBe('mmproj-F16.gguf');
    expect(
      projectorOf('llava-v1.6-mistral-7b.Q4_K_M.gguf', ['llava-v1.6-mistral-7b.Q4_K_M.gguf', 'mmproj-model-f16.gguf']),
    ).toBe('mmproj-model-f16.gguf');
  });

  it('prefers F16, then BF16, then F32, then any other', () => {
    const model = 'Qwen2.5-VL-7B-Instruct-Q4_K_M.gguf';
    const all = ['mmproj-F32.gguf', 'mmproj-BF16.gguf', 'mmproj-Q8_0.gguf', 'mmproj-F16.gguf'];
    expect(projectorOf(model, [model, ...all])).toBe('mmproj-F16.gguf');
    expect(projectorOf(model, [model, ...all.filter((p) => p !== 'mmproj-F16.gguf')])).toBe('mmproj-BF16.gguf');
    expect(projectorOf(model, [model, 'mmproj-F32.gguf', 'mmproj-Q8_0.gguf'])).toBe('mmproj-F32.gguf');
  });

  it("takes the projector sharing most of the model's name in a repository of several", () => {
    const paths = [
      'gemma-3-4b-it-Q4_K_M.gguf',
      'gemma-3-12b-it-Q4_K_M.gguf',
      'mmproj-gemma-3-4b-it-f16.gguf',
      'mmproj-gemma-3-12b-it-f16.gguf',
    ];
    expect(projectorOf('gemma-3-4b-it-Q4_K_M.gguf', paths)).toBe('mmproj-gemma-3-4b-it-f16.gguf');
    expect(projectorOf('gemma-3-12b-it-Q4_K_M.gguf', paths)).toBe('mmproj-gemma-3-12b-it-f16.gguf');
  });

  it('never takes a projector named for another model, even the only one', () => {
    expect(projectorOf('Qwen3-4B-Q4_K_M.gguf', ['Qwen3-4B-Q4_K_M.gguf', 'mmproj-gemma-3-12b-it-f16.gguf'])).toBeNull();
    // Sizes and words such as `instruct` are shared by unrelated models.
    expect(
      projectorOf('Mistral-7B-Instruct-Q4_K_M.gguf', [
        'Mistral-7B-Instruct-Q4_K_M.gguf',
        'mmproj-Qwen2-VL-7B-Instruct-f16.gguf',
      ]),
    ).toBeNull();
  });

  it("takes the nearest of the model's folder and the folders above it, never another branch's", () => {
    const paths = [
      'Q4_K_M/gemma-3-12b-it-Q4_K_M-00001-of-00002.gguf',
      'Q4_K_M/gemma-3-12b-it-Q4_K_M-00002-of-00002.gguf',
      'mmproj-F32.gguf',
      'Q4_K_M/mmproj-F16.gguf',
      'Q8_0/mmproj-F16.gguf',
      'Q8_0/gemma-3-12b-it-Q8_0.gguf',
    ];
    expect(projectorOf('Q4_K_M/gemma-3-12b-it-Q4_K_M-00002-of-00002.gguf', paths)).toBe('Q4_K_M/mmproj-F16.gguf');
    expect(projectorOf('Q4_K_M/gemma-3-12b-it-Q4_K_M-00001-of-00002.gguf', paths.slice(0, 3))).toBe('mmproj-F32.gguf');
    expect(
      projectorOf('Q4_K_M/gemma-3-12b-it-Q4_K_M-00001-of-00002.gguf', [...paths.slice(0, 2), 'Q8_0/mmproj-F16.gguf']),
    ).toBeNull();
  });

  it('fetches nothing more with a projector asked for itself, or from a repository without one', () => {
    expect(projectorOf('mmproj-F16.gguf', ['M-Q4_K_M.gguf', 'mmproj-F16.gguf', 'mmproj-F32.gguf'])).toBeNull();
    expect(projectorOf('M-Q4_K_M.gguf', ['M-Q4_K_M.gguf', 'M-Q8_0.gguf'])).toBeNull();
  });
});
