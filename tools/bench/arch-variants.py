#!/usr/bin/python3
"""Rewrites an F32 llama GGUF as the other architectures and RoPE variants LiteVK runs.

    arch-variants.py IN.gguf OUT_PREFIX

writes, from a trained model (check-formats.sh gives it stories260K widened to
256), files whose greedy tokens LiteVK and llama.cpp must agree on:

  OUT_PREFIX-qwen2.gguf        general.architecture qwen2: Q and K rows moved
                               to NeoX's RoPE order (pair i with i + rope_dim/2;
                               the same function as the input), and Q/K/V
                               biases (small, random: the model changes a
                               little, the check is that both runtimes add them)
  OUT_PREFIX-rope-freqs.gguf   Llama 3.1's rope_freqs.weight, factors from 1 to 4
  OUT_PREFIX-rope-linear.gguf  rope.scaling.type linear, factor 2

The RoPE variants change the model's positions a little, not its training:
its choices stay separated enough to compare. Needs numpy; reads and writes
with the training tool's GGUF module (tools/train/gguf.py).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
import gguf  # noqa: E402


def meta_value(f, key):
    return f.meta[key][1]


def with_meta(meta, changes):
    """meta as write_gguf takes it, with `changes` (key -> (type, value) or None to drop) applied."""
    out = [(k, t, v) for k, (t, v) in meta.items() if k not in changes]
    out += [(k, tv[0], tv[1]) for k, tv in changes.items() if tv is not None]
    return out


def neox_order(rows, head_dim, rope_dim):
    """Rows of a Q or K matrix (or bias) from LLaMA's RoPE order to NeoX's:
    NeoX's pair (i, i + rope_dim/2) takes what LLaMA's (2i, 2i + 1) held."""
    half = rope_dim // 2
    src = np.arange(rows.shape[0])
    d = src % head_dim
    moved = np.where(d < rope_dim, np.where(d < half, 2 * d, 2 * (d - half) + 1), d)
    return rows[src - d + moved]


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: arch-variants.py IN.gguf OUT_PREFIX")
    src, prefix = sys.argv[1], sys.argv[2]
    f = gguf.read_gguf(src)
    if meta_value(f, "general.architecture") != "llama":
        sys.exit(f"arch-variants: {src} is not a llama model")
    if any(t != gguf.GGML_F32 for t, _, _ in f.tensors.values()):
        sys.exit(f"arch-variants: {src} must be F32 throughout (litevk convert --type f32)")
    n_heads = meta_value(f, "llama.attention.head_count")
    n_embd = meta_value(f, "llama.embedding_length")
    head_dim = n_embd // n_heads
    rope_dim = meta_value(f, "llama.rope.dimension_count") if "llama.rope.dimension_count" in f.meta else head_dim
    tensors = [(name, t, a) for name, (t, _, a) in f.tensors.items()]
    rng = np.random.default_rng(1)

    # qwen2: the same keys under its name, Q/K in NeoX order, biases
    renamed = {k: None for k in f.meta if k.startswith("llama.")}
    renamed.update({"qwen2." + k[len("llama."):]: f.meta[k] for k in f.meta if k.startswith("llama.")})
    renamed["general.architecture"] = (gguf.GGUF_STRING, "qwen2")
    qwen = []
    for name, t, a in tensors:
        if name.endswith(("attn_q.weight", "attn_k.weight")):
            a = neox_order(a, head_dim, rope_dim)
        qwen.append((name, t, a))
        if name.endswith(("attn_q.weight", "attn_k.weight", "attn_v.weight")):
            qwen.append((name.replace(".weight", ".bias"), t, (0.02 * rng.standard_normal(a.shape[0])).astype(np.float32)))
    gguf.write_gguf(prefix + "-qwen2.gguf", with_meta(f.meta, renamed), qwen)

    factors = np.linspace(1.0, 4.0, rope_dim // 2, dtype=np.float32)
    gguf.write_gguf(prefix + "-rope-freqs.gguf", with_meta(f.meta, {}),
                    tensors + [("rope_freqs.weight", gguf.GGML_F32, factors)])

    linear = {"llama.rope.scaling.type": (gguf.GGUF_STRING, "linear"),
              "llama.rope.scaling.factor": (gguf.GGUF_FLOAT32, 2.0)}
    gguf.write_gguf(prefix + "-rope-linear.gguf", with_meta(f.meta, linear), tensors)


if __name__ == "__main__":
    main()
