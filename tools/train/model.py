"""The forward pass of the models LiteVK runs, in PyTorch, with LITE's exit heads.

It computes what LiteVK's plain-C reference (runtime/forward/reference.c) computes, for
a whole batch of sequences at once: token embedding; per block
x += Wo attention(RoPE(Wq h + bq), RoPE(Wk h + bk), Wv h + bv) with
h = RMSNorm(x), then x += W_down(silu(W_gate h) * W_up h) with h = RMSNorm(x);
and the head logits = W_out RMSNorm(x). An exit after block k is that same
head (the final RMSNorm and the LM head, shared) applied to x as block k leaves
it, counting blocks from 1 as LiteVK does. The architectures differ as
runtime/model/model.c's table says: "llama" rotates adjacent pairs and has no biases,
"qwen2" rotates GPT-NeoX's pairs (i, i + rope_dim/2) and has Q/K/V biases.

Parameters carry the GGUF tensor names (blocks.N.attn_q is blk.N.attn_q.weight,
blocks.N.attn_q_bias is blk.N.attn_q.bias), and alias the arrays the GGUF
reader returned on load. Llama 3.1's RoPE frequency factors (rope_freqs.weight)
are a buffer: loaded and saved with the weights, never trained.
LoRA adapters (lora.py, under blocks.N.lora) have no GGUF tensor: lora.merge
folds them into the matrices before saving.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

import gguf

# runtime/model/model.c's arch_desc table: what sets each architecture apart.
ARCHS = {
    "llama": {"rope_neox": False, "qkv_bias": False},  # also Mistral's files, which use its name
    "qwen2": {"rope_neox": True, "qkv_bias": True},
}


@dataclass
class Config:
    n_layers: int
    n_embd: int
    n_heads: int
    n_kv_heads: int
    n_ff: int
    n_vocab: int
    n_ctx: int  # <arch>.context_length: the longest sequence LiteVK runs
    rope_dim: int  # RoPE rotates the first rope_dim dimensions of each head
    rope_base: float
    rms_eps: float
    arch: str = "llama"
    head_dim: int = 0  # attention.key_length; 0: n_embd / n_heads
    rope_freq_scale: float = 1.0  # positions are scaled by this: 1 / factor of linear RoPE scaling

    def __post_init__(self):
        if not self.head_dim:
            self.head_dim = self.n_embd // self.n_heads

    @property
    def q_dim(self):
        return self.n_heads * self.head_dim

    @property
    def kv_dim(self):
        return self.n_kv_heads * self.head_dim

    @property
    def rope_neox(self):
        return ARCHS[self.arch]["rope_neox"]

    @property
    def qkv_bias(self):
        return ARCHS[self.arch]["qkv_bias"]


def config_from_gguf(g):
    """The hyper-parameters, with the defaults, checks and messages of runtime/model/model.c."""

    def get(key, default=None):
        if key in g.meta:
            return g.meta[key][1]
        if default is None:
            raise ValueError("metadata '%s' is missing" % key)
        return default

    arch = get("general.architecture")
    if arch not in ARCHS:
        raise ValueError("architecture '%s' is not supported (LiteVK runs llama and qwen2 models)" % arch)

    def hp(key, default=None):
        return get("%s.%s" % (arch, key), default)

    if "token_embd.weight" not in g.tensors:
        raise ValueError("tensor 'token_embd.weight' is missing")
    n_embd, n_heads = hp("embedding_length"), hp("attention.head_count")
    n_kv_heads = hp("attention.head_count_kv", n_heads)
    if n_heads % n_kv_heads:
        raise ValueError("%d heads are not a multiple of %d key/value heads" % (n_heads, n_kv_heads))
    head_dim = hp("attention.key_length", n_embd // n_heads if n_embd % n_heads == 0 else 0)
    if not head_dim:
        raise ValueError("embedding length %d is not a multiple of %d heads, and no key_length gives "
                         "the head size" % (n_embd, n_heads))
    if hp("attention.value_length", head_dim) != head_dim:
        raise ValueError("value heads of %d dimensions and key heads of %d are not supported (LiteVK "
                         "needs them equal)" % (hp("attention.value_length"), head_dim))
    if head_dim > 256 or head_dim % 2:
        raise ValueError("head dimension %d is not supported (an even number up to 256)" % head_dim)
    rope_dim = hp("rope.dimension_count", head_dim)
    if rope_dim % 2 or not 2 <= rope_dim <= head_dim:
        raise ValueError("rope dimension %d is odd or outside 2..%d" % (rope_dim, head_dim))
    freq_scale = 1.0
    scaling = hp("rope.scaling.type", "none")
    if scaling not in ("", "none"):
        if scaling != "linear":
            raise ValueError("RoPE scaling '%s' is not supported (LiteVK runs none and linear)" % scaling)
        factor = hp("rope.scaling.factor")
        if not 1 <= factor <= 1024:
            raise ValueError("RoPE scaling factor %g is out of range (1..1024)" % factor)
        freq_scale = 1.0 / factor
    return Config(
        arch=arch,
        n_layers=hp("block_count"),
        n_embd=n_embd,
        n_heads=n_heads,
        n_kv_heads=n_kv_heads,
        head_dim=head_dim,
        n_ff=hp("feed_forward_length"),
        n_vocab=g.tensors["token_embd.weight"][2].shape[0],
        n_ctx=hp("context_length", 2048),
        rope_dim=rope_dim,
        rope_base=hp("rope.freq_base", 10000.0),
        rope_freq_scale=freq_scale,
        rms_eps=hp("attention.layer_norm_rms_epsilon", 1e-5),
    )


def rmsnorm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def rope_angles(c, n_pos, factors, device):
    """runtime/model/model.c's rope_angle for positions 0..n_pos-1 and every pair:
    (n_pos, rope_dim/2), pos * freq_scale * base^(-2i/rope_dim) / factors[i]."""
    i = torch.arange(0, c.rope_dim, 2, dtype=torch.float32, device=device)
    freq = c.rope_base ** (-i / c.rope_dim)
    if factors is not None:
        freq = freq / factors
    pos = torch.arange(n_pos, dtype=torch.float32, device=device) * c.rope_freq_scale
    return pos[:, None] * freq


def rope(x, angles, rope_dim, neox):
    """Rotates pair i of the first rope_dim dimensions of every head of x
    (batch, time, heads, head_dim) by angles[time, i]: the pair is dimensions
    (2i, 2i+1) in LLaMA's order, (i, i + rope_dim/2) in GPT-NeoX's."""
    cos, sin = angles.cos()[:, None, :], angles.sin()[:, None, :]  # (time, 1, rope_dim/2)
    half = rope_dim // 2
    if neox:
        a, b = x[..., :half], x[..., half:rope_dim]
        rotated = torch.cat((a * cos - b * sin, a * sin + b * cos), dim=-1)
    else:
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
        d = c.n_embd
        self.attn_norm = nn.Parameter(torch.empty(d))
        self.attn_q = _matrix(c.q_dim, d)
        self.attn_k = _matrix(c.kv_dim, d)
        self.attn_v = _matrix(c.kv_dim, d)
        if c.qkv_bias:
            self.attn_q_bias = nn.Parameter(torch.empty(c.q_dim))
            self.attn_k_bias = nn.Parameter(torch.empty(c.kv_dim))
            self.attn_v_bias = nn.Parameter(torch.empty(c.kv_dim))
        else:
            self.attn_q_bias = self.attn_k_bias = self.attn_v_bias = None
        self.attn_output = _matrix(d, c.q_dim)
        self.ffn_norm = nn.Parameter(torch.empty(d))
        self.ffn_gate = _matrix(c.n_ff, d)
        self.ffn_up = _matrix(c.n_ff, d)
        self.ffn_down = _matrix(d, c.n_ff)
        self.kv_f16 = False  # round K and V to f16 (comparing with LiteVK); training keeps f32
        self.lora = nn.ModuleDict()  # LoRA adapters by matrix name (lora.py); none in full fine-tuning

    def linear(self, x, name):
        """x W^T (+ b where the architecture has the bias `name`_bias) for the
        block's matrix `name`, plus its LoRA adapter's output if it has one."""
        y = F.linear(x, getattr(self, name), getattr(self, name + "_bias", None))
        return y + self.lora[name](x) if name in self.lora else y

    def forward(self, x, angles):
        c = self.c
        B, T, _ = x.shape
        hd = c.head_dim

        # attention: h = rmsnorm(x); q, k, v = W h + b; rope(q, k); causal, grouped-query
        h = rmsnorm(x, self.attn_norm, c.rms_eps)
        q = self.linear(h, "attn_q").view(B, T, c.n_heads, hd)
        k = self.linear(h, "attn_k").view(B, T, c.n_kv_heads, hd)
        v = self.linear(h, "attn_v").view(B, T, c.n_kv_heads, hd)
        q, k = rope(q, angles, c.rope_dim, c.rope_neox), rope(k, angles, c.rope_dim, c.rope_neox)
        if self.kv_f16:  # as LiteVK's KV cache stores them
            k, v = k.half().float(), v.half().float()
        group = c.n_heads // c.n_kv_heads  # head h reads key/value head h // group
        k, v = k.repeat_interleave(group, dim=2), v.repeat_interleave(group, dim=2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (B, heads, T, hd)
        scores = q @ k.transpose(-2, -1) / math.sqrt(hd)
        future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        att = scores.masked_fill(future, float("-inf")).softmax(dim=-1)
        o = (att @ v).transpose(1, 2).reshape(B, T, c.q_dim)
        x = x + self.linear(o, "attn_output")

        # feed-forward: x += W_down (silu(W_gate h) * W_up h), h = rmsnorm(x)
        h = rmsnorm(x, self.ffn_norm, c.rms_eps)
        return x + self.linear(F.silu(self.linear(h, "ffn_gate")) * self.linear(h, "ffn_up"),
                               "ffn_down")


class Llama(nn.Module):
    def __init__(self, c, tied, rope_freqs=False):
        super().__init__()
        self.c = c
        self.token_embd = _matrix(c.n_vocab, c.n_embd)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layers))
        self.output_norm = nn.Parameter(torch.empty(c.n_embd))
        # A tied model's LM head is the embedding matrix (no output.weight in the file).
        self.output = None if tied else _matrix(c.n_vocab, c.n_embd)
        # Llama 3.1's RoPE scaling: a frequency factor per rotated pair, from the file.
        self.register_buffer("rope_freqs", torch.empty(c.rope_dim // 2) if rope_freqs else None)

    def head(self, x):
        w = self.token_embd if self.output is None else self.output
        return F.linear(rmsnorm(x, self.output_norm, self.c.rms_eps), w)

    def forward(self, tokens, exit_layers, select=None, keep=None):
        """Logits of the exit after each block in exit_layers (1-based, ascending),
        then of the final head, for tokens (batch, time): each (batch, time,
        n_vocab), or (n, n_vocab) at the n positions where the bool mask
        `select` (batch, time) is set. keep (training's layer dropout), when
        given, says per block which sequences run it (a bool (batch,) each);
        the others pass it unchanged."""
        x = F.embedding(tokens, self.token_embd)
        angles = rope_angles(self.c, tokens.shape[1], self.rope_freqs, tokens.device)
        hidden = []
        for layer, block in enumerate(self.blocks, start=1):
            x = block(x, angles) if keep is None else torch.where(keep[layer - 1][:, None, None], block(x, angles), x)
            if layer in exit_layers or layer == self.c.n_layers:
                hidden.append(x)
        return [self.head(h if select is None else h[select]) for h in hidden]


def gguf_name(name):
    """blocks.3.attn_q -> blk.3.attn_q.weight, blocks.3.attn_q_bias ->
    blk.3.attn_q.bias, token_embd -> token_embd.weight."""
    if name.startswith("blocks."):
        name = "blk." + name[len("blocks."):]
    if name.endswith("_bias"):
        return name[:-len("_bias")] + ".bias"
    return name + ".weight"


def named_tensors(model):
    """The parameters and the rope_freqs buffer: every tensor of the GGUF."""
    yield from model.named_parameters()
    yield from model.named_buffers()


def load_gguf(path):
    """The model in a GGUF file (F32/F16 tensors), and the parsed file that
    save_gguf copies metadata and tensor types from."""
    return from_gguf(gguf.read_gguf(path), path)


def from_gguf(g, path):
    """The model in a parsed GGUF, and g; `path` names it in messages."""
    model = Llama(config_from_gguf(g), tied="output.weight" not in g.tensors,
                  rope_freqs="rope_freqs.weight" in g.tensors)
    for name, p in named_tensors(model):
        tensor = g.tensors.get(gguf_name(name))
        if tensor is None:
            raise ValueError("%s: tensor '%s' is missing" % (path, gguf_name(name)))
        array = tensor[2]
        if array.shape != tuple(p.shape):
            raise ValueError("%s: tensor '%s' has shape %s, expected %s"
                             % (path, gguf_name(name), array.shape, tuple(p.shape)))
        p.data = torch.from_numpy(array)
    if model.rope_freqs is not None and not bool(((model.rope_freqs > 0) & (model.rope_freqs < 1e30)).all()):
        raise ValueError("%s: rope_freqs.weight: frequency factors must be positive" % path)
    return model, g


def save_gguf(model, source, path, exit_layers, all_f32=False):
    """Writes the model's weights as a GGUF: the source's metadata without its
    litevk.* keys, exits after exit_layers with threshold 1 (never exit, until
    `litevk calibrate` sets them), and the source's tensors in its order and
    types (all F32 with all_f32), with the model's values."""
    meta = [(key, t, v) for key, (t, v) in source.meta.items() if not key.startswith("litevk.")]
    if all_f32:  # llama.cpp's number for an all-F32 file
        meta = [(k, t, 0 if k == "general.file_type" else v) for k, t, v in meta]
    meta.append(("litevk.exit_layers", gguf.GGUF_ARRAY, (gguf.GGUF_INT32, list(exit_layers))))
    meta.append(("litevk.exit_thresholds", gguf.GGUF_ARRAY,
                 (gguf.GGUF_FLOAT32, [1.0] * len(exit_layers))))
    weights = {gguf_name(n): p.detach().cpu().numpy() for n, p in named_tensors(model)}
    tensors = [(name, gguf.GGML_F32 if all_f32 else t, weights.get(name, array))
               for name, (t, _, array) in source.tensors.items()]
    gguf.write_gguf(path, meta, tensors)
