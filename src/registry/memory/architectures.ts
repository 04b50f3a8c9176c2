/**
 * What llama.cpp decides per architecture about a model's memory layout, as data:
 * which layers attend through a sliding window (and how wide it is), which layers keep
 * a recurrent state instead of a KV cache, which keep no cache at all. Each entry
 * follows the architecture's `load_arch_hparams` in llama.cpp's `src/models/<arch>.cpp`
 * and the memory it gets in `llama_model::create_memory` (`src/llama-model.cpp`).
 *
 * An architecture missing here is estimated as plain attention on every layer when its
 * header has no sliding-window or state-space keys (that is what llama.cpp's generic
 * `load_hparams` reads for any architecture), and not estimated otherwise.
 */

/**
 * How the sliding-window layers are chosen, as llama.cpp's `load_swa_pattern(ml, n, dense_first)`:
 * `<arch>.attention.sliding_window_pattern` as a per-layer bool array wins, else as a
 * number it replaces `pattern`; with pattern n every n-th layer attends globally — the
 * last of each n (`il % n < n - 1` is SWA) or, dense first, the first (`il % n != 0`).
 */
export interface SwaRule {
  /** Default layer period of the pattern; 0 makes every layer SWA. */
  pattern: number;
  denseFirst?: boolean;
  /** The pattern is only ever the per-layer array key (required). */
  arrayOnly?: boolean;
  /**
   * Where the window comes from: `key` (`<arch>.attention.sliding_window`, required),
   * `gated` (SWA only when that key is present and > 0, else no SWA at all), or a
   * number (the default when the key is absent).
   */
  window: 'key' | 'gated' | number;
  /** The window llama.cpp uses whatever the key says (when SWA is on at all). */
  fixedWindow?: number;
  /** llama4: SWA (chunked) unless the key is present and 0. */
  offWhenKeyZero?: boolean;
  type?: 'standard' | 'chunked' | 'symmetric';
}

/** Which layers keep a recurrent state (`hparams.is_recr`) rather than (or besides) attention. */
export type RecurrentRule =
  /** Every layer is recurrent (mamba, mamba2, rwkv*): llama_memory_recurrent only. */
  | 'all'
  /** A layer is recurrent iff its `head_count_kv` is 0 (granitehybrid, jamba, plamo2, lfm2). */
  | 'no-kv-heads'
  /** Recurrent iff head_count_kv and feed_forward_length are both 0; attention iff only head_count_kv is not (nemotron_h). */
  | 'nemotron'
  /** `attention.recurrent_layers` array, else every layer but each `full_attention_interval`-th (default 4). */
  | 'interval'
  /** Every layer has both a recurrent state and a KV cache (falcon-h1). */
  | 'both';

/** How the per-layer recurrent state is sized (`llama_hparams::n_embd_r` / `n_embd_s`). */
export type StateKind = 'ssm' | 'rwkv' | 'shortconv';

export interface ArchRule {
  /** No KV cache or state at all (encoders, diffusion models: `create_memory` returns null). */
  noMemory?: boolean;
  swa?: SwaRule;
  recurrent?: RecurrentRule;
  state?: StateKind;
  /** With a recurrent rule and an SWA window: every attention layer is SWA (lfm2). */
  attentionIsSwa?: boolean;
  /** `hparams.n_layer_kv_from_start`: only the first N layers own a KV cache, the rest reuse one. */
  kvFromStart?: number | 'shared-kv-layers';
  /** Default period of the full-attention layers for the `interval` rule (`full_attention_interval`). */
  fullAttentionInterval?: number;
}

const PLAIN: ArchRule = {};

/** Architectures whose load_arch_hparams sets no SWA, recurrence or KV sharing (checked one by one). */
const PLAIN_ATTENTION = [
  'llama',
  'llama-embed',
  'deci',
  'falcon',
  'grok',
  'gpt2',
  'gptj',
  'gptneox',
  'mpt',
  'baichuan',
  'starcoder',
  'refact',
  'bloom',
  'stablelm',
  'qwen',
  'qwen2',
  'qwen2moe',
  'qwen2vl',
  'qwen3',
  'qwen3moe',
  'qwen3vl',
  'qwen3vlmoe',
  'phi2',
  'phi3',
  'phimoe',
  'plamo',
  'codeshell',
  'orion',
  'internlm2',
  'minicpm',
  'minicpm3',
  'gemma',
  'starcoder2',
  'xverse',
  'command-r',
  'dbrx',
  'olmo',
  'olmoe',
  'openelm',
  'arctic',
  'deepseek',
  'deepseek2',
  'chatglm',
  'glm4',
  'glm4moe',
  'bitnet',
  'jais',
  'jais2',
  'nemotron',
  'exaone',
  'granite',
  'granitemoe',
  'chameleon',
  'plm',
  'bailingmoe',
  'bailingmoe2',
  'dots1',
  'arcee',
  'ernie4_5',
  'ernie4_5-moe',
  'hunyuan-moe',
  'hunyuan-dense',
  'smollm3',
  'seed_oss',
  'grovemoe',
  'apertus',
  'minimax-m2',
  'mistral3',
  'cogvlm',
  'pangu-embedded',
  'maincoder',
];

/** Encoders and diffusion models: llama_model::create_memory gives them no memory module. */
const NO_MEMORY = [
  'bert',
  'jina-bert-v2',
  'jina-bert-v3',
  'nomic-bert',
  'nomic-bert-moe',
  'neo-bert',
  'eurobert',
  'wavtokenizer-dec',
  'modern-bert',
  'gemma-embedding',
  'dream',
  'llada',
  'llada-moe',
  'rnd1',
];

export const ARCH_RULES: Readonly<Record<string, ArchRule>> = Object.freeze({
  ...Object.fromEntries(PLAIN_ATTENTION.map((a) => [a, PLAIN])),
  ...Object.fromEntries(NO_MEMORY.map((a) => [a, { noMemory: true }])),

  // Sliding-window attention (src/models/<arch>.cpp).
  gemma2: { swa: { pattern: 2, window: 4096 } },
  gemma3: { swa: { pattern: 6, window: 'gated' } },
  gemma3n: { swa: { pattern: 5, window: 'key' }, kvFromStart: 20 },
  gemma4: { swa: { pattern: 0, arrayOnly: true, window: 'key' }, kvFromStart: 'shared-kv-layers' },
  cohere2: { swa: { pattern: 4, window: 'key' } },
  cohere2moe: { swa: { pattern: 4, denseFirst: true, window: 'key' } },
  'gpt-oss': { swa: { pattern: 2, window: 'key' } },
  llama4: { swa: { pattern: 4, window: 8192, fixedWindow: 8192, offWhenKeyZero: true, type: 'chunked' } },
  olmo2: { swa: { pattern: 4, window: 'gated' } },
  afmoe: { swa: { pattern: 4, window: 'gated' } },
  mellum: { swa: { pattern: 4, window: 'gated' } },
  laguna: { swa: { pattern: 4, denseFirst: true, window: 'gated' } },
  plamo3: { swa: { pattern: 8, window: 'gated' } },
  smallthinker: { swa: { pattern: 4, denseFirst: true, window: 'gated', fixedWindow: 4096 } },
  'exaone-moe': { swa: { pattern: 4, window: 'key' } },
  'muse-glimmer': { swa: { pattern: 4, window: 'key' } },
  mimo2: { swa: { pattern: 0, arrayOnly: true, window: 'key' } },
  step35: { swa: { pattern: 0, arrayOnly: true, window: 'key' } },
  maple: { swa: { pattern: 0, arrayOnly: true, window: 'key' } },
  spark2_5: { swa: { pattern: 0, arrayOnly: true, window: 'key' } },
  granite_swa: { swa: { pattern: 0, arrayOnly: true, window: 'key' } },

  // Recurrent (llm_arch_is_recurrent): llama_memory_recurrent for every layer, f32 states.
  mamba: { recurrent: 'all', state: 'ssm' },
  mamba2: { recurrent: 'all', state: 'ssm' },
  rwkv6: { recurrent: 'all', state: 'rwkv' },
  rwkv6qwen2: { recurrent: 'all', state: 'rwkv' },
  rwkv7: { recurrent: 'all', state: 'rwkv' },
  arwkv7: { recurrent: 'all', state: 'rwkv' },

  // Hybrid (llm_arch_is_hybrid): a KV cache for the attention layers, states for the others.
  granitehybrid: { recurrent: 'no-kv-heads', state: 'ssm' },
  jamba: { recurrent: 'no-kv-heads', state: 'ssm' },
  plamo2: { recurrent: 'no-kv-heads', state: 'ssm' },
  lfm2: { recurrent: 'no-kv-heads', state: 'shortconv', attentionIsSwa: true, swa: { pattern: 0, window: 'gated' } },
  lfm2moe: { recurrent: 'no-kv-heads', state: 'shortconv' },
  nemotron_h: { recurrent: 'nemotron', state: 'ssm' },
  nemotron_h_moe: { recurrent: 'nemotron', state: 'ssm' },
  qwen3next: { recurrent: 'interval', state: 'ssm', fullAttentionInterval: 4 },
  qwen35: { recurrent: 'interval', state: 'ssm', fullAttentionInterval: 4 },
  qwen35moe: { recurrent: 'interval', state: 'ssm', fullAttentionInterval: 4 },
  'falcon-h1': { recurrent: 'both', state: 'ssm' },
} satisfies Record<string, ArchRule>);

/** Header keys that mean a layout the generic reading would get wrong (an unknown architecture with them is not estimated). */
export const SPECIAL_LAYOUT_KEYS = [
  'attention.sliding_window',
  'attention.sliding_window_pattern',
  'attention.shared_kv_layers',
  'attention.recurrent_layers',
  'full_attention_interval',
  'ssm.conv_kernel',
  'ssm.state_size',
  'shortconv.l_cache',
  'wkv.head_size',
  'attention.indexer.head_count',
];
