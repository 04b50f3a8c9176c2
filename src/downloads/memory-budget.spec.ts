import { autoMemoryBudget, MEMORY_RESERVE_BYTES, memorySettingsFor, parseCgroupMemoryMax } from './memory-budget';

const GiB = 1024 ** 3;

describe('parseCgroupMemoryMax', () => {
  it.each([
    ['max\n', null],
    ['', null],
    [null, null],
    ['8589934592\n', 8 * GiB],
    ['garbage', null],
    ['0', null],
  ])('%j → %s', (text, want) => expect(parseCgroupMemoryMax(text)).toBe(want));
});

describe('autoMemoryBudget', () => {
  it('is the machine memory minus the 2 GiB reserve', () => {
    expect(MEMORY_RESERVE_BYTES).toBe(2 * GiB);
    expect(autoMemoryBudget(32 * GiB, null)).toBe(30 * GiB);
  });

  it('takes the cgroup limit where it is lower', () => {
    expect(autoMemoryBudget(32 * GiB, 8 * GiB)).toBe(6 * GiB);
    expect(autoMemoryBudget(16 * GiB, 64 * GiB)).toBe(14 * GiB);
  });

  it('is never negative', () => {
    expect(autoMemoryBudget(1 * GiB, null)).toBe(0);
  });
});

describe('memorySettingsFor', () => {
  it('gives llama-server defaults without a server block', () => {
    expect(memorySettingsFor(null)).toMatchObject({
      ctxSize: null,
      parallel: null,
      cacheTypeK: null,
      cacheTypeV: null,
    });
  });

  it('reads ctxSize, parallel, embeddings and the memory flags of extraArgs', () => {
    expect(
      memorySettingsFor({
        ctxSize: 8192,
        parallel: 2,
        embeddings: true,
        extraArgs: ['-ctk', 'q8_0', '--cache-type-v=q8_0', '-fa', 'on', '--swa-full', '-ub', '1024', '--kv-unified'],
      }),
    ).toEqual({
      ctxSize: 8192,
      parallel: 2,
      embeddings: true,
      cacheTypeK: 'q8_0',
      cacheTypeV: 'q8_0',
      flashAttention: 'on',
      batchSize: null,
      ubatchSize: 1024,
      swaFull: true,
      kvUnified: true,
    });
  });

  it('lets the last spelling of a flag win', () => {
    expect(memorySettingsFor({ extraArgs: ['--cache-type-k', 'q4_0', '-ctk', 'f16'] }).cacheTypeK).toBe('f16');
  });
});
