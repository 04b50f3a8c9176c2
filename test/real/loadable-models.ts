/**
 * GGUF models llama-server really loads, of any shape, in no disk space: a header
 * written by the project's writer (tensor infos laid out as llama.cpp's
 * `load_arch_tensors` wants them, a SentencePiece-style vocabulary with the 256 byte
 * tokens) followed by all-zero tensor data, made by extending the file (sparse, so a
 * Llama-3.1-8B-shaped file takes no disk blocks). Zero weights give gibberish but load,
 * allocate and warm up like real ones: what the memory checks need.
 */
import { truncate, writeFile } from 'node:fs/promises';
import { GgufType } from '../../src/registry/gguf/gguf-reader';
import { buildGgufFile, GgmlType, GgufKvEntry, GgufLayout, GgufTensorSpec, GgufWriteKv } from '../support/gguf-writer';

export interface LoadableModelSpec {
  architecture: 'llama' | 'qwen3' | 'qwen3moe' | 'gemma3' | 'mamba2' | 'granitehybrid';
  name: string;
  layers: number;
  embd: number;
  /** Dense FFN width (MoE: the shared `feed_forward_length`, unused by the tensors). */
  ff: number;
  heads: number;
  kvHeads: number;
  /** Head size when not embd / heads (written as key_length / value_length). */
  headDim?: number;
  vocab: number;
  contextLength: number;
  /** gemma3: `attention.sliding_window` (5 of every 6 layers use it). */
  slidingWindow?: number;
  experts?: number;
  expertsUsed?: number;
  expertFf?: number;
  /** mamba2 / granitehybrid: the SSM. granitehybrid: the attention layers (the rest are Mamba2). */
  ssm?: { inner: number; state: number; groups: number; convKernel: number; heads: number; attentionLayers: number[] };
  /** Type of the 2-D weights; default F16. */
  weightType?: GgmlType;
}

const str = (key: string, value: string): GgufWriteKv => ({ key, type: GgufType.STRING, value });
const u32 = (key: string, value: number): GgufWriteKv => ({ key, type: GgufType.UINT32, value });
const f32 = (key: string, value: number): GgufWriteKv => ({ key, type: GgufType.FLOAT32, value });
const arr = (key: string, itemType: GgufType, value: unknown[]): GgufWriteKv => ({
  key,
  type: GgufType.ARRAY,
  itemType,
  value,
});

/** `<unk>`, `<s>`, `</s>`, the 256 byte tokens `<0x00>`…, then filler pieces up to `size`. */
function spmVocabulary(size: number): GgufKvEntry[] {
  const tokens: string[] = ['<unk>', '<s>', '</s>'];
  const types: number[] = [2, 3, 3];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
  }
  for (let i = tokens.length; i < size; i++) {
    tokens.push(`▁t${i.toString(36)}`);
    types.push(1);
  }
  return [
    str('tokenizer.ggml.model', 'llama'),
    arr('tokenizer.ggml.tokens', GgufType.STRING, tokens),
    arr(
      'tokenizer.ggml.scores',
      GgufType.FLOAT32,
      tokens.map((_, i) => -i),
    ),
    arr('tokenizer.ggml.token_type', GgufType.INT32, types),
    u32('tokenizer.ggml.bos_token_id', 1),
    u32('tokenizer.ggml.eos_token_id', 2),
    u32('tokenizer.ggml.unknown_token_id', 0),
  ];
}

function attentionTensors(s: LoadableModelSpec, i: number, w: GgmlType, qkNorm: boolean): GgufTensorSpec[] {
  const head = s.headDim ?? s.embd / s.heads;
  const b = `blk.${i}`;
  const out: GgufTensorSpec[] = [
    { name: `${b}.attn_q.weight`, dims: [s.embd, head * s.heads], type: w },
    { name: `${b}.attn_k.weight`, dims: [s.embd, head * s.kvHeads], type: w },
    { name: `${b}.attn_v.weight`, dims: [s.embd, head * s.kvHeads], type: w },
    { name: `${b}.attn_output.weight`, dims: [head * s.heads, s.embd], type: w },
  ];
  if (qkNorm) {
    out.push({ name: `${b}.attn_q_norm.weight`, dims: [head], type: GgmlType.F32 });
    out.push({ name: `${b}.attn_k_norm.weight`, dims: [head], type: GgmlType.F32 });
  }
  return out;
}

function mamba2Tensors(s: LoadableModelSpec, i: number, w: GgmlType): GgufTensorSpec[] {
  const m = s.ssm!;
  const b = `blk.${i}`;
  const conv = m.inner + 2 * m.groups * m.state;
  return [
    { name: `${b}.ssm_in.weight`, dims: [s.embd, 2 * m.inner + 2 * m.groups * m.state + m.heads], type: w },
    { name: `${b}.ssm_conv1d.weight`, dims: [m.convKernel, conv], type: GgmlType.F32 },
    { name: `${b}.ssm_conv1d.bias`, dims: [conv], type: GgmlType.F32 },
    { name: `${b}.ssm_dt.bias`, dims: [m.heads], type: GgmlType.F32 },
    { name: `${b}.ssm_a`, dims: [1, m.heads], type: GgmlType.F32 },
    { name: `${b}.ssm_d`, dims: [1, m.heads], type: GgmlType.F32 },
    { name: `${b}.ssm_norm.weight`, dims: [m.inner / m.groups, m.groups], type: GgmlType.F32 },
    { name: `${b}.ssm_out.weight`, dims: [m.inner, s.embd], type: w },
  ];
}

function tensors(s: LoadableModelSpec): GgufTensorSpec[] {
  const w = s.weightType ?? GgmlType.F16;
  const norm = (name: string): GgufTensorSpec => ({ name, dims: [s.embd], type: GgmlType.F32 });
  const out: GgufTensorSpec[] = [{ name: 'token_embd.weight', dims: [s.embd, s.vocab], type: w }];
  for (let i = 0; i < s.layers; i++) {
    const b = `blk.${i}`;
    out.push(norm(`${b}.attn_norm.weight`));
    if (s.architecture === 'mamba2') {
      out.push(...mamba2Tensors(s, i, w));
      continue;
    }
    if (s.architecture === 'granitehybrid' && !s.ssm!.attentionLayers.includes(i)) out.push(...mamba2Tensors(s, i, w));
    else
      out.push(
        ...attentionTensors(
          s,
          i,
          w,
          s.architecture === 'qwen3' || s.architecture === 'qwen3moe' || s.architecture === 'gemma3',
        ),
      );
    if (s.architecture === 'gemma3') out.push(norm(`${b}.post_attention_norm.weight`));
    out.push(norm(`${b}.ffn_norm.weight`));
    if (s.architecture === 'qwen3moe') {
      const e = s.experts!;
      const f = s.expertFf!;
      out.push(
        { name: `${b}.ffn_gate_inp.weight`, dims: [s.embd, e], type: GgmlType.F32 },
        { name: `${b}.ffn_gate_exps.weight`, dims: [s.embd, f, e], type: w },
        { name: `${b}.ffn_down_exps.weight`, dims: [f, s.embd, e], type: w },
        { name: `${b}.ffn_up_exps.weight`, dims: [s.embd, f, e], type: w },
      );
    } else {
      out.push(
        { name: `${b}.ffn_gate.weight`, dims: [s.embd, s.ff], type: w },
        { name: `${b}.ffn_up.weight`, dims: [s.embd, s.ff], type: w },
        { name: `${b}.ffn_down.weight`, dims: [s.ff, s.embd], type: w },
      );
    }
    if (s.architecture === 'gemma3') out.push(norm(`${b}.post_ffw_norm.weight`));
  }
  out.push(norm('output_norm.weight'));
  if (s.architecture !== 'gemma3') out.push({ name: 'output.weight', dims: [s.embd, s.vocab], type: w });
  return out;
}

function hparams(s: LoadableModelSpec): GgufWriteKv[] {
  const a = s.architecture;
  const kvs: GgufWriteKv[] = [
    u32(`${a}.context_length`, s.contextLength),
    u32(`${a}.embedding_length`, s.embd),
    u32(`${a}.block_count`, s.layers),
    u32(`${a}.feed_forward_length`, s.ff),
    f32(`${a}.attention.layer_norm_rms_epsilon`, 1e-6),
  ];
  if (a !== 'mamba2') {
    kvs.push(u32(`${a}.attention.head_count`, s.heads));
    if (a === 'granitehybrid') {
      const kv = Array.from({ length: s.layers }, (_, i) => (s.ssm!.attentionLayers.includes(i) ? s.kvHeads : 0));
      kvs.push(arr(`${a}.attention.head_count_kv`, GgufType.UINT32, kv));
    } else {
      kvs.push(u32(`${a}.attention.head_count_kv`, s.kvHeads));
    }
    if (s.headDim !== undefined) {
      kvs.push(u32(`${a}.attention.key_length`, s.headDim), u32(`${a}.attention.value_length`, s.headDim));
    }
    if (a === 'llama') kvs.push(u32(`${a}.rope.dimension_count`, s.headDim ?? s.embd / s.heads));
  }
  if (s.slidingWindow !== undefined) kvs.push(u32(`${a}.attention.sliding_window`, s.slidingWindow));
  if (s.experts !== undefined) {
    kvs.push(u32(`${a}.expert_count`, s.experts), u32(`${a}.expert_used_count`, s.expertsUsed!));
    kvs.push(u32(`${a}.expert_feed_forward_length`, s.expertFf!));
  }
  if (s.ssm) {
    const m = s.ssm;
    kvs.push(
      u32(`${a}.ssm.conv_kernel`, m.convKernel),
      u32(`${a}.ssm.inner_size`, m.inner),
      u32(`${a}.ssm.state_size`, m.state),
      u32(`${a}.ssm.time_step_rank`, m.heads),
      u32(`${a}.ssm.group_count`, m.groups),
    );
  }
  return kvs;
}

/** The header of the model `spec` describes. */
export function loadableModelLayout(spec: LoadableModelSpec): GgufLayout {
  return {
    kvs: [
      str('general.architecture', spec.architecture),
      str('general.type', 'model'),
      str('general.name', spec.name),
      u32('general.file_type', 1),
      ...hparams(spec),
      ...spmVocabulary(spec.vocab),
    ],
    tensors: tensors(spec),
  };
}

/**
 * Writes `layout` at `path` as a model llama.cpp loads: the header, then zero bytes for
 * all the tensor data (a sparse extension of the file). Returns the file size.
 */
export async function writeLoadableModel(path: string, layout: GgufLayout): Promise<number> {
  const { chunks, result } = buildGgufFile(layout);
  await writeFile(path, chunks);
  const size = result.size + result.tensorDataBytes;
  await truncate(path, size);
  return size;
}
