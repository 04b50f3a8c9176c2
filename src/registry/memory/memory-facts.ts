/**
 * Header → the few facts the memory estimate needs: the bytes of the tensor data (every
 * shard, and the projector), the KV-cache width of each layer, which layers attend through
 * a sliding window, which keep a recurrent state, and the sizes the compute buffer scales
 * with. Pure: it reads parsed headers, never a file. The facts are small and plain JSON,
 * so a caller can keep them beside a model and estimate any settings later.
 *
 * Every rule follows llama.cpp's `llama_model_base::load_hparams` (src/llama-model.cpp),
 * `llama_hparams` (src/llama-hparams.cpp) and the architecture's `load_arch_hparams`
 * (src/models/<arch>.cpp); `architectures.ts` holds the per-architecture part.
 */
import { GgufParseOptions, GgufValue, isArraySummary } from '../gguf/gguf-reader';
import { ARCH_RULES, ArchRule, SPECIAL_LAYOUT_KEYS, SwaRule } from './architectures';
import { tensorDataBytes } from './ggml-types';

/** A tensor info: its shape (ggml order) and ggml type number. */
export interface TensorShape {
  readonly dims: readonly number[];
  readonly type: number;
}

/** What the facts are read from: a parsed header (see MEMORY_PARSE_OPTIONS). */
export interface HeaderForMemory {
  readonly metadata: Readonly<Record<string, GgufValue>>;
  /** The tensor infos; without them the weights cannot be sized. */
  readonly tensors?: readonly TensorShape[];
}

/**
 * Options for `parseGgufHeader` that keep what the facts need: the tensor infos, and
 * per-layer arrays (head counts, SWA patterns) of up to 4096 layers as values.
 */
export const MEMORY_PARSE_OPTIONS: Readonly<GgufParseOptions> = Object.freeze({
  tensorInfos: true,
  maxInlineArrayLength: 4096,
});

/** Layers whose caches have the same shape. */
export interface KvLayerGroup {
  /** Layers in the group. */
  layers: number;
  /** Elements per cell of one layer's K cache: head_dim_k × kv heads (llama_hparams::n_embd_k_gqa). */
  kWidth: number;
  /** Elements per cell of one layer's V cache; 0 for MLA, which keeps only K. */
  vWidth: number;
  /** Sliding-window layers: their cache holds the window, not the context. */
  swa: boolean;
}

/** The recurrent state of the recurrent layers (llama_memory_recurrent), f32. */
export interface RecurrentFacts {
  /** What keeps the state: a Mamba-style SSM, an RWKV time mix, or LFM2's short convolution. */
  kind: 'ssm' | 'rwkv' | 'shortconv';
  layers: number;
  /** Elements of the conv/shift state per sequence and layer (llama_hparams::n_embd_r). */
  rWidth: number;
  /** Elements of the SSM/WKV state per sequence and layer (llama_hparams::n_embd_s). */
  sWidth: number;
  /** `ssm.inner_size` (the embedding width for RWKV and short convolutions): what the scan's activations scale with. */
  innerSize: number;
  /** 2 × `ssm.group_count` × `ssm.state_size`: the B and C projections beside the inner width. */
  groupWidth: number;
}

export interface ModelMemoryFacts {
  architecture: string;
  /** Tensor data of every shard: ggml_nbytes of each tensor. */
  weightsBytes: number;
  /** Tensor data of the projector (mmproj), 0 without one. */
  projectorBytes: number;
  /** `<arch>.context_length`: what `--ctx-size 0` (or no `--ctx-size`) means. */
  contextLength: number;
  /** Tokens in the vocabulary: the rows of the logits. */
  vocabSize: number;
  embeddingLength: number;
  /** Layers of the main model (block_count minus the MTP `nextn_predict_layers`). */
  blockCount: number;
  /**
   * Largest dense FFN width over the layers that run one: every layer of a dense model;
   * in an MoE model only its leading dense layers (`leading_dense_block_count`) or its
   * interleaved ones (`interleave_moe_layer_step`), else 0 (Qwen3-MoE writes an unused
   * `feed_forward_length`).
   */
  feedForwardLength: number;
  /** Largest query-head count over the layers. */
  headCount: number;
  /** Largest query width over the attention layers: heads × head_dim_k. */
  queryWidth: number;
  expertCount: number;
  expertUsedCount: number;
  /** Largest expert FFN width (`expert_feed_forward_length`), 0 for a dense model. */
  expertFeedForwardLength: number;
  /** Head sizes of K and V over the layers: a quantized cache type's block must divide each. */
  headDimsK: number[];
  headDimsV: number[];
  /** Multi-head latent attention: one compressed K per cell, no V (and K and V types must match). */
  mla: boolean;
  /** Layers with a KV cache, grouped by shape; empty for recurrent-only models and encoders. */
  kvLayers: KvLayerGroup[];
  /** `hparams.n_swa` (0: no sliding window). */
  slidingWindow: number;
  recurrent: RecurrentFacts | null;
}

type Metadata = Readonly<Record<string, GgufValue>>;

/** A per-layer value that could not be read (an array summarised or of the wrong length). */
class Unknowable extends Error {}

function num(md: Metadata, key: string): number | undefined {
  const v = md[key];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v !== undefined) throw new Unknowable(key);
  return undefined;
}

/** llama_model_loader::get_key_or_arr: a scalar for every layer, or one value per layer. */
function perLayer(md: Metadata, key: string, n: number, fallback: readonly number[]): number[] {
  const v = md[key];
  if (v === undefined) return [...fallback];
  if (Array.isArray(v)) {
    if (v.length !== n) throw new Unknowable(key);
    return v.map((x) => {
      if (typeof x === 'number') return x;
      if (typeof x === 'boolean') return x ? 1 : 0;
      throw new Unknowable(key);
    });
  }
  const s = num(md, key);
  return new Array<number>(n).fill(s ?? 0);
}

function arrayLength(v: GgufValue | undefined): number | undefined {
  if (Array.isArray(v)) return v.length;
  if (isArraySummary(v)) return v.length;
  return undefined;
}

/** Sum of ggml_nbytes over the tensors; null when a header has no tensor infos or a type is unknown. */
function tensorBytes(headers: readonly HeaderForMemory[]): number | null {
  let sum = 0;
  for (const h of headers) {
    if (!h.tensors) return null;
    for (const t of h.tensors) {
      const b = tensorDataBytes(t.dims, t.type);
      if (b === null) return null;
      sum += b;
    }
  }
  return sum;
}

/** llama_model_base::load_swa_pattern / llama_hparams::set_swa_pattern. */
function swaLayers(md: Metadata, p: string, rule: SwaRule, n: number): boolean[] {
  const v = md[`${p}attention.sliding_window_pattern`];
  if (Array.isArray(v)) {
    if (v.length !== n) throw new Unknowable('attention.sliding_window_pattern');
    return v.map((x) => x === true || x === 1);
  }
  if (isArraySummary(v)) throw new Unknowable('attention.sliding_window_pattern');
  if (rule.arrayOnly) throw new Unknowable('attention.sliding_window_pattern');
  const pattern = num(md, `${p}attention.sliding_window_pattern`) ?? rule.pattern;
  return Array.from({ length: n }, (_, il) =>
    rule.denseFirst ? pattern === 0 || il % pattern !== 0 : pattern === 0 || il % pattern < pattern - 1,
  );
}

/** The window (hparams.n_swa) and the SWA layers, or none. */
function slidingWindow(md: Metadata, p: string, rule: ArchRule, n: number): { window: number; isSwa: boolean[] } {
  const none = { window: 0, isSwa: new Array<boolean>(n).fill(false) };
  const swa = rule.swa;
  if (!swa) return none;
  const key = num(md, `${p}attention.sliding_window`);
  let window: number;
  if (swa.offWhenKeyZero) {
    if (key === 0) return none;
    window = swa.fixedWindow ?? (typeof swa.window === 'number' ? swa.window : (key ?? 0));
  } else if (swa.window === 'gated') {
    if (key === undefined || key <= 0) return none;
    window = swa.fixedWindow ?? key;
  } else if (swa.window === 'key') {
    if (key === undefined) throw new Unknowable('attention.sliding_window');
    window = key;
  } else {
    window = key ?? swa.window;
  }
  return { window, isSwa: swaLayers(md, p, swa, n) };
}

/** hparams.is_recr per layer. */
function recurrentLayers(
  md: Metadata,
  p: string,
  rule: ArchRule,
  nAll: number,
  n: number,
  kvHeads: number[],
  ff: number[],
): boolean[] {
  switch (rule.recurrent) {
    case undefined:
      return new Array<boolean>(nAll).fill(false);
    case 'all':
    case 'both':
      return Array.from({ length: nAll }, (_, il) => il < n);
    case 'no-kv-heads':
      return Array.from({ length: nAll }, (_, il) => il < n && kvHeads[il] === 0);
    case 'nemotron':
      return Array.from({ length: nAll }, (_, il) => il < n && kvHeads[il] === 0 && ff[il] === 0);
    case 'interval': {
      const listed = md[`${p}attention.recurrent_layers`];
      if (listed !== undefined) return perLayer(md, `${p}attention.recurrent_layers`, nAll, []).map((x) => x !== 0);
      const interval = num(md, `${p}full_attention_interval`) ?? rule.fullAttentionInterval ?? 4;
      return Array.from({ length: nAll }, (_, il) => il < n && (il + 1) % interval !== 0);
    }
  }
}

/** Which layers own a KV cache in the main context (create_memory's filters, hparams.has_kv). */
function attentionLayer(
  rule: ArchRule,
  il: number,
  n: number,
  isRecr: boolean[],
  ff: number[],
  kvFromStart: number,
): boolean {
  if (kvFromStart >= 0 && il >= kvFromStart) return false;
  switch (rule.recurrent) {
    case 'all':
      return false;
    case 'both':
      return true;
    case 'nemotron':
      return !isRecr[il] && ff[il] === 0;
    case 'interval':
      return il < n && !isRecr[il];
    case 'no-kv-heads':
      return !isRecr[il];
    default:
      // Plain attention: the MTP (nextn) layers get their own context, not the main one.
      return il < n;
  }
}

/** llama_hparams::n_embd_r / n_embd_s for the state kind. */
function recurrentState(md: Metadata, p: string, rule: ArchRule, embd: number, layers: number): RecurrentFacts {
  if (rule.state === 'rwkv') {
    const head = num(md, `${p}wkv.head_size`);
    if (head === undefined) throw new Unknowable('wkv.head_size');
    const r = (num(md, `${p}token_shift_count`) ?? 2) * embd;
    return { kind: 'rwkv', layers, rWidth: r, sWidth: embd * head, innerSize: embd, groupWidth: 0 };
  }
  const dState = num(md, `${p}ssm.state_size`) ?? 0;
  const dInner = num(md, `${p}ssm.inner_size`) ?? 0;
  if (rule.state === 'shortconv') {
    const lCache = num(md, `${p}shortconv.l_cache`);
    if (lCache === undefined) throw new Unknowable('shortconv.l_cache');
    const r = embd * (lCache - 1);
    return { kind: 'shortconv', layers, rWidth: r, sWidth: dState * dInner, innerSize: embd, groupWidth: 0 };
  }
  const dConv = num(md, `${p}ssm.conv_kernel`);
  if (dConv === undefined || !dInner) throw new Unknowable('ssm.*');
  const groupWidth = 2 * (num(md, `${p}ssm.group_count`) ?? 0) * dState;
  const r = (dConv > 0 ? dConv - 1 : 0) * (dInner + groupWidth);
  return { kind: 'ssm', layers, rWidth: r, sWidth: dState * dInner, innerSize: dInner, groupWidth };
}

function distinct(values: number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

/**
 * The memory facts of a model from its headers: `shards` in order (one for a single file;
 * the first carries the hyperparameters), `projector` the mmproj's header if one is
 * attached. Null when the headers cannot tell: tensor infos missing, an unknown tensor
 * type, a projector given as the model, an architecture with an unknown memory layout,
 * or hyperparameters missing or unreadable.
 */
export function modelMemoryFacts(
  shards: readonly HeaderForMemory[],
  projector: HeaderForMemory | null = null,
): ModelMemoryFacts | null {
  if (shards.length === 0) return null;
  const md = shards[0].metadata;
  const arch = md['general.architecture'];
  if (typeof arch !== 'string' || arch === 'clip') return null;
  const p = `${arch}.`;
  const known = ARCH_RULES[arch] as ArchRule | undefined;
  if (!known && SPECIAL_LAYOUT_KEYS.some((k) => md[p + k] !== undefined)) return null;
  const rule: ArchRule = known ?? {};

  const weightsBytes = tensorBytes(shards);
  const projectorBytes = projector ? tensorBytes([projector]) : 0;
  if (weightsBytes === null || projectorBytes === null) return null;

  try {
    return describe(md, p, arch, rule, weightsBytes, projectorBytes);
  } catch (e) {
    if (e instanceof Unknowable) return null;
    throw e;
  }
}

function describe(
  md: Metadata,
  p: string,
  arch: string,
  rule: ArchRule,
  weightsBytes: number,
  projectorBytes: number,
): ModelMemoryFacts | null {
  const nAll = num(md, `${p}block_count`);
  const embd = num(md, `${p}embedding_length`);
  const ctxTrain = num(md, `${p}context_length`);
  if (!nAll || !embd || !ctxTrain) return null;
  const nextn = num(md, `${p}nextn_predict_layers`) ?? 0;
  const n = nAll - nextn;

  const heads = perLayer(md, `${p}attention.head_count`, nAll, new Array<number>(nAll).fill(0));
  const kvHeads = perLayer(md, `${p}attention.head_count_kv`, nAll, heads);
  const ff = perLayer(md, `${p}feed_forward_length`, nAll, new Array<number>(nAll).fill(0));

  // Head sizes: n_embd / n_head(0) unless the header says (key_length / value_length), then the SWA variants.
  const head0 = heads[0];
  const headK = head0 > 0 ? (num(md, `${p}attention.key_length`) ?? Math.floor(embd / head0)) : 0;
  const headV = head0 > 0 ? (num(md, `${p}attention.value_length`) ?? Math.floor(embd / head0)) : 0;
  const headKSwa = num(md, `${p}attention.key_length_swa`) ?? headK;
  const headVSwa = num(md, `${p}attention.value_length_swa`) ?? headV;
  // MLA (DeepSeek-V2/V3, Kimi K2 converted with the _mla keys): the cache keeps only the compressed K.
  const mla =
    num(md, `${p}attention.key_length_mla`) !== undefined && num(md, `${p}attention.value_length_mla`) !== undefined;

  const { window, isSwa: swaByPattern } = slidingWindow(md, p, rule, nAll);
  const isRecr = recurrentLayers(md, p, rule, nAll, n, kvHeads, ff);
  // lfm2: with a window, every attention layer is a sliding-window one.
  const isSwa = rule.attentionIsSwa ? isRecr.map((r) => window > 0 && !r) : swaByPattern;

  let kvFromStart = -1;
  if (rule.kvFromStart === 'shared-kv-layers') kvFromStart = nAll - (num(md, `${p}attention.shared_kv_layers`) ?? 0);
  else if (rule.kvFromStart !== undefined) kvFromStart = rule.kvFromStart;

  const groups = new Map<string, KvLayerGroup>();
  const dimsK: number[] = [];
  const dimsV: number[] = [];
  let queryWidth = 0;
  for (let il = 0; il < nAll; il++) {
    const hk = isSwa[il] ? headKSwa : headK;
    const hv = isSwa[il] ? headVSwa : headV;
    queryWidth = Math.max(queryWidth, hk * heads[il]);
    if (il < n) {
      dimsK.push(hk);
      dimsV.push(hv);
    }
    if (rule.noMemory || !attentionLayer(rule, il, n, isRecr, ff, kvFromStart)) continue;
    const group: KvLayerGroup = {
      layers: 1,
      kWidth: hk * kvHeads[il],
      vWidth: mla ? 0 : hv * kvHeads[il],
      swa: isSwa[il],
    };
    const id = `${group.kWidth}/${group.vWidth}/${group.swa}`;
    const seen = groups.get(id);
    if (seen) seen.layers++;
    else groups.set(id, group);
  }

  const recurrentCount = rule.noMemory ? 0 : isRecr.filter(Boolean).length;
  const recurrent = recurrentCount > 0 ? recurrentState(md, p, rule, embd, recurrentCount) : null;

  const vocabSize = arrayLength(md['tokenizer.ggml.tokens']) ?? num(md, `${p}vocab_size`);
  if (!vocabSize) return null;
  const expertUsed = perLayer(md, `${p}expert_used_count`, nAll, new Array<number>(nAll).fill(0));
  const expertCount = num(md, `${p}expert_count`) ?? 0;
  const hasDenseLayers =
    expertCount === 0 ||
    (num(md, `${p}leading_dense_block_count`) ?? 0) > 0 ||
    (num(md, `${p}interleave_moe_layer_step`) ?? 0) > 1;
  const expertFf = perLayer(md, `${p}expert_feed_forward_length`, nAll, new Array<number>(nAll).fill(0));

  return {
    architecture: arch,
    weightsBytes,
    projectorBytes,
    contextLength: ctxTrain,
    vocabSize,
    embeddingLength: embd,
    blockCount: n,
    feedForwardLength: hasDenseLayers ? Math.max(0, ...ff) : 0,
    headCount: Math.max(0, ...heads),
    queryWidth,
    expertCount,
    expertUsedCount: Math.max(0, ...expertUsed),
    expertFeedForwardLength: Math.max(0, ...expertFf),
    headDimsK: distinct(dimsK),
    headDimsV: distinct(dimsV),
    mla,
    kvLayers: [...groups.values()],
    slidingWindow: window,
    recurrent,
  };
}
