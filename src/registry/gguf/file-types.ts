/**
 * llama.cpp file types: `general.file_type` holds a `llama_ftype` (llama.h), whose
 * `LLAMA_FTYPE_MOSTLY_*` suffix is the quantization name users know (Q4_K_M, Q8_0, …).
 */

/** `llama_ftype` number → name without the `LLAMA_FTYPE_(ALL|MOSTLY)_` prefix. */
export const LLAMA_FILE_TYPES: Readonly<Record<number, string>> = Object.freeze({
  0: 'F32',
  1: 'F16',
  2: 'Q4_0',
  3: 'Q4_1',
  4: 'Q4_1_SOME_F16',
  7: 'Q8_0',
  8: 'Q5_0',
  9: 'Q5_1',
  10: 'Q2_K',
  11: 'Q3_K_S',
  12: 'Q3_K_M',
  13: 'Q3_K_L',
  14: 'Q4_K_S',
  15: 'Q4_K_M',
  16: 'Q5_K_S',
  17: 'Q5_K_M',
  18: 'Q6_K',
  19: 'IQ2_XXS',
  20: 'IQ2_XS',
  21: 'Q2_K_S',
  22: 'IQ3_XS',
  23: 'IQ3_XXS',
  24: 'IQ1_S',
  25: 'IQ4_NL',
  26: 'IQ3_S',
  27: 'IQ3_M',
  28: 'IQ2_S',
  29: 'IQ2_M',
  30: 'IQ4_XS',
  31: 'IQ1_M',
  32: 'BF16',
  // 33–35 were the Q4_0_4_4/4_8/8_8 repacks, removed from GGUF files upstream.
  36: 'TQ1_0',
  37: 'TQ2_0',
  38: 'MXFP4_MOE',
  39: 'NVFP4',
});

/** llama.cpp ORs this into the file type when it guessed it (not stored in the file). */
const LLAMA_FTYPE_GUESSED = 1024;

/** Name of a `general.file_type` value, or null when it is not a known llama.cpp file type. */
export function fileTypeName(fileType: number | null | undefined): string | null {
  if (typeof fileType !== 'number' || !Number.isInteger(fileType) || fileType < 0) return null;
  return LLAMA_FILE_TYPES[fileType & ~LLAMA_FTYPE_GUESSED] ?? null;
}

/**
 * A quantization token in a file name, delimited by `-`, `_`, `.` or the ends: Q4_K_M,
 * IQ3_XXS, Q8_0, F16, BF16, TQ1_0, MXFP4(_MOE). The `_` joins inside a name are part of it,
 * so `Q4_K_M` is not cut at its first underscore; `_` may also end it (`Q4_K_M_imat`).
 */
const QUANT_IN_NAME =
  /(?:^|[-_.\s])((?:I?Q[1-8](?:_[0-9A-Z]{1,3})*)|B?F16|F32|TQ[12]_0|MXFP4(?:_MOE)?|NVFP4)(?=$|[-_.\s])/i;

/** Quantization named by a file name (`…-Q4_K_M.gguf` → `Q4_K_M`), uppercased; null when none. */
export function quantizationFromFileName(fileName: string): string | null {
  const stem = fileName.replace(/\.gguf$/i, '');
  const m = QUANT_IN_NAME.exec(stem);
  return m ? m[1].toUpperCase() : null;
}
