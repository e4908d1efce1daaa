"""LoRA (Hu et al., arXiv 2106.09685) for the blocks' attention and FFN matrices.

A target matrix W (out, in) of a block gets two trainable matrices A (rank, in)
and B (out, rank); the block computes x W^T + scale * dropout(x) A^T B^T with
scale = alpha / rank, while W and every other weight of the model stay frozen.
A starts random and B at zero, so the adapted model starts equal to the input
model. At export, merge() folds the adapter into the weight, W += scale * B A,
and the GGUF has the same tensors and types as after full fine-tuning.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# --lora-targets names -> the Block's matrices
TARGETS = {"q": "attn_q", "k": "attn_k", "v": "attn_v", "o": "attn_output",
           "gate": "ffn_gate", "up": "ffn_up", "down": "ffn_down"}


class Adapter(nn.Module):
    """scale * dropout(x) A^T B^T: the Block adds it to x W^T.

    It is computed as two thin products, never as the matrix W + scale B A:
    that matrix would be a W-sized temporary per target, and autograd would
    keep a W-sized gradient of it before passing it on to A and B; the thin
    path needs only (tokens, rank) intermediates, so the frozen W costs its own
    storage and nothing more, which is the memory LoRA is for."""

    def __init__(self, n_out, n_in, rank, scale, dropout, generator):
        super().__init__()
        # A as nn.Linear's (and PEFT's) default init, kaiming_uniform_(a=sqrt(5)):
        # U(-1/sqrt(in), 1/sqrt(in)); drawn from `generator` so a --seed reproduces it.
        bound = 1 / math.sqrt(n_in)
        self.a = nn.Parameter(torch.empty(rank, n_in).uniform_(-bound, bound, generator=generator))
        self.b = nn.Parameter(torch.zeros(n_out, rank))
        self.scale = scale
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x):
        return F.linear(F.linear(self.dropout(x), self.a), self.b) * self.scale

    def delta(self):
        """scale * B A, the adapter as a change of W."""
        return self.scale * (self.b @ self.a)


def attach(net, rank, alpha, targets, dropout, seed):
    """Freezes every parameter of net and gives the `targets` matrices (keys of
    TARGETS) of every block an adapter."""
    net.requires_grad_(False)
    generator = torch.Generator().manual_seed(seed)
    for block in net.blocks:
        for t in targets:
            n_out, n_in = getattr(block, TARGETS[t]).shape
            block.lora[TARGETS[t]] = Adapter(n_out, n_in, rank, alpha / rank, dropout, generator)


@torch.no_grad()
def merge(net):
    """W += scale * B A for every adapter, which is then removed: the net
    computes what it computed, with the blocks' own matrices only."""
    for block in net.blocks:
        for name, adapter in block.lora.items():
            getattr(block, name).add_(adapter.delta())
        block.lora.clear()
