"""A tiny llama-architecture GGUF for benching and smoke-testing against a real llama-server
where no real model can be downloaded: random F32 weights (2 layers, 64 wide, 4.2M
parameters, 17 MB) and a real tokenizer copied from llama.cpp's own vocab file
(models/ggml-vocab-llama-spm.gguf, 32,000 tokens). It answers gibberish at ~0.5 ms per
token on one core — about what the gateway bench's stand-in does — through llama-server's
real HTTP stack, slots and SSE.

    python3 bench/tiny-llama.py <llama.cpp checkout> <out.gguf> [n_embd n_ff n_layer]

The optional sizes make a larger model of the same kind, e.g. `1024 2816 16` (270M parameters,
1.1 GB) for benches where the load time of a real model matters (bench/scheduling.bench.ts).

Needs numpy (Debian: python3-numpy) and the checkout's gguf-py. README ("Against a real
llama-server") says where a checkout comes from when GitHub is out of reach.
"""
import sys

llama_cpp, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, f'{llama_cpp}/gguf-py')
import numpy as np  # noqa: E402
from gguf import GGUFReader, GGUFValueType, GGUFWriter  # noqa: E402

N_EMBD, N_HEAD, N_FF, N_LAYER = 64, 4, 128, 2
if len(sys.argv) > 3:
    N_EMBD, N_FF, N_LAYER = (int(x) for x in sys.argv[3:6])
    N_HEAD = max(4, N_EMBD // 64)

vocab = GGUFReader(f'{llama_cpp}/models/ggml-vocab-llama-spm.gguf')
w = GGUFWriter(out, 'llama')
w.add_name('TinyLlama Bench 4M' if N_EMBD == 64 else f'TinyLlama Bench {N_EMBD}x{N_LAYER}')
w.add_context_length(2048)
w.add_embedding_length(N_EMBD)
w.add_block_count(N_LAYER)
w.add_feed_forward_length(N_FF)
w.add_head_count(N_HEAD)
w.add_head_count_kv(N_HEAD)
w.add_layer_norm_rms_eps(1e-5)
w.add_rope_dimension_count(N_EMBD // N_HEAD)
w.add_file_type(0)  # all F32

# The tokenizer: every tokenizer.* key of the vocab file, as it is.
n_vocab = 0
for name, field in vocab.fields.items():
    if not name.startswith('tokenizer.'):
        continue
    kind = field.types[0]
    if kind == GGUFValueType.ARRAY:
        if field.types[-1] == GGUFValueType.STRING:
            value = [bytes(field.parts[i]).decode('utf-8', errors='replace') for i in field.data]
        else:
            value = [field.parts[i][0].item() for i in field.data]
        if name == 'tokenizer.ggml.tokens':
            n_vocab = len(value)
        w.add_array(name, value)
    elif kind == GGUFValueType.STRING:
        w.add_string(name, bytes(field.parts[-1]).decode())
    else:
        v = field.parts[-1][0].item()
        {
            GGUFValueType.BOOL: lambda: w.add_bool(name, bool(v)),
            GGUFValueType.FLOAT32: lambda: w.add_float32(name, v),
            GGUFValueType.INT32: lambda: w.add_int32(name, v),
        }.get(kind, lambda: w.add_uint32(name, v))()

rng = np.random.default_rng(1)


def weights(name, *shape):  # numpy shape = ggml's ne reversed
    w.add_tensor(name, (rng.standard_normal(shape) * 0.02).astype(np.float32))


def ones(name, n):
    w.add_tensor(name, np.ones(n, dtype=np.float32))


weights('token_embd.weight', n_vocab, N_EMBD)
ones('output_norm.weight', N_EMBD)
weights('output.weight', n_vocab, N_EMBD)
for i in range(N_LAYER):
    ones(f'blk.{i}.attn_norm.weight', N_EMBD)
    for k in ('q', 'k', 'v', 'output'):
        weights(f'blk.{i}.attn_{k}.weight', N_EMBD, N_EMBD)
    ones(f'blk.{i}.ffn_norm.weight', N_EMBD)
    weights(f'blk.{i}.ffn_gate.weight', N_FF, N_EMBD)
    weights(f'blk.{i}.ffn_up.weight', N_FF, N_EMBD)
    weights(f'blk.{i}.ffn_down.weight', N_EMBD, N_FF)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
print(f'{out}: {n_vocab} tokens')
