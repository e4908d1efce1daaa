"""The LLaMA forward pass in PyTorch, with LITE's exit heads.

It computes what LiteVK's plain-C reference (runtime/reference.c) computes, for
a whole batch of sequences at once: token embedding; per block
x += Wo attention(RoPE(Wq h), RoPE(Wk h), Wv h) with h = RMSNorm(x), then
x += W_down(silu(W_gate h) * W_up h) with h = RMSNorm(x); and the head
logits = W_out RMSNorm(x). An exit after block k is that same head (the final
RMSNorm and the LM head, shared) applied to x as block k leaves it, counting
blocks from 1 as LiteVK does.

Parameters carry the GGUF tensor names without ".weight" (blocks.N.attn_q is
blk.N.attn_q.weight), and alias the arrays the GGUF reader returned on load.
LoRA adapters (lora.py, under blocks.N.lora) have no GGUF tensor: lora.merge
folds them into the matrices before save_gguf.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

import gguf


@dataclass
class Config:
    n_layers: int
    n_embd: int
    n_heads: int
    n_kv_heads: int
    n_ff: int
    n_vocab: int
    n_ctx: int  # llama.context_length: the longest sequence LiteVK runs
    rope_dim: int  # RoPE rotates the first rope_dim dimensions of each head
    rope_base: float
    rms_eps: float

    @property
    def head_dim(self):
        return self.n_embd // self.n_heads


def config_from_gguf(g):
    """The hyper-parameters, with the defaults and checks of runtime/model.c."""

    def get(key, default=None):
        if key in g.meta:
            return g.meta[key][1]
        if default is None:
            raise ValueError("metadata '%s' is missing" % key)
        return default

    if get("general.architecture") != "llama":
        raise ValueError("architecture '%s' is not supported (LiteVK runs 'llama' models)"
                         % get("general.architecture"))
    if get("llama.rope.scaling.type", "none") != "none":
        raise ValueError("RoPE scaling '%s' is not supported" % get("llama.rope.scaling.type"))
    if "token_embd.weight" not in g.tensors:
        raise ValueError("tensor 'token_embd.weight' is missing")
    n_embd, n_heads = get("llama.embedding_length"), get("llama.attention.head_count")
    n_kv_heads = get("llama.attention.head_count_kv", n_heads)
    if n_embd % n_heads or n_heads % n_kv_heads:
        raise ValueError("%d-wide embedding, %d heads and %d key/value heads do not divide"
                         % (n_embd, n_heads, n_kv_heads))
    c = Config(
        n_layers=get("llama.block_count"),
        n_embd=n_embd,
        n_heads=n_heads,
        n_kv_heads=n_kv_heads,
        n_ff=get("llama.feed_forward_length"),
        n_vocab=g.tensors["token_embd.weight"][2].shape[0],
        n_ctx=get("llama.context_length", 2048),
        rope_dim=get("llama.rope.dimension_count", n_embd // n_heads),
        rope_base=get("llama.rope.freq_base", 10000.0),
        rms_eps=get("llama.attention.layer_norm_rms_epsilon", 1e-5),
    )
    if c.rope_dim % 2 or c.rope_dim > c.head_dim:
        raise ValueError("rope dimension %d is odd or above the head dimension %d"
                         % (c.rope_dim, c.head_dim))
    return c


def rmsnorm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def rope(x, rope_dim, base):
    """Rotates the adjacent pairs (2i, 2i+1) of the first rope_dim dimensions of
    every head of x (batch, time, heads, head_dim) by position * base^(-2i/rope_dim)."""
    i = torch.arange(0, rope_dim, 2, dtype=torch.float32, device=x.device)
    freq = base ** (-i / rope_dim)
    angle = torch.arange(x.shape[1], dtype=torch.float32, device=x.device)[:, None] * freq
    cos, sin = angle.cos()[:, None, :], angle.sin()[:, None, :]  # (time, 1, rope_dim/2)
    a, b = x[..., 0:rope_dim:2], x[..., 1:rope_dim:2]
    rotated = torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)
    return torch.cat((rotated, x[..., rope_dim:]), dim=-1)


def _matrix(rows, cols):
    # Left uninitialised: every parameter is loaded from a GGUF.
    return nn.Parameter(torch.empty(rows, cols))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        d, kv_dim = c.n_embd, c.n_kv_heads * c.head_dim
        self.attn_norm = nn.Parameter(torch.empty(d))
        self.attn_q = _matrix(d, d)
        self.attn_k = _matrix(kv_dim, d)
        self.attn_v = _matrix(kv_dim, d)
        self.attn_output = _matrix(d, d)
        self.ffn_norm = nn.Parameter(torch.empty(d))
        self.ffn_gate = _matrix(c.n_ff, d)
        self.ffn_up = _matrix(c.n_ff, d)
        self.ffn_down = _matrix(d, c.n_ff)
        self.kv_f16 = False  # round K and V to f16 (comparing with LiteVK); training keeps f32
        self.lora = nn.ModuleDict()  # LoRA adapters by matrix name (lora.py); none in full fine-tuning

    def linear(self, x, name):
        """x W^T for the block's matrix `name`, plus its LoRA adapter's output if it has one."""
        y = F.linear(x, getattr(self, name))
        return y + self.lora[name](x) if name in self.lora else y

    def forward(self, x):
        c = self.c
        B, T, _ = x.shape
        hd = c.head_dim

        # attention: h = rmsnorm(x); q, k, v = W h; rope(q, k); causal, grouped-query
        h = rmsnorm(x, self.attn_norm, c.rms_eps)
        q = rope(self.linear(h, "attn_q").view(B, T, c.n_heads, hd), c.rope_dim, c.rope_base)
        k = rope(self.linear(h, "attn_k").view(B, T, c.n_kv_heads, hd), c.rope_dim, c.rope_base)
        v = self.linear(h, "attn_v").view(B, T, c.n_kv_heads, hd)
        if self.kv_f16:  # as LiteVK's KV cache stores them
            k, v = k.half().float(), v.half().float()
        group = c.n_heads // c.n_kv_heads  # head h reads key/value head h // group
        k, v = k.repeat_interleave(group, dim=2), v.repeat_interleave(group, dim=2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (B, heads, T, hd)
        scores = q @ k.transpose(-2, -1) / math.sqrt(hd)
        future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        att = scores.masked_fill(future, float("-inf")).softmax(dim=-1)
        o = (att @ v).transpose(1, 2).reshape(B, T, c.n_embd)
        x = x + self.linear(o, "attn_output")

        # feed-forward: x += W_down (silu(W_gate h) * W_up h), h = rmsnorm(x)
        h = rmsnorm(x, self.ffn_norm, c.rms_eps)
        return x + self.linear(F.silu(self.linear(h, "ffn_gate")) * self.linear(h, "ffn_up"),
                               "ffn_down")


class Llama(nn.Module):
    def __init__(self, c, tied):
        super().__init__()
        self.c = c
        self.token_embd = _matrix(c.n_vocab, c.n_embd)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layers))
        self.output_norm = nn.Parameter(torch.empty(c.n_embd))
        # A tied model's LM head is the embedding matrix (no output.weight in the file).
        self.output = None if tied else _matrix(c.n_vocab, c.n_embd)

    def head(self, x):
        w = self.token_embd if self.output is None else self.output
        return F.linear(rmsnorm(x, self.output_norm, self.c.rms_eps), w)

    def forward(self, tokens, exit_layers, select=None):
        """Logits of the exit after each block in exit_layers (1-based, ascending),
        then of the final head, for tokens (batch, time): each (batch, time,
        n_vocab), or (n, n_vocab) at the n positions where the bool mask
        `select` (batch, time) is set."""
        x = F.embedding(tokens, self.token_embd)
        hidden = []
        for layer, block in enumerate(self.blocks, start=1):
            x = block(x)
            if layer in exit_layers or layer == self.c.n_layers:
                hidden.append(x)
        return [self.head(h if select is None else h[select]) for h in hidden]


def gguf_name(param_name):
    """blocks.3.attn_q -> blk.3.attn_q.weight, token_embd -> token_embd.weight."""
    if param_name.startswith("blocks."):
        param_name = "blk." + param_name[len("blocks."):]
    return param_name + ".weight"


def load_gguf(path):
    """The model in a GGUF file (F32/F16 tensors), and the parsed file that
    save_gguf copies metadata and tensor types from."""
    g = gguf.read_gguf(path)
    model = Llama(config_from_gguf(g), tied="output.weight" not in g.tensors)
    for name, p in model.named_parameters():
        tensor = g.tensors.get(gguf_name(name))
        if tensor is None:
            raise ValueError("%s: tensor '%s' is missing" % (path, gguf_name(name)))
        array = tensor[2]
        if array.shape != tuple(p.shape):
            raise ValueError("%s: tensor '%s' has shape %s, expected %s"
                             % (path, gguf_name(name), array.shape, tuple(p.shape)))
        p.data = torch.from_numpy(array)
    return model, g


def save_gguf(model, source, path, exit_layers):
    """Writes the model's weights as a GGUF: the source's metadata without its
    litevk.* keys, exits after exit_layers with threshold 1 (never exit, until
    `litevk calibrate` sets them), and the source's tensors in its order and
    types, with the model's values."""
    meta = [(key, t, v) for key, (t, v) in source.meta.items() if not key.startswith("litevk.")]
    meta.append(("litevk.exit_layers", gguf.GGUF_ARRAY, (gguf.GGUF_INT32, list(exit_layers))))
    meta.append(("litevk.exit_thresholds", gguf.GGUF_ARRAY,
                 (gguf.GGUF_FLOAT32, [1.0] * len(exit_layers))))
    weights = {gguf_name(n): p.detach().cpu().numpy() for n, p in model.named_parameters()}
    tensors = [(name, t, weights.get(name, array))
               for name, (t, _, array) in source.tensors.items()]
    gguf.write_gguf(path, meta, tensors)

