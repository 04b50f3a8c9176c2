/**
 * ggml tensor types and their storage: elements per block and bytes per block, as
 * llama.cpp's `ggml/src/ggml.c` `type_traits` declares them (read from the built
 * libggml-base with `ggml_blck_size` / `ggml_type_size`). Numbers are `enum ggml_type`
 * (ggml.h), which is what GGUF tensor infos store. 4, 5, 31–33 and 36–38 are types
 * ggml has removed: a tensor of such a type cannot be loaded, so it has no size here.
 */

export interface GgmlTypeTraits {
  /** ggml's name, as llama.cpp prints it and as `--cache-type-k/-v` takes it. */
  name: string;
  /** Elements per block. */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
  /** A block-quantized type (ggml_is_quantized): what a V cache may only be with flash attention. */
  quantized: boolean;
}

const t = (name: string, blockSize: number, typeSize: number, quantized = blockSize > 1): GgmlTypeTraits => ({
  name,
  blockSize,
  typeSize,
  quantized,
});

/** By ggml type number. */
export const GGML_TYPES: Readonly<Record<number, GgmlTypeTraits>> = Object.freeze({
  0: t('f32', 1, 4),
  1: t('f16', 1, 2),
  2: t('q4_0', 32, 18),
  3: t('q4_1', 32, 20),
  6: t('q5_0', 32, 22),
  7: t('q5_1', 32, 24),
  8: t('q8_0', 32, 34),
  9: t('q8_1', 32, 36),
  10: t('q2_K', 256, 84),
  11: t('q3_K', 256, 110),
  12: t('q4_K', 256, 144),
  13: t('q5_K', 256, 176),
  14: t('q6_K', 256, 210),
  15: t('q8_K', 256, 292),
  16: t('iq2_xxs', 256, 66),
  17: t('iq2_xs', 256, 74),
  18: t('iq3_xxs', 256, 98),
  19: t('iq1_s', 256, 50),
  20: t('iq4_nl', 32, 18),
  21: t('iq3_s', 256, 110),
  22: t('iq2_s', 256, 82),
  23: t('iq4_xs', 256, 136),
  24: t('i8', 1, 1),
  25: t('i16', 1, 2),
  26: t('i32', 1, 4),
  27: t('i64', 1, 8),
  28: t('f64', 1, 8),
  29: t('iq1_m', 256, 56),
  30: t('bf16', 1, 2),
  34: t('tq1_0', 256, 54),
  35: t('tq2_0', 256, 66),
  39: t('mxfp4', 32, 17),
  40: t('nvfp4', 64, 36),
  41: t('q1_0', 128, 18),
  42: t('q2_0', 64, 18),
});

/** Cache types llama-server accepts for `--cache-type-k/-v` (common/arg.cpp `kv_cache_types`). */
export const CACHE_TYPES = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_1', 'iq4_nl', 'q5_0', 'q5_1'] as const;
export type CacheType = (typeof CACHE_TYPES)[number];

const BY_NAME = new Map(Object.values(GGML_TYPES).map((traits) => [traits.name.toLowerCase(), traits]));

/** The traits of a ggml type by name (`f16`, `q8_0`, `Q4_K`…, any case), or undefined. */
export function ggmlTypeByName(name: string): GgmlTypeTraits | undefined {
  return BY_NAME.get(name.toLowerCase());
}

/**
 * Bytes of `rows` rows of `width` elements of a type (ggml_row_size × rows). Null when the
 * type is unknown or a row is not whole blocks (ggml refuses such a tensor).
 */
export function ggmlBytes(type: GgmlTypeTraits | undefined, width: number, rows: number): number | null {
  if (!type || width % type.blockSize !== 0) return null;
  return (width / type.blockSize) * type.typeSize * rows;
}

/** Bytes of one tensor's data: ne[0] in whole blocks times the other dims (ggml_nbytes). */
export function tensorDataBytes(dims: readonly number[], type: number): number | null {
  const traits = GGML_TYPES[type];
  if (dims.length === 0) return ggmlBytes(traits, 1, 1);
  let rows = 1;
  for (let d = 1; d < dims.length; d++) rows *= dims[d];
  return ggmlBytes(traits, dims[0], rows);
}
