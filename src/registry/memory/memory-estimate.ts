/**
 * Memory a llama-server process allocates for a model with given settings, from the
 * model's header facts alone: weights, KV cache (and recurrent state), compute and
 * output buffers, projector. Pure and cheap (a few microseconds), so it can run for
 * every model and every settings a caller wants to compare.
 *
 * Each rule is llama.cpp's own, read from the source of the build MAGI runs (see
 * docs/memory-estimate.md for the file and function of each, and for the accuracy
 * measured against that binary):
 * - slots and contexts: tools/server/server.cpp (`--parallel` auto = 4 slots with a
 *   unified cache), common/fit.cpp (no `--ctx-size` = training context × slots),
 *   src/llama-context.cpp (n_ctx padded to 256, split per slot unless unified);
 * - KV cache: src/llama-kv-cache.cpp (one K and one V tensor of
 *   [n_embd_k_gqa, cells, streams] per layer), src/llama-kv-cache-iswa.cpp (the
 *   sliding-window cache holds pad256(min(cells, window × unified-slots + ubatch))),
 *   src/llama-memory-recurrent.cpp (one f32 state per slot and recurrent layer);
 * - refusals: src/llama-context.cpp `llama_init_from_model` (a quantized cache type's
 *   block must divide every head size; a quantized V cache needs flash attention);
 * - compute: the worst-case graph `sched_reserve` allocates, calibrated on the binary.
 */
import { CACHE_TYPES, ggmlBytes, ggmlTypeByName, GgmlTypeTraits } from './ggml-types';
import { KvLayerGroup, ModelMemoryFacts } from './memory-facts';

/** The server settings the memory depends on (a profile's `server` block plus flags from `extraArgs`). */
export interface MemorySettings {
  /** `--ctx-size`; 0 or absent: the training context for every slot (llama-server's default with `--fit on`). */
  ctxSize?: number | null;
  /** `--parallel`; absent or -1: llama-server's auto, 4 slots sharing one unified cache. */
  parallel?: number | null;
  /** `--cache-type-k` / `--cache-type-v`: f16 (default), f32, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1. */
  cacheTypeK?: string | null;
  cacheTypeV?: string | null;
  /** `--n-gpu-layers`: moves weights and caches between devices, not their sum (accepted, not used). */
  gpuLayers?: number | null;
  /** `--flash-attn`; default auto, which llama.cpp resolves to on for the backends MAGI ships. */
  flashAttention?: 'on' | 'off' | 'auto' | null;
  /** `--kv-unified` / `--no-kv-unified`; default: unified only when `parallel` is auto. */
  kvUnified?: boolean | null;
  /** `--swa-full`: the sliding-window layers keep the whole context. */
  swaFull?: boolean | null;
  /** `--batch-size` (default 2048) and `--ubatch-size` (default 512). */
  batchSize?: number | null;
  ubatchSize?: number | null;
  /** `--embeddings`: the output buffer also holds one embedding per slot. */
  embeddings?: boolean | null;
  /** `--fit` (default on): an unset context means training context × slots rather than the training context. */
  fit?: boolean | null;
}

/** Bytes llama-server allocates for one model with one settings. */
export interface MemoryEstimate {
  /** Tensor data of every shard. */
  weightsBytes: number;
  /** KV cache of the attention layers plus the recurrent state of the recurrent ones. */
  kvCacheBytes: number;
  /** Compute buffer (the worst-case graph) plus the logits output buffer. */
  computeBytes: number;
  /** Tensor data of the attached projector, 0 without one. */
  projectorBytes: number;
  totalBytes: number;
  /** Context the cache was sized for: all slots together, after llama.cpp's padding. */
  ctxSize: number;
  /** Slots. */
  parallel: number;
}

/** Settings llama-server refuses (it exits while creating the context), with its reason. */
export class MemorySettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MemorySettingsError';
  }
}

/** llama.cpp's LLAMA_MAX_SEQ (src/llama-cparams.h). */
const MAX_SEQ = 256;
const F32 = 4;

const pad = (n: number, to: number): number => Math.ceil(n / to) * to;

function cacheType(name: string | null | undefined, which: 'K' | 'V'): GgmlTypeTraits {
  const wanted = name ?? 'f16';
  const traits = (CACHE_TYPES as readonly string[]).includes(wanted) ? ggmlTypeByName(wanted) : undefined;
  if (!traits)
    throw new MemorySettingsError(`unsupported ${which} cache type "${wanted}" (allowed: ${CACHE_TYPES.join(', ')})`);
  return traits;
}

function positive(value: number | null | undefined, what: string, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  if (!Number.isInteger(value) || value < 0)
    throw new MemorySettingsError(`${what} must be a whole number ≥ 0, got ${value}`);
  return value;
}

/** The llama_init_from_model checks on cache types (src/llama-context.cpp). */
function checkCacheTypes(facts: ModelMemoryFacts, k: GgmlTypeTraits, v: GgmlTypeTraits, flash: boolean): void {
  if (facts.mla && k !== v) {
    throw new MemorySettingsError(
      `${facts.architecture} does not support different K (${k.name}) and V (${v.name}) cache types`,
    );
  }
  if (v.quantized && !flash) throw new MemorySettingsError('a quantized V cache requires flash attention');
  for (const [type, dims, which] of [
    [k, facts.headDimsK, 'K'],
    [v, facts.headDimsV, 'V'],
  ] as const) {
    if (!type.quantized) continue;
    const bad = dims.find((d) => d % type.blockSize !== 0);
    if (bad !== undefined) {
      throw new MemorySettingsError(
        `${which} cache type ${type.name} with block size ${type.blockSize} does not divide the head size ${bad}`,
      );
    }
  }
}

/** Bytes of one cache (llama_kv_cache): K and V of `cells` cells for each stream, per layer. */
function cacheBytes(
  layers: readonly KvLayerGroup[],
  k: GgmlTypeTraits,
  v: GgmlTypeTraits,
  cells: number,
  streams: number,
  vWidthAll: number | null,
): number {
  let sum = 0;
  for (const g of layers) {
    const kb = ggmlBytes(k, g.kWidth, cells * streams) ?? 0;
    // Without flash attention V is stored transposed, every layer padded to the widest (TAG_V_CACHE_VARIABLE).
    const vWidth = g.vWidth === 0 ? 0 : (vWidthAll ?? g.vWidth);
    const vb = ggmlBytes(v, vWidth, cells * streams) ?? 0;
    sum += (kb + vb) * g.layers;
  }
  return sum;
}

/**
 * Activations per token of the worst layer in the reserved graph, in floats (ggml-alloc
 * reuses memory across a layer, so this is the peak of one layer, not a sum over layers).
 * Calibrated on the binary with flash attention (docs/memory-estimate.md, "Compute"):
 * dense FFN 3·n_ff + 3·n_embd + q (exact on Llama/Qwen/Gemma/Phi/Mistral shapes, q = heads ×
 * head size); MoE with k
 * experts used the larger of 3·k·n_ff_exp + 3·n_embd + q (gate, up and their product)
 * and 2·k·n_embd + k·n_ff_exp/3 + 3·n_embd + q (the expert outputs and their weighting);
 * attention 2·q + 2.5·n_embd + 3·kv; Mamba2 scan 7·d_inner + B/C. With a quantized V cache
 * (flash attention on) the dense stage holds one q-wide tensor less.
 */
function layerFloatsPerToken(facts: ModelMemoryFacts, kvWidth: number, quantizedV: boolean): number {
  const e = facts.embeddingLength;
  const q = facts.queryWidth;
  const stages = [3 * facts.feedForwardLength + 3 * e + (quantizedV ? 0 : q), 2 * q + 2.5 * e + 3 * kvWidth];
  if (facts.expertCount > 0) {
    const k = facts.expertUsedCount;
    const fe = facts.expertFeedForwardLength;
    stages.push(3 * k * fe + 3 * e + q, 2 * k * e + (k * fe) / 3 + 3 * e + q);
  }
  if (facts.recurrent) stages.push(7 * facts.recurrent.innerSize + facts.recurrent.groupWidth);
  return Math.max(...stages);
}

/**
 * The estimate for `facts` with `settings`; null when `facts` is null (the header could
 * not tell). Throws MemorySettingsError for settings llama-server itself refuses.
 */
export function estimateMemory(facts: ModelMemoryFacts | null, settings: MemorySettings = {}): MemoryEstimate | null {
  if (!facts) return null;

  // Slots and cache layout (tools/server/server.cpp, src/llama-context.cpp).
  const requestedParallel = settings.parallel ?? -1;
  if (!Number.isInteger(requestedParallel) || requestedParallel === 0 || requestedParallel < -1) {
    throw new MemorySettingsError(`invalid parallel ${requestedParallel}`);
  }
  const auto = requestedParallel < 0;
  const parallel = auto ? 4 : requestedParallel;
  if (parallel > MAX_SEQ) throw new MemorySettingsError(`parallel must be <= ${MAX_SEQ}`);
  const unified = auto ? true : (settings.kvUnified ?? false);

  const requestedCtx = positive(settings.ctxSize, 'ctxSize', 0);
  const fit = settings.fit ?? true;
  // common/fit.cpp: with --fit (the default) an unset context is the training context for every slot.
  const wanted = requestedCtx > 0 ? requestedCtx : fit ? facts.contextLength * parallel : facts.contextLength;
  let nCtx = pad(Math.min(wanted, 0xffffffff), 256);
  let nCtxSeq = nCtx;
  const streams = unified ? 1 : parallel;
  if (!unified) {
    nCtxSeq = pad(Math.floor(nCtx / parallel), 256);
    nCtx = nCtxSeq * parallel;
  }
  const nBatch = Math.min(nCtx, positive(settings.batchSize, 'batchSize', 2048) || 2048);
  const nUbatch = Math.min(nBatch, positive(settings.ubatchSize, 'ubatchSize', 512) || nBatch);
  const tokens = Math.min(nCtx, nUbatch);

  // Flash attention: auto resolves to on where the backend runs the op (the CPU backend does); grok forces it off.
  const faSetting = settings.flashAttention ?? 'auto';
  const k = cacheType(settings.cacheTypeK, 'K');
  const v = cacheType(settings.cacheTypeV, 'V');
  const flash = faSetting !== 'off' && facts.architecture !== 'grok';
  checkCacheTypes(facts, k, v, flash);

  // KV cache: one llama_kv_cache, or a full one and a sliding-window one (llama_kv_cache_iswa).
  const vWidthAll = flash ? null : Math.max(0, ...facts.kvLayers.map((g) => g.vWidth));
  const caches: Array<{ layers: KvLayerGroup[]; cells: number }> = [];
  if (facts.slidingWindow > 0) {
    const swaCells = settings.swaFull
      ? nCtxSeq
      : pad(Math.min(nCtxSeq, facts.slidingWindow * (unified ? parallel : 1) + nUbatch), 256);
    caches.push({ layers: facts.kvLayers.filter((g) => !g.swa), cells: nCtxSeq });
    caches.push({ layers: facts.kvLayers.filter((g) => g.swa), cells: swaCells });
  } else {
    caches.push({ layers: facts.kvLayers, cells: nCtxSeq });
  }
  let kvCacheBytes = 0;
  for (const c of caches) kvCacheBytes += cacheBytes(c.layers, k, v, c.cells, streams, vWidthAll);
  const rec = facts.recurrent;
  // llama_memory_recurrent: one f32 conv state and one f32 SSM state per slot (mem_size = n_seq_max).
  if (rec) kvCacheBytes += rec.layers * (rec.rWidth + rec.sWidth) * F32 * parallel;

  // Compute buffer: the larger of a layer's peak and the output stage.
  const live = caches.filter((c) => c.layers.length > 0);
  const maskBytes = live.reduce((n, c) => n + c.cells * tokens * (flash ? 2 : F32), 0);
  const kvWidth = Math.max(0, ...facts.kvLayers.map((g) => g.kWidth));
  let layerFloats = layerFloatsPerToken(facts, kvWidth, flash && v.quantized);
  if (!flash && live.length > 0) {
    // Without flash attention the scores are materialized: [n_kv, tokens, heads] f32.
    const attention = 2 * facts.queryWidth + 2.5 * facts.embeddingLength + 3 * kvWidth;
    const nKv = Math.max(...live.map((c) => c.cells));
    layerFloats = Math.max(layerFloats, attention + nKv * facts.headCount);
  }
  const inputsBytes = tokens * 24;
  const statesBytes = rec ? (parallel - 1) * (rec.rWidth + rec.sWidth) * F32 : 0;
  const layerStage = tokens * layerFloats * F32 + maskBytes + inputsBytes + statesBytes;
  const outputs = Math.min(tokens, parallel);
  const outputStage = F32 * (facts.vocabSize * outputs + facts.embeddingLength * (tokens + 2 * outputs));
  const computeBuffer = Math.ceil(Math.max(layerStage, outputStage));
  // Output buffer (llama_context::output_reserve): logits for one token per slot, and embeddings with --embeddings.
  const outputBuffer = F32 * parallel * (facts.vocabSize + (settings.embeddings ? facts.embeddingLength : 0));
  const computeBytes = computeBuffer + outputBuffer;

  return {
    weightsBytes: facts.weightsBytes,
    kvCacheBytes,
    computeBytes,
    projectorBytes: facts.projectorBytes,
    totalBytes: facts.weightsBytes + kvCacheBytes + computeBytes + facts.projectorBytes,
    ctxSize: nCtx,
    parallel,
  };
}
