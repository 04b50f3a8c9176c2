/**
 * Header facts of real published GGUF files, and what MAGI must report for each of them.
 * `test/support/corpus.ts` writes the test corpus from this table: every KV below in
 * this order, a vocabulary of the real size (synthetic tokens, the real `<think>` id),
 * and the full tensor-info list built per layer from the hyperparameters, with the
 * per-tensor types llama.cpp's quantizer picks for the file type. No tensor data.
 *
 * The numbers were read from the headers of the real files (llama.cpp conversions of
 * the upstream checkpoints: Qwen's, bartowski's and unsloth's GGUF releases) with the
 * project's own reader; Qwen3-30B-A3B's from its config.json and Qwen's GGUF release.
 * Chat templates are abbreviated: they keep the real markers (role tokens, `<think>`,
 * `enable_thinking`) but not the whole Jinja text.
 */
import { GgufType } from '../../src/registry/gguf/gguf-reader';
import type { GgufWriteKv } from './gguf-writer';

/** Text-model architectures the generator can lay out tensor by tensor. */
export type TextArchitecture = 'llama' | 'qwen2' | 'qwen3' | 'qwen3moe' | 'gemma3' | 'phi3';

/** llama.cpp file types (`general.file_type`) the corpus uses. */
export type FileTypeName = 'F16' | 'Q8_0' | 'Q4_K_M' | 'Q5_K_M' | 'Q6_K';

export const FILE_TYPE_NUMBER: Readonly<Record<FileTypeName, number>> = {
  F16: 1,
  Q8_0: 7,
  Q4_K_M: 15,
  Q5_K_M: 17,
  Q6_K: 18,
};

export interface TokenizerFacts {
  /** `tokenizer.ggml.model`: gpt2 (BPE, with merges) or llama (SentencePiece, with scores). */
  model: 'gpt2' | 'llama';
  pre: string;
  /** Tokens in `tokenizer.ggml.tokens` (and rows of token_embd / output). */
  vocabSize: number;
  /** Leave the vocabulary arrays (tokens, types, merges) out of the header: model and pre only. */
  noVocabulary?: boolean;
  /** Entries in `tokenizer.ggml.merges` (BPE). */
  merges?: number;
  /** Write `tokenizer.ggml.scores` (SentencePiece). */
  scores?: boolean;
  /** Id of `<think>` in the vocabulary (`</think>` follows), for reasoning models. */
  thinkTokenId?: number;
  /** `tokenizer.ggml.*` after the vocabulary: token ids and add_* flags, in file order. */
  ids: GgufWriteKv[];
  chatTemplate: string;
}

/** One text model (or, for a split model, the file gguf-split was given). */
export interface ModelFacts {
  kind: 'model';
  /** File name; a split model's shards are named `<stem>-0000k-of-0000n.gguf` from it. */
  file: string;
  architecture: TextArchitecture;
  fileType: FileTypeName;
  /** `general.*` after architecture and type, in file order. */
  general: GgufWriteKv[];
  /**
   * `<architecture>.*` keys without the prefix, in file order. The tensor list is built
   * from these: block_count, embedding_length, feed_forward_length, attention.head_count,
   * attention.head_count_kv, attention.key_length/value_length (else embedding/heads),
   * expert_count and expert_feed_forward_length.
   */
  hparams: GgufWriteKv[];
  /** More `<architecture>.*` keys, written after `general.file_type` (as the llama and phi3 converters do). */
  hparamsAfterFileType?: GgufWriteKv[];
  /**
   * Every this-many-th layer attends globally, the others through the sliding window.
   * Not a GGUF key: llama.cpp fixes it per architecture (gemma3: 6, so 5 local : 1 global).
   */
  slidingWindowPattern?: number;
  tokenizer: TokenizerFacts;
  /** No `output.weight`: the output projection reuses token_embd (quantized as the output). */
  tiedEmbeddings: boolean;
  /** Llama 3.x keeps its rope scaling factors in a `rope_freqs.weight` tensor (head_dim / 2). */
  ropeFreqsTensor?: boolean;
  /** Written with gguf-split `--split-max-size` of this many bytes of tensor data per shard. */
  splitMaxBytes?: number;
}

/** A multimodal projector (`clip` architecture, `mmproj-*.gguf`): a SigLIP vision tower and its projection. */
export interface ProjectorFacts {
  kind: 'projector';
  file: string;
  fileType: FileTypeName;
  general: GgufWriteKv[];
  /** `clip.*` keys without the prefix, in file order. */
  hparams: GgufWriteKv[];
}

const str = (key: string, value: string): GgufWriteKv => ({ key, type: GgufType.STRING, value });
const u32 = (key: string, value: number): GgufWriteKv => ({ key, type: GgufType.UINT32, value });
const f32 = (key: string, value: number): GgufWriteKv => ({ key, type: GgufType.FLOAT32, value });
const bool = (key: string, value: boolean): GgufWriteKv => ({ key, type: GgufType.BOOL, value });
const strs = (key: string, value: string[]): GgufWriteKv => ({
  key,
  type: GgufType.ARRAY,
  itemType: GgufType.STRING,
  value,
});
const f32s = (key: string, value: number[]): GgufWriteKv => ({
  key,
  type: GgufType.ARRAY,
  itemType: GgufType.FLOAT32,
  value,
});

/** The float32 the converters write for 1e-5 and 1e-6 (as the reader reads them back). */
const EPS_1E5 = 9.999999747378752e-6;
const EPS_1E6 = 9.999999974752427e-7;

const lines = (...l: string[]): string => l.join('\n');

/** Chat templates, abbreviated; each keeps the markers of the real one. */
export const TEMPLATES = {
  /** Qwen3: ChatML; strips reasoning from history; `enable_thinking=false` pre-fills an empty think block. */
  qwen3: lines(
    '{%- for message in messages %}',
    "    {%- set content = message.content if message.content is string else '' %}",
    '    {%- if message.role == "assistant" %}',
    "        {%- if '</think>' in content %}",
    "            {%- set content = content.split('</think>')[-1].lstrip('\\n') %}",
    '        {%- endif %}',
    "        {{- '<|im_start|>assistant\\n' + content + '<|im_end|>\\n' }}",
    '    {%- else %}',
    "        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>\\n' }}",
    '    {%- endif %}',
    '{%- endfor %}',
    '{%- if add_generation_prompt %}',
    "    {{- '<|im_start|>assistant\\n' }}",
    '    {%- if enable_thinking is defined and enable_thinking is false %}',
    "        {{- '<think>\\n\\n</think>\\n\\n' }}",
    '    {%- endif %}',
    '{%- endif %}',
  ),
  /** DeepSeek-R1 distills: strips `</think>` from history and opens `<think>` in the generation prompt. */
  deepseekR1: lines(
    "{% set ns = namespace(system_prompt='') %}",
    "{%- for message in messages %}{%- if message['role'] == 'system' %}{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}",
    '{{ bos_token }}{{ ns.system_prompt }}',
    '{%- for message in messages %}',
    "{%- if message['role'] == 'user' %}{{ '<｜User｜>' + message['content'] }}{%- endif %}",
    "{%- if message['role'] == 'assistant' %}{% set content = message['content'] %}",
    "{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}",
    "{{ '<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>' }}{%- endif %}",
    '{%- endfor %}',
    "{% if add_generation_prompt %}{{ '<｜Assistant｜><think>\\n' }}{% endif %}",
  ),
  /** QwQ: ChatML; strips `</think>` from history and opens `<think>` in the generation prompt. */
  qwq: lines(
    '{%- for message in messages %}',
    '    {%- if message.role == "assistant" %}',
    "        {%- set content = message.content.split('</think>')[-1].lstrip('\\n') %}",
    "        {{- '<|im_start|>assistant\\n' + content + '<|im_end|>\\n' }}",
    '    {%- else %}',
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}",
    '    {%- endif %}',
    '{%- endfor %}',
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n<think>\\n' }}{%- endif %}",
  ),
  /** Qwen2.5: ChatML with the default system prompt. */
  qwen25: lines(
    "{%- if messages[0]['role'] != 'system' %}",
    "    {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}",
    '{%- endif %}',
    '{%- for message in messages %}',
    "    {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}",
    '{%- endfor %}',
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}",
  ),
  /** Llama 3.1 / 3.3: header ids and `<|eot_id|>`. */
  llama3: lines(
    '{{- bos_token }}',
    '{%- if not date_string is defined %}{%- set date_string = "26 Jul 2024" %}{%- endif %}',
    '{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}',
    '{{- "Cutting Knowledge Date: December 2023\\n" }}',
    '{{- "Today Date: " + date_string + "<|eot_id|>" }}',
    '{%- for message in messages %}',
    "    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}",
    '{%- endfor %}',
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}",
  ),
  /** Mistral Small 3 (2501): V7-tekken system prompt and [INST] turns. */
  mistralSmall3: lines(
    '{%- set today = strftime_now("%Y-%m-%d") %}',
    '{%- set default_system_message = "You are Mistral Small 3, a Large Language Model (LLM) created by Mistral AI." %}',
    '{{- bos_token }}',
    "{{- '[SYSTEM_PROMPT]' + default_system_message + '[/SYSTEM_PROMPT]' }}",
    '{%- for message in messages %}',
    "    {%- if message['role'] == 'user' %}{{- '[INST]' + message['content'] + '[/INST]' }}",
    "    {%- elif message['role'] == 'assistant' %}{{- message['content'] + eos_token }}{%- endif %}",
    '{%- endfor %}',
  ),
  /** Phi-4: ChatML with `<|im_sep|>`. */
  phi4: lines(
    '{% for message in messages %}',
    "{{'<|im_start|>' + message['role'] + '<|im_sep|>' + message['content'] + '<|im_end|>'}}",
    '{% endfor %}',
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant<|im_sep|>' }}{% endif %}",
  ),
  /** Gemma 3: `<start_of_turn>` / `<end_of_turn>`, the system prompt folded into the first user turn. */
  gemma3: lines(
    '{{ bos_token }}',
    "{%- if messages[0]['role'] == 'system' -%}{%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}",
    "{%- else -%}{%- set first_user_prefix = '' -%}{%- endif -%}",
    '{%- for message in messages -%}',
    "    {%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}",
    "    {{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}",
    '{%- endfor -%}',
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\\n' }}{%- endif -%}",
  ),
} as const;

/** Qwen2/2.5/3 BPE vocabulary: 151,387 merges, `<|endoftext|>` 151643, `<|im_end|>` 151645. */
const QWEN_IDS = [
  u32('tokenizer.ggml.bos_token_id', 151643),
  u32('tokenizer.ggml.eos_token_id', 151645),
  u32('tokenizer.ggml.padding_token_id', 151643),
  bool('tokenizer.ggml.add_bos_token', false),
];
const QWEN3_TOKENIZER: TokenizerFacts = {
  model: 'gpt2',
  pre: 'qwen2',
  vocabSize: 151936,
  merges: 151387,
  thinkTokenId: 151667,
  ids: QWEN_IDS,
  chatTemplate: TEMPLATES.qwen3,
};
/** Llama 3 BPE vocabulary: 128,256 tokens, 280,147 merges; `<|eot_id|>` 128009 ends a turn. */
const LLAMA3_TOKENIZER: TokenizerFacts = {
  model: 'gpt2',
  pre: 'llama-bpe',
  vocabSize: 128256,
  merges: 280147,
  ids: [
    u32('tokenizer.ggml.bos_token_id', 128000),
    u32('tokenizer.ggml.eos_token_id', 128009),
    u32('tokenizer.ggml.padding_token_id', 128004),
  ],
  chatTemplate: TEMPLATES.llama3,
};

/** Llama 3.1 8B: 32 layers, 4096 wide, GQA 32/8 heads, 128k context, rope_freqs tensor. */
const LLAMA31_8B_HPARAMS = [
  u32('block_count', 32),
  u32('context_length', 131072),
  u32('embedding_length', 4096),
  u32('feed_forward_length', 14336),
  u32('attention.head_count', 32),
  u32('attention.head_count_kv', 8),
  f32('rope.freq_base', 500000),
  f32('attention.layer_norm_rms_epsilon', EPS_1E5),
];
const LLAMA3_AFTER_FILE_TYPE = [u32('vocab_size', 128256), u32('rope.dimension_count', 128)];
const META_LLAMA_31_GENERAL = [
  str('general.name', 'Meta Llama 3.1 8B Instruct'),
  str('general.finetune', 'Instruct'),
  str('general.basename', 'Meta-Llama-3.1'),
  str('general.size_label', '8B'),
  str('general.license', 'llama3.1'),
  str('general.organization', 'Meta Llama'),
  strs('general.tags', ['facebook', 'meta', 'pytorch', 'llama', 'llama-3', 'text-generation']),
  strs('general.languages', ['en', 'de', 'fr', 'it', 'pt', 'hi', 'es', 'th']),
];

/** Qwen3 dense models: q/k norms, head_dim 128 written as key/value length. */
function qwen3Hparams(blocks: number, width: number, ffn: number, heads: number): GgufWriteKv[] {
  return [
    u32('block_count', blocks),
    u32('context_length', 40960),
    u32('embedding_length', width),
    u32('feed_forward_length', ffn),
    u32('attention.head_count', heads),
    u32('attention.head_count_kv', 8),
    f32('rope.freq_base', 1000000),
    f32('attention.layer_norm_rms_epsilon', EPS_1E6),
    u32('attention.key_length', 128),
    u32('attention.value_length', 128),
  ];
}

function qwen3General(name: string, sizeLabel: string): GgufWriteKv[] {
  return [
    str('general.name', `Qwen3 ${name}`),
    str('general.basename', 'Qwen3'),
    str('general.size_label', sizeLabel),
    str('general.license', 'apache-2.0'),
  ];
}

/** The models of the corpus, in the order they are listed. */
export const MODELS: readonly ModelFacts[] = [
  {
    kind: 'model',
    file: 'Qwen3-4B-Q4_K_M.gguf',
    architecture: 'qwen3',
    fileType: 'Q4_K_M',
    general: [
      ...qwen3General('4B', '4B'),
      str('general.license.link', 'https://huggingface.co/Qwen/Qwen3-4B/blob/main/LICENSE'),
      u32('general.base_model.count', 1),
      str('general.base_model.0.name', 'Qwen3 4B Base'),
      str('general.base_model.0.organization', 'Qwen'),
      str('general.base_model.0.repo_url', 'https://huggingface.co/Qwen/Qwen3-4B-Base'),
      strs('general.tags', ['text-generation']),
    ],
    hparams: qwen3Hparams(36, 2560, 9728, 32),
    tokenizer: QWEN3_TOKENIZER,
    tiedEmbeddings: true,
  },
  {
    kind: 'model',
    file: 'DeepSeek-R1-Distill-Llama-8B-Q4_K_M.gguf',
    architecture: 'llama',
    fileType: 'Q4_K_M',
    general: [
      str('general.name', 'DeepSeek R1 Distill Llama 8B'),
      str('general.basename', 'DeepSeek-R1-Distill-Llama'),
      str('general.size_label', '8B'),
      str('general.license', 'mit'),
      str('general.organization', 'Deepseek Ai'),
      u32('general.base_model.count', 1),
      str('general.base_model.0.name', 'Llama 3.1 8B'),
      str('general.base_model.0.organization', 'Meta Llama'),
      str('general.base_model.0.repo_url', 'https://huggingface.co/meta-llama/Llama-3.1-8B'),
    ],
    hparams: LLAMA31_8B_HPARAMS,
    hparamsAfterFileType: LLAMA3_AFTER_FILE_TYPE,
    tokenizer: {
      ...LLAMA3_TOKENIZER,
      thinkTokenId: 128013,
      ids: [
        u32('tokenizer.ggml.bos_token_id', 128000),
        u32('tokenizer.ggml.eos_token_id', 128001),
        u32('tokenizer.ggml.padding_token_id', 128001),
      ],
      chatTemplate: TEMPLATES.deepseekR1,
    },
    tiedEmbeddings: false,
    ropeFreqsTensor: true,
  },
  {
    kind: 'model',
    file: 'Meta-Llama-3.1-8B-Instruct-Q8_0.gguf',
    architecture: 'llama',
    fileType: 'Q8_0',
    general: META_LLAMA_31_GENERAL,
    hparams: LLAMA31_8B_HPARAMS,
    hparamsAfterFileType: LLAMA3_AFTER_FILE_TYPE,
    tokenizer: LLAMA3_TOKENIZER,
    tiedEmbeddings: false,
    ropeFreqsTensor: true,
  },
  {
    kind: 'model',
    file: 'gemma-3-12b-it-Q4_K_M.gguf',
    architecture: 'gemma3',
    fileType: 'Q4_K_M',
    general: [
      str('general.name', 'Gemma 3 12b It'),
      str('general.finetune', 'it'),
      str('general.basename', 'gemma-3'),
      str('general.size_label', '12B'),
      str('general.license', 'gemma'),
      strs('general.tags', ['image-text-to-text']),
    ],
    hparams: [
      u32('context_length', 131072),
      u32('embedding_length', 3840),
      u32('block_count', 48),
      u32('feed_forward_length', 15360),
      u32('attention.head_count', 16),
      f32('attention.layer_norm_rms_epsilon', EPS_1E6),
      u32('attention.key_length', 256),
      u32('attention.value_length', 256),
      f32('rope.freq_base', 1000000),
      u32('attention.sliding_window', 1024),
      u32('attention.head_count_kv', 8),
      str('rope.scaling.type', 'linear'),
      f32('rope.scaling.factor', 8),
    ],
    slidingWindowPattern: 6,
    tokenizer: {
      model: 'llama',
      pre: 'default',
      // 262,144: the converter drops the 64 out-of-vocabulary rows of HF's 262,208.
      vocabSize: 262144,
      scores: true,
      ids: [
        u32('tokenizer.ggml.bos_token_id', 2),
        u32('tokenizer.ggml.eos_token_id', 1),
        u32('tokenizer.ggml.unknown_token_id', 3),
        u32('tokenizer.ggml.padding_token_id', 0),
        bool('tokenizer.ggml.add_bos_token', true),
        bool('tokenizer.ggml.add_eos_token', false),
        bool('tokenizer.ggml.add_space_prefix', false),
      ],
      chatTemplate: TEMPLATES.gemma3,
    },
    tiedEmbeddings: true,
  },
  {
    kind: 'model',
    file: 'Qwen2.5-Coder-14B-Instruct-Q5_K_M.gguf',
    architecture: 'qwen2',
    fileType: 'Q5_K_M',
    general: [
      str('general.name', 'Qwen2.5 Coder 14B Instruct'),
      str('general.finetune', 'Instruct'),
      str('general.basename', 'Qwen2.5-Coder'),
      str('general.size_label', '14B'),
      str('general.license', 'apache-2.0'),
    ],
    hparams: [
      u32('block_count', 48),
      u32('context_length', 32768),
      u32('embedding_length', 5120),
      u32('feed_forward_length', 13824),
      u32('attention.head_count', 40),
      u32('attention.head_count_kv', 8),
      f32('rope.freq_base', 1000000),
      f32('attention.layer_norm_rms_epsilon', EPS_1E6),
    ],
    tokenizer: {
      model: 'gpt2',
      pre: 'qwen2',
      vocabSize: 152064,
      merges: 151387,
      ids: QWEN_IDS,
      chatTemplate: TEMPLATES.qwen25,
    },
    tiedEmbeddings: false,
  },
  {
    kind: 'model',
    file: 'QwQ-32B-Q4_K_M.gguf',
    architecture: 'qwen2',
    fileType: 'Q4_K_M',
    general: [
      str('general.name', 'QwQ 32B'),
      str('general.basename', 'QwQ'),
      str('general.size_label', '32B'),
      str('general.license', 'apache-2.0'),
    ],
    hparams: [
      u32('block_count', 64),
      u32('context_length', 40960),
      u32('embedding_length', 5120),
      u32('feed_forward_length', 27648),
      u32('attention.head_count', 40),
      u32('attention.head_count_kv', 8),
      f32('rope.freq_base', 1000000),
      f32('attention.layer_norm_rms_epsilon', EPS_1E5),
    ],
    tokenizer: {
      model: 'gpt2',
      pre: 'qwen2',
      vocabSize: 152064,
      merges: 151387,
      thinkTokenId: 151667,
      ids: QWEN_IDS,
      chatTemplate: TEMPLATES.qwq,
    },
    tiedEmbeddings: false,
  },
  {
    kind: 'model',
    file: 'Mistral-Small-24B-Instruct-2501-Q6_K.gguf',
    architecture: 'llama',
    fileType: 'Q6_K',
    general: [
      str('general.name', 'Mistral Small 24B Instruct 2501'),
      str('general.finetune', 'Instruct'),
      str('general.basename', 'Mistral-Small'),
      str('general.version', '2501'),
      str('general.size_label', '24B'),
      str('general.license', 'apache-2.0'),
    ],
    hparams: [
      u32('block_count', 40),
      u32('context_length', 32768),
      u32('embedding_length', 5120),
      u32('feed_forward_length', 32768),
      u32('attention.head_count', 32),
      u32('attention.head_count_kv', 8),
      f32('rope.freq_base', 100000000),
      f32('attention.layer_norm_rms_epsilon', EPS_1E5),
      // head_dim 128 is not 5120 / 32: the header says so explicitly.
      u32('attention.key_length', 128),
      u32('attention.value_length', 128),
    ],
    hparamsAfterFileType: [u32('vocab_size', 131072), u32('rope.dimension_count', 128)],
    tokenizer: {
      model: 'gpt2',
      pre: 'tekken',
      vocabSize: 131072,
      merges: 269443,
      ids: [
        u32('tokenizer.ggml.bos_token_id', 1),
        u32('tokenizer.ggml.eos_token_id', 2),
        u32('tokenizer.ggml.unknown_token_id', 0),
        bool('tokenizer.ggml.add_bos_token', true),
        bool('tokenizer.ggml.add_eos_token', false),
      ],
      chatTemplate: TEMPLATES.mistralSmall3,
    },
    tiedEmbeddings: false,
  },
  {
    kind: 'model',
    file: 'phi-4-Q4_K_M.gguf',
    architecture: 'phi3',
    fileType: 'Q4_K_M',
    general: [
      str('general.name', 'Phi 4'),
      str('general.basename', 'phi'),
      str('general.version', '4'),
      // The converter rounds 14.66B up.
      str('general.size_label', '15B'),
      str('general.license', 'mit'),
      str('general.license.link', 'https://huggingface.co/microsoft/phi-4/resolve/main/LICENSE'),
      str('general.organization', 'Microsoft'),
      strs('general.tags', ['phi', 'nlp', 'math', 'code', 'chat', 'conversational', 'text-generation']),
    ],
    hparams: [
      u32('context_length', 16384),
      u32('rope.scaling.original_context_length', 16384),
      u32('embedding_length', 5120),
      u32('feed_forward_length', 17920),
      u32('block_count', 40),
      u32('attention.head_count', 40),
      u32('attention.head_count_kv', 10),
      f32('attention.layer_norm_rms_epsilon', EPS_1E5),
      u32('rope.dimension_count', 128),
      f32('rope.freq_base', 250000),
    ],
    // phi3 writes 0: no sliding window (phi-3-mini's 2047 is gone in phi-4).
    hparamsAfterFileType: [u32('attention.sliding_window', 0)],
    tokenizer: {
      model: 'gpt2',
      pre: 'dbrx',
      vocabSize: 100352,
      merges: 100000,
      ids: [
        u32('tokenizer.ggml.bos_token_id', 100257),
        u32('tokenizer.ggml.eos_token_id', 100265),
        u32('tokenizer.ggml.padding_token_id', 100351),
        bool('tokenizer.ggml.add_bos_token', false),
        bool('tokenizer.ggml.add_eos_token', false),
      ],
      chatTemplate: TEMPLATES.phi4,
    },
    tiedEmbeddings: false,
  },
  {
    kind: 'model',
    file: 'Llama-3.3-70B-Instruct-Q4_K_M.gguf',
    architecture: 'llama',
    fileType: 'Q4_K_M',
    general: [
      str('general.name', 'Llama 3.3 70B Instruct'),
      str('general.finetune', 'Instruct'),
      str('general.basename', 'Llama-3.3'),
      str('general.size_label', '70B'),
      str('general.license', 'llama3.3'),
      str('general.organization', 'Meta Llama'),
      strs('general.languages', ['en', 'fr', 'it', 'pt', 'hi', 'es', 'th', 'de']),
    ],
    hparams: [
      u32('block_count', 80),
      u32('context_length', 131072),
      u32('embedding_length', 8192),
      u32('feed_forward_length', 28672),
      u32('attention.head_count', 64),
      u32('attention.head_count_kv', 8),
      f32('rope.freq_base', 500000),
      f32('attention.layer_norm_rms_epsilon', EPS_1E5),
    ],
    hparamsAfterFileType: LLAMA3_AFTER_FILE_TYPE,
    tokenizer: LLAMA3_TOKENIZER,
    tiedEmbeddings: false,
    ropeFreqsTensor: true,
    // 42.5 GB of Q4_K_M data in shards of at most 16 GB: three files.
    splitMaxBytes: 16e9,
  },
  {
    kind: 'model',
    // Misnamed on purpose: the header is Qwen3 1.7B Q4_K_M.
    file: 'tiny-7B-Q8_0.gguf',
    architecture: 'qwen3',
    fileType: 'Q4_K_M',
    general: qwen3General('1.7B', '1.7B'),
    hparams: qwen3Hparams(28, 2048, 6144, 16),
    tokenizer: QWEN3_TOKENIZER,
    tiedEmbeddings: true,
  },
  {
    kind: 'model',
    file: 'Qwen3-30B-A3B-Q4_K_M.gguf',
    architecture: 'qwen3moe',
    fileType: 'Q4_K_M',
    general: [
      ...qwen3General('30B A3B', '30B-A3B'),
      str('general.license.link', 'https://huggingface.co/Qwen/Qwen3-30B-A3B/blob/main/LICENSE'),
      u32('general.base_model.count', 1),
      str('general.base_model.0.name', 'Qwen3 30B A3B Base'),
      str('general.base_model.0.organization', 'Qwen'),
      str('general.base_model.0.repo_url', 'https://huggingface.co/Qwen/Qwen3-30B-A3B-Base'),
      strs('general.tags', ['text-generation']),
    ],
    hparams: [
      u32('block_count', 48),
      u32('context_length', 40960),
      u32('embedding_length', 2048),
      // The dense FFN width of the config; every layer is MoE, so no tensor uses it.
      u32('feed_forward_length', 6144),
      u32('attention.head_count', 32),
      u32('attention.head_count_kv', 4),
      f32('rope.freq_base', 1000000),
      f32('attention.layer_norm_rms_epsilon', EPS_1E6),
      u32('expert_used_count', 8),
      u32('attention.key_length', 128),
      u32('attention.value_length', 128),
      u32('expert_count', 128),
      u32('expert_feed_forward_length', 768),
    ],
    tokenizer: QWEN3_TOKENIZER,
    tiedEmbeddings: false,
  },
];

/** Gemma 3's vision tower (SigLIP so400m, 896 px, patch 14) and its projection to the 3840-wide text model. */
export const PROJECTORS: readonly ProjectorFacts[] = [
  {
    kind: 'projector',
    file: 'mmproj-gemma-3-12b-it-f16.gguf',
    fileType: 'F16',
    general: [
      str('general.name', 'Gemma 3 12b It'),
      str('general.finetune', 'it'),
      str('general.basename', 'gemma-3'),
      str('general.license', 'gemma'),
    ],
    hparams: [
      bool('has_vision_encoder', true),
      u32('vision.projection_dim', 3840),
      u32('vision.image_size', 896),
      u32('vision.patch_size', 14),
      u32('vision.embedding_length', 1152),
      u32('vision.feed_forward_length', 4304),
      u32('vision.block_count', 27),
      u32('vision.attention.head_count', 16),
      f32s('vision.image_mean', [0.5, 0.5, 0.5]),
      f32s('vision.image_std', [0.5, 0.5, 0.5]),
      str('projector_type', 'gemma3'),
      f32('vision.attention.layer_norm_epsilon', EPS_1E6),
      bool('use_gelu', true),
    ],
  },
];

/** Headers the broken files are cut from (not models of the corpus themselves). */
export const BROKEN_BASES = {
  /** Llama 3.1 8B Instruct Q4_K_M, with its full vocabulary. */
  llama31_8b_q4km: {
    kind: 'model',
    file: 'Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf',
    architecture: 'llama',
    fileType: 'Q4_K_M',
    general: META_LLAMA_31_GENERAL,
    hparams: LLAMA31_8B_HPARAMS,
    hparamsAfterFileType: LLAMA3_AFTER_FILE_TYPE,
    tokenizer: LLAMA3_TOKENIZER,
    tiedEmbeddings: false,
    ropeFreqsTensor: true,
  },
  /** Qwen3 0.6B Q4_K_M without its vocabulary: 21 KVs and 310 tensor infos, 23 kB. */
  qwen3_06b_q4km_novocab: {
    kind: 'model',
    file: 'Qwen3-0.6B-Q4_K_M.gguf',
    architecture: 'qwen3',
    fileType: 'Q4_K_M',
    general: qwen3General('0.6B', '0.6B'),
    hparams: qwen3Hparams(28, 1024, 3072, 16),
    tokenizer: { ...QWEN3_TOKENIZER, noVocabulary: true, ids: [] },
    tiedEmbeddings: true,
  },
} satisfies Record<string, ModelFacts>;

export type BrokenRecipe =
  | { kind: 'empty' }
  | { kind: 'text'; text: string }
  | { kind: 'truncated'; base: ModelFacts; at: number }
  | { kind: 'huge-string'; base: ModelFacts; key: string }
  | { kind: 'huge-tensor-count'; base: ModelFacts };

export interface BrokenFile {
  file: string;
  why: string;
  recipe: BrokenRecipe;
}

export const BROKEN: readonly BrokenFile[] = [
  { file: 'empty.gguf', why: 'zero-byte file', recipe: { kind: 'empty' } },
  {
    file: 'not-a-model.gguf',
    why: 'wrong magic: plain text, does not start with "GGUF"',
    recipe: {
      kind: 'text',
      text: lines(
        '# model card',
        '',
        'Not a GGUF model: a markdown note saved with a .gguf extension.',
        '',
        'Quantization: Q4_K_M',
        'Parameters: 7B',
        '',
      ),
    },
  },
  {
    file: 'truncated.gguf',
    why:
      'valid GGUF v3 start (Llama 3.1 8B Instruct Q4_K_M header) cut at byte 300865, inside the ' +
      'tokenizer.ggml.tokens array; the rest of the KVs and every tensor info are missing',
    recipe: { kind: 'truncated', base: BROKEN_BASES.llama31_8b_q4km, at: 300865 },
  },
  {
    file: 'huge-string.gguf',
    why: 'the general.name string declares 2^60 bytes (Qwen3 0.6B header); must be rejected without allocating',
    recipe: { kind: 'huge-string', base: BROKEN_BASES.qwen3_06b_q4km_novocab, key: 'general.name' },
  },
  {
    file: 'too-many-tensors.gguf',
    why: 'tensor_count = 2^40 in a file holding 310 tensor infos (Qwen3 0.6B header); must be rejected without allocating',
    recipe: { kind: 'huge-tensor-count', base: BROKEN_BASES.qwen3_06b_q4km_novocab },
  },
];

/** What the reader and the registry must report for one model of the corpus. */
export interface ExpectedModel {
  /** The file the registry lists (the first shard of a split model). */
  file: string;
  architecture: string;
  family: string;
  /** Families a reasonable reading of the name could give (the registry's must be one). */
  familyAlternatives: string[];
  /** Sum over the tensor infos of every shard of the product of the dims (the real file's). */
  parameterCount: number;
  /** parameterCount / 1e9, two decimals. */
  sizeParams: number;
  /** llama.cpp name of `general.file_type`. */
  quantization: string;
  contextLength: number;
  isThinkingModel: boolean;
  split: { count: number; files: string[] } | null;
  /** The projector the registry pairs with it. */
  mmproj: string | null;
  sizeLabel: string;
  name: string;
  fileType: number;
  /** Tensor infos over all shards. */
  tensorCount: number;
  vocabSize: number;
  blockCount: number;
  embeddingLength: number;
  /** MoE: `<arch>.expert_count` and `.expert_used_count`, else null. */
  expertCount: number | null;
  expertUsedCount: number | null;
  /**
   * Bytes of tensor data in the real file (file size minus header), each tensor padded to
   * 32 bytes. Qwen3-30B-A3B's is the published Q4_K_M file size (18.6 GB), so approximate.
   */
  tensorDataBytes: number;
}

export interface ExpectedProjector {
  file: string;
  architecture: 'clip';
  projectorType: string;
  parameterCount: number;
  sizeParams: number;
  quantization: string;
  pairsWith: string;
  name: string;
  tensorCount: number;
  tensorDataBytes: number;
}

export interface ExpectedCorpus {
  models: ExpectedModel[];
  projectors: string[];
  projectorDetails: ExpectedProjector[];
  broken: Array<{ file: string; why: string }>;
}

const LLAMA_FAMILIES = ['llama', 'llama3', 'llama-3'];
const LLAMA_70B_SHARDS = [1, 2, 3].map((k) => `Llama-3.3-70B-Instruct-Q4_K_M-0000${k}-of-00003.gguf`);

export const EXPECTED: ExpectedCorpus = {
  models: [
    {
      file: 'Qwen3-4B-Q4_K_M.gguf',
      architecture: 'qwen3',
      family: 'qwen3',
      familyAlternatives: ['qwen', 'qwen3'],
      parameterCount: 4022468096,
      sizeParams: 4.02,
      quantization: 'Q4_K_M',
      contextLength: 40960,
      isThinkingModel: true,
      split: null,
      mmproj: null,
      sizeLabel: '4B',
      name: 'Qwen3 4B',
      fileType: 15,
      tensorCount: 398,
      vocabSize: 151936,
      blockCount: 36,
      embeddingLength: 2560,
      expertCount: null,
      expertUsedCount: null,
      tensorDataBytes: 2491323904,
    },
    {
      file: 'DeepSeek-R1-Distill-Llama-8B-Q4_K_M.gguf',
      architecture: 'llama',
      family: 'deepseek',
      familyAlternatives: [
        'deepseek-r1-distill',
        'deepseek-r1',
        'deepseek',
        'deepseek-r1-distill-llama',
        'llama',
        'llama3',
      ],
      parameterCount: 8030261312,
      sizeParams: 8.03,
      quantization: 'Q4_K_M',
      contextLength: 131072,
      isThinkingModel: true,
      split: null,
      mmproj: null,
      sizeLabel: '8B',
      name: 'DeepSeek R1 Distill Llama 8B',
      fileType: 15,
      tensorCount: 292,
      vocabSize: 128256,
      blockCount: 32,
      embeddingLength: 4096,
      expertCount: null,
      expertUsedCount: null,
      tensorDataBytes: 4912898304,
    },
    {
      file: 'Meta-Llama-3.1-8B-Instruct-Q8_0.gguf',
      architecture: 'llama',
      family: 'llama',
      familyAlternatives: [...LLAMA_FAMILIES, 'llama3.1', 'llama-3.1'],
      parameterCount: 8030261312,
      sizeParams: 8.03,
      quantization: 'Q8_0',
      contextLength: 131072,
      isThinkingModel: false,
      split: null,
      mmproj: null,
      sizeLabel: '8B',
      name: 'Meta Llama 3.1 8B Instruct',
      fileType: 7,
      tensorCount: 292,
      vocabSize: 128256,
      blockCount: 32,
      embeddingLength: 4096,
      expertCount: null,
      expertUsedCount: null,
      tensorDataBytes: 8532934912,
    },
    {
      file: 'gemma-3-12b-it-Q4_K_M.gguf',
      architecture: 'gemma3',
      family: 'gemma3',
      familyAlternatives: ['gemma', 'gemma3', 'gemma-3'],
      parameterCount: 11765788416,
      sizeParams: 11.77,
      quantization: 'Q4_K_M',
      contextLength: 131072,
      isThinkingModel: false,
      split: null,
      mmproj: 'mmproj-gemma-3-12b-it-f16.gguf',
      sizeLabel: '12B',
      name: 'Gemma 3 12b It',
      fileType: 15,
      tensorCount: 626,
      vocabSize: 262144,
      blockCount: 48,
      embeddingLength: 3840,
      expertCount: null,
      expertUsedCount: null,
      tensorDataBytes: 7294024704,
    },
    {
      file: 'Qwen2.5-Coder-14B-Instruct-Q5_K_M.gguf',
      architecture: 'qwen2',
      family: 'qwen2.5',
      familyAlternatives: ['qwen2.5', 'qwen2', 'qwen', 'qwen2.5-coder'],
      parameterCount: 14770033664,
      sizeParams: 14.77,
      quantization: 'Q5_K_M',
      contextLength: 32768,
      isThinkingModel: false,
      split: null,
      mmproj: null,
      sizeLabel: '14B',
      name: 'Qwen2.5 Coder 14B Instruct',
      fileType: 17,
      tensorCount: 579,
      vocabSize: 152064,
      blockCount: 48,
      embeddingLength: 5120,
      expertCount: null,
      expertUsedCount: null,
      tensorDataBytes: 10502905856,
    },
    {
      file: 'QwQ-32B-Q4_K_M.gguf',
      architecture: 'qwen2',
      family: 'qwq',
      familyAlternatives: ['qwq', 'qwen2', 'qwen2.5', 'qwen'],
      parameterCount: 32763876352,
      sizeParams: 32.76,
      quantization: 'Q4_K_M',
      contextLength: 40960,
      isThinkingModel: true,
      split: null,
      mmproj: null,
      sizeLabel: '32B',
      name: 'QwQ 32B',
      fileType: 15,
      tensorCount: 771,
      vocabSize: 152064,
      blockCount: 64,
      embeddingLength: 5120,
      expertCount: null,
      expertUsedCount: null,
      tensorDataBytes: 19845357568,
    },
    {
      file: 'Mistral-Small-24B-Instruct-2501-Q6_K.gguf',
      architecture: 'llama',
      family: 'mistral',
      familyAlternatives: ['mistral', 'mistral-small', 'llama'],
      parameterCount: 23572403200,
      sizeParams: 23.57,
      quantization: 'Q6_K',
      contextLength: 32768,
      isThinkingModel: false,
      split: null,
      mmproj: null,
      sizeLabel: '24B',
      name: 'Mistral Small 24B Instruct 2501',
      fileType: 18,
      tensorCount: 363,
      vocabSize: 131072,
      blockCount: 40,
      embeddingLength: 5120,
      expertCount: null,
      expertUsedCount: null,
      tensorDataBytes: 19338055680,
    },
    {
      file: 'phi-4-Q4_K_M.gguf',
      architecture: 'phi3',
      family: 'phi4',
      familyAlternatives: ['phi', 'phi3', 'phi-4', 'phi4'],
      parameterCount: 14659507200,
      sizeParams: 14.66,
      quantization: 'Q4_K_M',
      contextLength: 16384,
      isThinkingModel: false,
      split: null,
      mmproj: null,
      sizeLabel: '15B',
      name: 'Phi 4',
      fileType: 15,
      tensorCount: 243,
      vocabSize: 100352,
      blockCount: 40,
      embeddingLength: 5120,
      expertCount: null,
      expertUsedCount: null,
      tensorDataBytes: 9049559040,
    },
    {
      file: LLAMA_70B_SHARDS[0],
      architecture: 'llama',
      family: 'llama',
      familyAlternatives: [...LLAMA_FAMILIES, 'llama3.3', 'llama-3.3'],
      parameterCount: 70553706560,
      sizeParams: 70.55,
      quantization: 'Q4_K_M',
      contextLength: 131072,
      isThinkingModel: false,
      split: { count: 3, files: LLAMA_70B_SHARDS },
      mmproj: null,
      sizeLabel: '70B',
      name: 'Llama 3.3 70B Instruct',
      fileType: 15,
      tensorCount: 724,
      vocabSize: 128256,
      blockCount: 80,
      embeddingLength: 8192,
      expertCount: null,
      expertUsedCount: null,
      tensorDataBytes: 42512531712,
    },
    {
      file: 'tiny-7B-Q8_0.gguf',
      architecture: 'qwen3',
      family: 'qwen3',
      familyAlternatives: ['qwen', 'qwen3'],
      parameterCount: 1720574976,
      sizeParams: 1.72,
      quantization: 'Q4_K_M',
      contextLength: 40960,
      isThinkingModel: true,
      split: null,
      mmproj: null,
      sizeLabel: '1.7B',
      name: 'Qwen3 1.7B',
      fileType: 15,
      tensorCount: 310,
      vocabSize: 151936,
      blockCount: 28,
      embeddingLength: 2048,
      expertCount: null,
      expertUsedCount: null,
      tensorDataBytes: 1101457408,
    },
    {
      file: 'Qwen3-30B-A3B-Q4_K_M.gguf',
      architecture: 'qwen3moe',
      family: 'qwen3',
      familyAlternatives: ['qwen', 'qwen3', 'qwen3moe'],
      parameterCount: 30532122624,
      sizeParams: 30.53,
      quantization: 'Q4_K_M',
      contextLength: 40960,
      isThinkingModel: true,
      split: null,
      mmproj: null,
      sizeLabel: '30B-A3B',
      name: 'Qwen3 30B A3B',
      fileType: 15,
      tensorCount: 579,
      vocabSize: 151936,
      blockCount: 48,
      embeddingLength: 2048,
      expertCount: 128,
      expertUsedCount: 8,
      tensorDataBytes: 18.6e9,
    },
  ],
  projectors: ['mmproj-gemma-3-12b-it-f16.gguf'],
  projectorDetails: [
    {
      file: 'mmproj-gemma-3-12b-it-f16.gguf',
      architecture: 'clip',
      projectorType: 'gemma3',
      parameterCount: 421290864,
      sizeParams: 0.42,
      quantization: 'F16',
      pairsWith: 'gemma-3-12b-it-Q4_K_M.gguf',
      name: 'Gemma 3 12b It',
      tensorCount: 439,
      tensorDataBytes: 854175168,
    },
  ],
  broken: BROKEN.map(({ file, why }) => ({ file, why })),
};
