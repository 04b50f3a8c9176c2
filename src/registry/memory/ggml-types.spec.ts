import { GGML_TYPE_SIZES, GgmlType } from '../../../test/support/gguf-writer';
import { CACHE_TYPES, ggmlBytes, ggmlTypeByName, GGML_TYPES, tensorDataBytes } from './ggml-types';

describe('GGML_TYPES', () => {
  it('agrees with the test writer’s table on every type both know', () => {
    for (const [type, { blockSize, typeSize }] of Object.entries(GGML_TYPE_SIZES)) {
      expect(GGML_TYPES[Number(type)]).toMatchObject({ blockSize, typeSize });
    }
  });

  it('has the types ggml added after the writer’s table (NVFP4, Q1_0, Q2_0) and none of the removed ones', () => {
    expect(GGML_TYPES[40]).toMatchObject({ name: 'nvfp4', blockSize: 64, typeSize: 36 });
    expect(GGML_TYPES[41]).toMatchObject({ name: 'q1_0', blockSize: 128, typeSize: 18 });
    expect(GGML_TYPES[42]).toMatchObject({ name: 'q2_0', blockSize: 64, typeSize: 18 });
    for (const removed of [4, 5, 31, 32, 33, 36, 37, 38]) expect(GGML_TYPES[removed]).toBeUndefined();
  });

  it('marks the block-quantized types, which a V cache may only be with flash attention', () => {
    expect(ggmlTypeByName('q8_0')?.quantized).toBe(true);
    expect(ggmlTypeByName('iq4_nl')?.quantized).toBe(true);
    for (const plain of ['f32', 'f16', 'bf16']) expect(ggmlTypeByName(plain)?.quantized).toBe(false);
  });

  it('knows every cache type llama-server accepts', () => {
    for (const name of CACHE_TYPES) expect(ggmlTypeByName(name)).toBeDefined();
  });
});

describe('ggmlTypeByName', () => {
  it('finds a type whatever the case of its name', () => {
    expect(ggmlTypeByName('Q4_K')).toBe(GGML_TYPES[GgmlType.Q4_K]);
    expect(ggmlTypeByName('q6_k')).toBe(GGML_TYPES[GgmlType.Q6_K]);
    expect(ggmlTypeByName('q3_0')).toBeUndefined();
  });
});

describe('ggmlBytes', () => {
  it('sizes whole blocks: 1024 elements of q8_0 are 32 blocks of 34 bytes per row', () => {
    expect(ggmlBytes(ggmlTypeByName('q8_0'), 1024, 3)).toBe(32 * 34 * 3);
    expect(ggmlBytes(ggmlTypeByName('f16'), 1000, 2)).toBe(4000);
  });

  it('refuses a row that is not whole blocks, or an unknown type', () => {
    expect(ggmlBytes(ggmlTypeByName('q4_0'), 80, 1)).toBeNull();
    expect(ggmlBytes(undefined, 64, 1)).toBeNull();
  });
});

describe('tensorDataBytes', () => {
  it('multiplies the rows of every dimension after the first, as ggml_nbytes', () => {
    // An MoE expert tensor [n_embd, n_ff_exp, n_expert] in Q4_K: 2048/256 blocks per row.
    expect(tensorDataBytes([2048, 768, 128], GgmlType.Q4_K)).toBe((2048 / 256) * 144 * 768 * 128);
    expect(tensorDataBytes([4096], GgmlType.F32)).toBe(16384);
    expect(tensorDataBytes([14, 14, 3, 1152], GgmlType.F16)).toBe(14 * 14 * 3 * 1152 * 2);
    expect(tensorDataBytes([128, 64], GgmlType.MXFP4)).toBe(4 * 17 * 64);
  });

  it('is null for a removed type or a row of partial blocks', () => {
    expect(tensorDataBytes([64, 64], 31)).toBeNull();
    expect(tensorDataBytes([100, 4], GgmlType.Q4_K)).toBeNull();
  });
});
