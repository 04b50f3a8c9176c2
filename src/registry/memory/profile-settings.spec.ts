import { memorySettingsOf } from './profile-settings';

describe('memorySettingsOf', () => {
  it('leaves everything to llama-server’s defaults without a server block', () => {
    expect(memorySettingsOf(undefined)).toEqual({});
    expect(memorySettingsOf(null)).toEqual({});
    expect(memorySettingsOf({})).toEqual({});
  });

  it('takes ctxSize, parallel and embeddings as the fleet passes them; gpuLayers does not change the sum', () => {
    expect(memorySettingsOf({ ctxSize: 8192, parallel: 2, gpuLayers: 'all', embeddings: true })).toEqual({
      ctxSize: 8192,
      parallel: 2,
      embeddings: true,
    });
    expect(memorySettingsOf({ ctxSize: 0, embeddings: false })).toEqual({ ctxSize: 0 });
  });

  it('reads the cache types from extraArgs in each spelling', () => {
    expect(memorySettingsOf({ extraArgs: ['--cache-type-k', 'q8_0', '--cache-type-v', 'q4_0'] })).toEqual({
      cacheTypeK: 'q8_0',
      cacheTypeV: 'q4_0',
    });
    expect(memorySettingsOf({ extraArgs: ['-ctk', 'q8_0', '-ctv', 'q8_0'] })).toEqual({
      cacheTypeK: 'q8_0',
      cacheTypeV: 'q8_0',
    });
    // llama.cpp reads `_` as `-` in a long flag.
    expect(memorySettingsOf({ extraArgs: ['--cache_type_k', 'bf16'] })).toEqual({ cacheTypeK: 'bf16' });
  });

  it('lets extraArgs win over the block, and the last occurrence of a flag win, as on llama-server’s command line', () => {
    expect(
      memorySettingsOf({ ctxSize: 4096, parallel: 1, extraArgs: ['-c', '16384', '--parallel', '3', '-np', '2'] }),
    ).toEqual({ ctxSize: 16384, parallel: 2 });
    expect(memorySettingsOf({ extraArgs: ['-ctk', 'q8_0', '--cache-type-k', 'f32'] })).toEqual({ cacheTypeK: 'f32' });
  });

  it('reads the other flags the estimate depends on', () => {
    expect(
      memorySettingsOf({
        extraArgs: ['-fa', 'off', '--fit', 'off', '-b', '1024', '-ub', '256', '--swa-full', '-kvu', '--embedding'],
      }),
    ).toEqual({
      flashAttention: 'off',
      fit: false,
      batchSize: 1024,
      ubatchSize: 256,
      swaFull: true,
      kvUnified: true,
      embeddings: true,
    });
    expect(memorySettingsOf({ extraArgs: ['--flash-attn', 'auto', '-kvu', '--no-kv-unified'] })).toEqual({
      flashAttention: 'auto',
      kvUnified: false,
    });
  });

  it('skips flags it does not need, their values included, and values it cannot read', () => {
    expect(
      memorySettingsOf({
        extraArgs: ['--threads', '8', '--jinja', '--seed', '-1', '-fa', 'sometimes', '-c', 'big', '-ctk'],
      }),
    ).toEqual({});
  });

  it('does not take --flag=value, a spelling llama-server refuses', () => {
    expect(memorySettingsOf({ extraArgs: ['--ctx-size=8192', '--cache-type-k=q8_0'] })).toEqual({});
  });

  it('passes a cache type as written, for the estimate to refuse as llama-server does', () => {
    expect(memorySettingsOf({ extraArgs: ['-ctk', 'q4_K'] })).toEqual({ cacheTypeK: 'q4_K' });
  });
});
