"""Peak memory of LITE training on the CPU, full fine-tuning against
LoRA, and what 1B and 7B LLaMA shapes need by the same measure.

Every configuration runs in a fresh Python process that builds a random,
untied LLaMA of the shape (exits as LiteVK's default), takes two float32
training steps as train.py does (every head's loss, backward, gradient
clipping, AdamW) on batch x seq tokens that are all targets, and reports:
  peak   its peak resident set size (getrusage ru_maxrss) above the RSS it had
         just before building the model: weights, gradients, AdamW states,
         activations and temporaries, as the OS saw them;
  saved  the bytes autograd kept for the backward pass (saved_tensors_hooks),
         parameters not counted: the activations.
The fit  peak = a*params + b*trained + c*saved  (least squares over all runs)
gives the bytes per parameter (a: weights; b: gradient + AdamW's two moments
per trained one) and c, the peak's share per saved activation byte.

For 1B and 7B shapes, which do not fit here, `saved` is counted on 1- and
2-block models of their width (every block saves the same) and the three sums
are computed from a, b and c; the same count on the measured shapes checks it.

  /usr/bin/python3 tools/train/memory.py            (a few minutes on 2 cores)
  /usr/bin/python3 tools/train/memory.py --quick    (the smaller shapes only)
"""

import argparse
import json
import os
import resource
import subprocess
import sys

import numpy as np
import torch

import lora
import model as llama
import train

# (n_layers, n_embd, n_heads, n_kv_heads, n_ff, n_vocab): measured here
MEASURED = [(4, 256, 4, 4, 688, 32000), (8, 512, 8, 8, 1376, 32000), (12, 768, 12, 12, 2048, 32000)]
BIG = {"Llama-3.2-1B (tied)": ((16, 2048, 32, 8, 8192, 128256), True),
       "llama-2-7b": ((32, 4096, 32, 32, 11008, 32000), False)}
MODES = {"full": 0, "LoRA r8": 8, "LoRA r16": 16}
SEQS = (128, 512)
BIG_TOKENS = (1, 512)  # batch, seq of the 1B/7B figures


# train.py's loss without a teacher or layer dropout: every head's cross-entropy
PLAIN_LOSS = argparse.Namespace(ce_weight=1.0, kd_weight=0.0, layer_dropout=0.0)


def config(shape):
    n_layers, n_embd, n_heads, n_kv_heads, n_ff, n_vocab = shape
    return llama.Config(n_layers=n_layers, n_embd=n_embd, n_heads=n_heads, n_kv_heads=n_kv_heads,
                        n_ff=n_ff, n_vocab=n_vocab, n_ctx=4096, rope_dim=n_embd // n_heads,
                        rope_base=10000.0, rms_eps=1e-5)


def param_counts(shape, tied, rank):
    """(all parameters, trained ones) of a model, computed without building it;
    with rank > 0 the trained ones are the LoRA adapters on every target."""
    L, d, heads, kv_heads, ff, vocab = shape
    kv = kv_heads * d // heads
    matrices = {"q": (d, d), "k": (kv, d), "v": (kv, d), "o": (d, d),
                "gate": (ff, d), "up": (ff, d), "down": (d, ff)}
    block = 2 * d + sum(o * i for o, i in matrices.values())
    base = vocab * d * (1 if tied else 2) + d + L * block
    adapters = L * rank * sum(o + i for o, i in matrices.values())
    return base + adapters, adapters if rank else base


def build(shape, tied, rank):
    """A random model; with rank > 0, LoRA adapters on every target, base frozen."""
    net = llama.Llama(config(shape), tied)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(1.0 if p.dim() == 1 else 0.0, 0.02, generator=gen)
    if rank:
        lora.attach(net, rank, float(rank), list(lora.TARGETS), 0.0, 0)
    return net


def batch(vocab, n_batch, seq):
    tokens = torch.randint(0, vocab, (n_batch, seq + 1), generator=torch.Generator().manual_seed(1))
    return tokens[:, :-1], tokens[:, 1:], torch.ones(n_batch, seq, dtype=torch.bool)


def loss_and_saved_bytes(net, inputs, exits):
    """The mean loss of every head, and the bytes of the tensors autograd saved
    for backward, each storage once, parameters not counted."""
    params = {p.data_ptr() for p in net.parameters()}
    storages = {}

    def pack(t):
        s = t.storage()
        if s.data_ptr() not in params:
            storages[s.data_ptr()] = s.size() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        losses, _ = train.head_losses(net, inputs, exits, PLAIN_LOSS, None, torch.device("cpu"))
        loss = torch.stack(losses).mean()
    return loss, sum(storages.values())


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure_one(shape, rank, seq):
    """One training step in this (fresh) process: see the module's docstring."""
    torch.use_deterministic_algorithms(True)
    inputs = batch(shape[-1], 1, seq)
    before = rss_bytes()
    net = build(shape, False, rank)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    # train.train's steps in float32. Two: AdamW allocates its states in the first
    # step's opt.step(), after the activations are freed; from the second step on
    # they are there, with the last step's gradients, while the forward pass runs.
    for _ in range(2):
        loss, saved = loss_and_saved_bytes(net, inputs, train.default_exit_layers(shape[0]))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    return {"peak": peak, "saved": saved, "params": sum(p.numel() for p in net.parameters()),
            "trained": sum(p.numel() for p in params)}


def measure(shape, rank, seq):
    out = subprocess.run([sys.executable, __file__, "--one", json.dumps([shape, rank, seq])],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def predicted_saved_bytes_here(shape, tied, rank):
    """The saved activations of a deep model, from three shallow ones of its
    width: every block saves the same, and so does every head, so saved =
    s0 + n_layers * s_block + n_heads_out * s_head, solved from 1 block and 1
    head, 2 blocks and 1 head, 2 blocks and 2 heads."""
    def saved(n_layers, exits):
        net = build((n_layers,) + tuple(shape[1:]), tied, rank)
        return loss_and_saved_bytes(net, batch(shape[-1], *BIG_TOKENS), exits)[1]

    one, two = saved(1, []), saved(2, [])
    s_block, s_head = two - one, saved(2, [1]) - two
    s0 = one - s_block - s_head
    return s0 + shape[0] * s_block + (len(train.default_exit_layers(shape[0])) + 1) * s_head


def predicted_saved_bytes(shape, tied, rank):
    """predicted_saved_bytes_here in a child process: the shallow models of a
    1B or 7B width take gigabytes, which a process keeps once it has them."""
    out = subprocess.run([sys.executable, __file__, "--saved", json.dumps([shape, tied, rank])],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def gib(n):
    return n / 2 ** 30


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="measure the two smaller shapes only")
    p.add_argument("--one", help=argparse.SUPPRESS)  # the child process: [shape, rank, seq]
    p.add_argument("--saved", help=argparse.SUPPRESS)  # the child process: [shape, tied, rank]
    args = p.parse_args()
    if args.one:
        print(json.dumps(measure_one(*json.loads(args.one))))
        return
    if args.saved:
        print(json.dumps(predicted_saved_bytes_here(*json.loads(args.saved))))
        return

    shapes = MEASURED[:2] if args.quick else MEASURED
    print("two float32 training steps on the CPU, batch 1; peak RSS above the pre-model RSS (MiB)")
    print("%-28s %-9s %5s %12s %12s %10s %10s" % ("shape L/d/heads/kv/ff/vocab", "mode", "seq",
                                                 "params", "trained", "saved", "peak"))
    runs = []
    for shape in shapes:
        for mode, rank in MODES.items():
            for seq in SEQS:
                r = measure(shape, rank, seq)
                assert (r["params"], r["trained"]) == param_counts(shape, False, rank)
                r["shape"], r["rank"], r["seq"] = shape, rank, seq
                runs.append(r)
                print("%-28s %-9s %5d %12d %12d %10.1f %10.1f" % (
                    "/".join(map(str, shape)), mode, seq, r["params"], r["trained"],
                    r["saved"] / 2 ** 20, r["peak"] / 2 ** 20), flush=True)

    x = np.array([[r["params"], r["trained"], r["saved"]] for r in runs], dtype=np.float64)
    y = np.array([r["peak"] for r in runs], dtype=np.float64)
    a, b, c = np.linalg.lstsq(x, y, rcond=None)[0]
    residual = np.max(np.abs(x @ np.array([a, b, c]) - y) / y)
    print("\nfit: peak = %.2f B x params + %.2f B x trained + %.2f x saved activations "
          "(largest relative residual %.1f%%)" % (a, b, c, 100 * residual))
    print("full fine-tuning: %.1f bytes per parameter before activations; LoRA: %.1f per frozen "
          "parameter + %.1f per trained one" % (a + b, a, b))

    print("saved activations predicted from 1 and 2 blocks against the whole model's (%d-token "
          "runs): largest difference %.2g%%" % (BIG_TOKENS[1], 100 * max(
              abs(predicted_saved_bytes(r["shape"], False, r["rank"]) / r["saved"] - 1)
              for r in runs if r["seq"] == BIG_TOKENS[1])))

    seq = BIG_TOKENS[1]
    print("\ncomputed from the fit, batch %d x %d tokens, exits as LiteVK's default (GiB):"
          % BIG_TOKENS)
    print("%-20s %-20s %8s %10s %8s %8s %11s %8s" % ("model", "training", "params", "trained",
                                                    "weights", "states", "activations", "total"))
    for name, (shape, tied) in BIG.items():
        for mode, rank in MODES.items():
            params, trained = param_counts(shape, tied, rank)
            acts = c * predicted_saved_bytes(shape, tied, rank)
            bases = [("fp32 base", a)] if not rank else [("fp32 base", a), ("bf16 base", a / 2)]
            for base, per_param in bases:
                weights, states = per_param * params, b * trained
                print("%-20s %-20s %7.2fB %9.1fM %8.1f %8.1f %11.1f %8.1f" % (
                    name, mode + ("" if not rank else ", " + base), params / 1e9, trained / 1e6,
                    gib(weights), gib(states), gib(acts), gib(weights + states + acts)))
    print("bf16 base: computed, not measured (this trainer keeps float32 weights): the frozen "
          "weights at half of a, states and activations as measured in float32")


if __name__ == "__main__":
    main()
