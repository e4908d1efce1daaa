#!/usr/bin/python3
"""Widens a llama2.c checkpoint without changing what it computes.

    widen-llama2c.py IN.bin OUT.bin [--dim D] [--hidden H]

stories260K is 64 wide, too narrow for the k-quants' 256-weight blocks; widened
to 256 it keeps its trained, well-separated next-token choices, so a greedy run
of it checks a weight format against another runtime token for token
(check-formats.sh). The widened model computes the same function, up to the
RMSNorm epsilon:

- the residual stream's dimension k goes to k * D / dim (spread over every
  sub-block of a row), the others stay zero in every matrix, so they stay zero;
  RMSNorm then divides by a root mean square sqrt(dim / D) times the old one,
  which the norm weights' scaling by sqrt(dim / D) undoes;
- each head grows from hs to hs' = D / n_heads dimensions; the RoPE pair j of
  hs goes to pair j * hs' / hs, which turns at the same frequency; the query
  rows are scaled by sqrt(hs' / hs) so that the 1 / sqrt(head size) of the
  attention scores is unchanged;
- the FFN's hidden unit k goes to k * H / hidden, the rest are zero rows.

The RoPE tables a checkpoint may carry are dropped (the converter does not need
them). Needs numpy.
"""
import argparse
import struct
import sys

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--dim", type=int, default=256, help="new model width (default 256)")
    ap.add_argument("--hidden", type=int, default=256, help="new FFN width (default 256)")
    a = ap.parse_args()

    raw = open(a.input, "rb").read()
    dim, hidden, n_layers, n_heads, n_kv_heads, vocab_size, seq_len = struct.unpack("<7i", raw[:28])
    vocab, shared = abs(vocab_size), vocab_size > 0
    hs = dim // n_heads
    kv_dim = hs * n_kv_heads
    if a.dim % dim or a.dim % n_heads or (a.dim // n_heads) % hs or a.hidden < hidden:
        sys.exit(f"widen-llama2c: cannot widen dim {dim} (head size {hs}, FFN {hidden}) to "
                 f"dim {a.dim}, FFN {a.hidden}: dim must be a multiple, the head size too, FFN not smaller")
    x = np.frombuffer(raw, dtype="<f4", offset=28)
    at = 0

    def take(*shape):
        nonlocal at
        n = int(np.prod(shape))
        if at + n > x.size:
            sys.exit(f"widen-llama2c: {a.input} is truncated")
        t = x[at:at + n].reshape(shape)
        at += n
        return t

    emb = take(vocab, dim)
    rms_att = take(n_layers, dim)
    wq, wk, wv = take(n_layers, dim, dim), take(n_layers, kv_dim, dim), take(n_layers, kv_dim, dim)
    wo = take(n_layers, dim, dim)
    rms_ffn = take(n_layers, dim)
    w1, w2, w3 = take(n_layers, hidden, dim), take(n_layers, dim, hidden), take(n_layers, hidden, dim)
    rms_final = take(dim)
    rest = x.size - at  # the RoPE tables (seq_len * hs floats) or not, then the classifier unless shared
    classifier = 0 if shared else vocab * dim
    if rest not in (classifier, seq_len * hs + classifier):
        sys.exit(f"widen-llama2c: {a.input} has {rest} floats after its weights; not a llama2.c checkpoint")
    wcls = None if shared else x[x.size - classifier:].reshape(vocab, dim)

    D, H = a.dim, a.hidden
    hs2 = D // n_heads
    ratio = hs2 // hs
    resid = np.arange(dim) * (D // dim)                      # residual dimension k -> k * D / dim
    ffn = (np.arange(hidden) * H) // hidden                  # hidden unit k -> k * H / hidden
    e = np.arange(hs)
    within = 2 * ratio * (e // 2) + e % 2                    # RoPE pair j -> pair j * ratio
    heads = (np.arange(n_heads)[:, None] * hs2 + within).ravel()
    kv_heads = (np.arange(n_kv_heads)[:, None] * hs2 + within).ravel()
    norm_scale = np.float32(np.sqrt(dim / D))

    def widen(m, rows, cols, n_rows, n_cols):
        out = np.zeros(m.shape[:-2] + (n_rows, n_cols), dtype=np.float32)
        out[..., rows[:, None], cols[None, :]] = m
        return out

    def widen_vec(v, idx, n, scale=1.0):
        out = np.zeros(v.shape[:-1] + (n,), dtype=np.float32)
        out[..., idx] = v * scale
        return out

    parts = [
        widen(emb, np.arange(vocab), resid, vocab, D),
        widen_vec(rms_att, resid, D, norm_scale),
        widen(wq * np.float32(np.sqrt(ratio)), heads, resid, D, D),
        widen(wk, kv_heads, resid, n_kv_heads * hs2, D),
        widen(wv, kv_heads, resid, n_kv_heads * hs2, D),
        widen(wo, resid, heads, D, D),
        widen_vec(rms_ffn, resid, D, norm_scale),
        widen(w1, ffn, resid, H, D),
        widen(w2, resid, ffn, D, H),
        widen(w3, ffn, resid, H, D),
        widen_vec(rms_final, resid, D, norm_scale),
    ]
    if wcls is not None:
        parts.append(widen(wcls, np.arange(vocab), resid, vocab, D))
    with open(a.output, "wb") as f:
        f.write(struct.pack("<7i", D, H, n_layers, n_heads, n_kv_heads, vocab_size, seq_len))
        for p in parts:
            f.write(p.astype("<f4").tobytes())


if __name__ == "__main__":
    main()
