"""LITE fine-tuning for LiteVK: train a model LiteVK runs (llama, qwen2) so that
the exit heads after intermediate blocks predict well (LITE, Varshney et al.,
arXiv 2310.18581).

Every exit head is the model's final RMSNorm and LM head applied to the hidden
state after block k; the loss is the weighted mean of the cross-entropies of
the exit heads and the final head. The tuned model is written as a GGUF that
LiteVK loads, with its exits in litevk.exit_layers and thresholds of 1 (never
exit) until `litevk calibrate` sets them.
"""

import argparse
import contextlib
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

import checkpoints
import data
import distill
import lora
import report
import tokenizer

MAX_EXITS = 16  # LiteVK's LVK_MAX_EXITS
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}

EPILOG = """\
data formats:
  .json / .jsonl  Alpaca records {"instruction", "input", "output"} (a JSON array or one
                  per line), formatted with LITE's Alpaca template; the loss falls on the
                  response and EOS only; each example is truncated to --seq-len + 1 tokens
  anything else   plain text, documents separated by <|endoftext|> (or by blank lines
                  when there is none); every token after BOS is a target; documents are
                  packed and cut into windows of --seq-len + 1 tokens

The validation split is the --val-fraction of the examples (documents for plain text)
that a shuffle seeded with --seed puts first: the same --seed and --val-fraction give
the same split in training and in --eval-only.

Models (-m): the architectures LiteVK runs (llama, qwen2), as
  a GGUF LiteVK loads     F32 and F16 tensors are read as they are; any other type is
                          dequantised by `litevk convert IN.gguf -o TMP --type f32` first
  a Hugging Face checkpoint directory (config.json, *.safetensors, tokenizer.json):
                          converted by `litevk convert DIR -o TMP --type f32` first
A SentencePiece vocabulary is tokenized in Python as LiteVK does it; any other (byte-level
BPE: Llama 3, Qwen2, GPT-2) by `litevk tokenize --jsonl`, once per data file.
The litevk binary is --litevk PATH, else $LITEVK_BIN, else build/bin/litevk in this
repository, else litevk on PATH. A llama2.c checkpoint is converted by hand first:
  ./build/bin/litevk convert model.bin tokenizer.bin -o model.gguf --type f32

The output keeps the input's metadata, adds litevk.exit_layers and
litevk.exit_thresholds (all 1 = never exit). Its tensors keep the types the trainer
read (F32 stays F32, F16 stays F16; a converted start point was read as F32), or with
--type T every matrix is written in T by `litevk convert` (F16 where a row is not whole
blocks of T; vectors stay F32). Then set the thresholds with
  ./build/bin/litevk calibrate -m OUT.gguf --prompts PROMPTS.jsonl -o CALIBRATED.gguf

LoRA (--lora-rank R > 0) trains rank-R adapters on the --lora-targets matrices of every
block, with everything else frozen (but output_norm with --train-norm), and merges them
into the weights at export: the output has the same tensors and types as without LoRA.
It usually wants a larger --lr than full fine-tuning (1e-4 to 1e-3).

On CPU a run is deterministic for a --seed, and --resume from a --checkpoint gives the
weights an uninterrupted run would have.
"""


def parse_int_list(text, what):
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("%s '%s' is not a comma-separated list of integers"
                                         % (what, text)) from None


def parse_float_list(text, what):
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("%s '%s' is not a comma-separated list of numbers"
                                         % (what, text)) from None


def parse_lora_targets(text):
    names = text.split(",")
    unknown = [n for n in names if n not in lora.TARGETS]
    if unknown:
        raise argparse.ArgumentTypeError("--lora-targets: unknown %s; the targets are %s"
                                         % (",".join(unknown), ",".join(lora.TARGETS)))
    return [t for t in lora.TARGETS if t in names]  # one order: q,v and v,q are one setting


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="litevk-train", description=__doc__,
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-m", "--model", required=True,
                   help="start point: a GGUF LiteVK loads, or a Hugging Face checkpoint directory")
    p.add_argument("--data", required=True, nargs="+", metavar="FILE",
                   help="training data: .json, .jsonl or plain text; several files of one kind are read "
                        "as one")
    p.add_argument("-o", "--output", help="output GGUF (required unless --eval-only)")
    p.add_argument("--type", choices=checkpoints.EXPORT_TYPES,
                   help="the output's matrices in this type (default: the types the trainer read)")
    p.add_argument("--litevk", help="the litevk binary that converts start points and --type outputs and tokenizes byte-level vocabularies")
    p.add_argument("--exit-layers", type=lambda s: parse_int_list(s, "--exit-layers"),
                   help="exits after these blocks, 1-based, ascending, in 1..n_layers-1 "
                        "(default: every 4th block from n_layers/4, as LiteVK: 8,12,...,28 of 32)")
    p.add_argument("--exit-weights", type=lambda s: parse_float_list(s, "--exit-weights"),
                   help="loss weight of each exit (default: all 1; the final head's weight is 1)")
    p.add_argument("--ce-weight", type=float, default=1.0,
                   help="weight of each head's cross-entropy on the data (default 1)")
    p.add_argument("--kd-weight", type=float, default=0.0,
                   help="weight of each head's distillation loss: T^2 KL(teacher || head) at "
                        "--kd-temperature (default 0: no teacher)")
    p.add_argument("--kd-temperature", type=float, default=1.0, help="distillation temperature (default 1)")
    p.add_argument("--teacher", help="the teacher GGUF, same vocabulary (default: the -m model as loaded, frozen)")
    p.add_argument("--teacher-cache",
                   help="keep the teacher's logits of the training set in this file: computed once, "
                        "read back by later runs with the same teacher, data and --teacher-top-k")
    p.add_argument("--teacher-top-k", type=int, default=0,
                   help="with --teacher-cache: keep each position's k largest logits and renormalise "
                        "over them (default 0: the whole vocabulary)")
    p.add_argument("--freeze-final-block", action="store_true",
                   help="do not train the last block")
    p.add_argument("--freeze-head", action="store_true",
                   help="do not train the LM head and the final norm (shared by every exit head; "
                        "the embedding too when the model ties them)")
    p.add_argument("--layer-dropout", type=float, default=0.0,
                   help="LayerSkip's layer dropout: the largest rate, for the last block; block l of "
                        "L skips a sequence with rate p (e^(l ln2/(L-1)) - 1), l from 0 (default 0: off)")
    p.add_argument("--steps", type=int, default=1000, help="optimizer steps in all (default 1000)")
    p.add_argument("--lr", type=float, default=2e-5, help="AdamW's peak learning rate (default 2e-5)")
    p.add_argument("--warmup-steps", type=int, default=0,
                   help="raise the learning rate linearly from 0 over this many steps (default 0)")
    p.add_argument("--lr-decay", choices=("none", "cosine"), default="none",
                   help="after the warm-up: keep the learning rate (none, default) or let it fall "
                        "to 0 at --steps along a half cosine")
    p.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay (default 0)")
    p.add_argument("--grad-clip", type=float, default=1.0,
                   help="clip the gradient norm to this, 0 = off (default 1)")
    p.add_argument("--batch-size", type=int, default=8, help="sequences per step (default 8)")
    p.add_argument("--seq-len", type=int, default=512,
                   help="tokens per sequence, at most the model's context length (default 512)")
    p.add_argument("--seed", type=int, default=0, help="seeds the split and batch order (default 0)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="default cpu")
    p.add_argument("--precision", choices=tuple(PRECISIONS), default="fp32",
                   help="fp32, or autocast matrix products to bf16 (CPU or CUDA) or fp16 (CUDA, with "
                        "gradient scaling); weights and AdamW stay float32 (default fp32)")
    p.add_argument("--lora-rank", type=int, default=0,
                   help="train LoRA adapters of this rank instead of every weight, 0 = off (default 0)")
    p.add_argument("--lora-alpha", type=float,
                   help="LoRA scale is alpha/rank (default: the rank, so scale 1)")
    p.add_argument("--lora-targets", type=parse_lora_targets,
                   help="comma-separated matrices that get adapters, of %s (default: all)"
                        % ",".join(lora.TARGETS))
    p.add_argument("--lora-dropout", type=float, default=0.0,
                   help="dropout on the adapters' input in training, 0..1 (default 0)")
    p.add_argument("--train-norm", action="store_true",
                   help="with LoRA: train output_norm too, the final RMSNorm that every exit head shares")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="share of the data held out for validation, 0..1 (default 0.1)")
    p.add_argument("--log-every", type=int, default=10,
                   help="print the train loss of every head averaged over this many steps (default 10)")
    p.add_argument("--eval-every", type=int, default=100,
                   help="evaluate and checkpoint every this many steps, and at the end (default 100)")
    p.add_argument("--checkpoint", help="save the trained parameters, optimizer, step and RNG states here at each evaluation")
    p.add_argument("--resume", help="continue from this checkpoint, up to --steps")
    p.add_argument("--eval-only", action="store_true",
                   help="no training: print each head's report on the validation split and on --report-data")
    p.add_argument("--report-data", action="append", default=[], metavar="FILE",
                   help="after training (or with --eval-only), report every head on the whole of this "
                        "file too (repeatable)")
    p.add_argument("--draft-prompts", type=int, default=32,
                   help="reports: greedy continuations per data set on which each exit's drafter "
                        "acceptance is measured, 0 = none (default 32)")
    p.add_argument("--draft-tokens", type=int, default=48,
                   help="reports: tokens in each greedy continuation (default 48)")
    p.add_argument("--draft-prompt-len", type=int, default=16,
                   help="reports: the least prompt, in tokens, for plain text; an instruction's prompt "
                        "is its whole instruction (default 16)")
    p.add_argument("--json", action="store_true", help="with --eval-only: print one JSON object")
    args = p.parse_args(argv)
    if not args.eval_only and not args.output:
        p.error("-o/--output is required (or --eval-only)")
    if args.json and not args.eval_only:
        p.error("--json applies to --eval-only")
    if args.type and args.eval_only:
        p.error("--type applies to the output, and --eval-only writes none")
    for name in ("steps", "batch_size", "seq_len", "log_every", "eval_every", "draft_tokens",
                 "draft_prompt_len"):
        if getattr(args, name) < 1:
            p.error("--%s must be at least 1" % name.replace("_", "-"))
    if args.seed < 0:
        p.error("--seed must be 0 or more")
    if not 0 <= args.val_fraction <= 1:
        p.error("--val-fraction must be in 0..1")
    if args.ce_weight < 0 or args.kd_weight < 0 or args.ce_weight + args.kd_weight == 0:
        p.error("--ce-weight and --kd-weight must be 0 or more, and not both 0")
    if args.kd_temperature <= 0:
        p.error("--kd-temperature must be above 0")
    if args.warmup_steps < 0:
        p.error("--warmup-steps must be 0 or more")
    if not 0 <= args.layer_dropout < 1:
        p.error("--layer-dropout must be in 0..1 (below 1)")
    if args.teacher_top_k < 0 or args.draft_prompts < 0:
        p.error("--teacher-top-k and --draft-prompts must be 0 or more")
    if (args.teacher or args.teacher_cache) and args.kd_weight == 0:
        p.error("--teacher and --teacher-cache need --kd-weight above 0")
    if args.output and os.path.abspath(args.output) == os.path.abspath(args.model):
        p.error("-o %s is the model being read; write the tuned model to another path" % args.output)
    if args.precision == "fp16" and args.device == "cpu":
        p.error("--precision fp16 needs --device cuda (PyTorch's CPU autocast has no float16); "
                "on CPU use bf16 or fp32")
    if args.lora_rank < 0:
        p.error("--lora-rank must be 0 (off) or more")
    if args.lora_rank and args.eval_only:
        p.error("--lora-rank applies to training; --eval-only evaluates the model as it is")
    if args.lora_rank == 0:
        if args.lora_alpha is not None or args.lora_targets or args.lora_dropout or args.train_norm:
            p.error("--lora-alpha, --lora-targets, --lora-dropout and --train-norm need --lora-rank > 0")
    else:
        if args.lora_alpha is None:
            args.lora_alpha = float(args.lora_rank)
        if args.lora_alpha <= 0:
            p.error("--lora-alpha must be above 0")
        if args.lora_targets is None:
            args.lora_targets = list(lora.TARGETS)
        if not 0 <= args.lora_dropout < 1:
            p.error("--lora-dropout must be in 0..1 (1 excluded)")
    return args


def default_exit_layers(n_layers):
    """LiteVK's default exits (runtime/decode/exit_config.c): every 4th block from
    n_layers/4, at least block 1, before the last block."""
    return list(range(max(n_layers // 4, 1), n_layers, 4))[:MAX_EXITS]


def check_exits(layers, weights, n_layers):
    if not layers:
        raise ValueError("the model has %d block(s): there is no room for an exit" % n_layers)
    if len(layers) > MAX_EXITS:
        raise ValueError("%d exit layers; LiteVK takes at most %d" % (len(layers), MAX_EXITS))
    for i, l in enumerate(layers):
        if not 1 <= l < n_layers:
            raise ValueError("exit layer %d is outside 1..%d (the model has %d blocks; the last "
                             "block's head is the final one)" % (l, n_layers - 1, n_layers))
        if i and l <= layers[i - 1]:
            raise ValueError("exit layers %s are not ascending and distinct"
                             % ",".join(map(str, layers)))
    if len(weights) != len(layers):
        raise ValueError("%d exit weights for %d exit layers" % (len(weights), len(layers)))
    if any(w < 0 for w in weights):
        raise ValueError("exit weights must be 0 or more")


def pick_device(name):
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("--device cuda: %s" % (
                "this PyTorch is built without CUDA" if torch.version.cuda is None
                else "PyTorch sees no CUDA device"))
        # cuBLAS needs this for deterministic results; it must be set before its first use.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        torch.use_deterministic_algorithms(True)
    return torch.device(name)


def layer_keep(n_layers, batch_size, max_rate, device):
    """LayerSkip's layer dropout: for each block l (0-based) of L, which
    sequences of the batch run it; the rate grows with depth as
    max_rate * (e^(l ln2 / (L-1)) - 1), so the first block always runs."""
    if max_rate == 0 or n_layers < 2:
        return None
    rates = [max_rate * (math.exp(l * math.log(2) / (n_layers - 1)) - 1) for l in range(n_layers)]
    return [torch.rand(batch_size, device=device) >= r for r in rates]


def head_losses(net, batch, exit_layers, args, teacher, device):
    """(loss, cross-entropy) of every head (exits, then final) over the batch's
    targets: loss = ce_weight * CE + kd_weight * KD against the teacher's
    logits (a TeacherLogits for the same positions, or None)."""
    inputs, targets, mask = (t.to(device) for t in batch)
    keep = layer_keep(net.c.n_layers, inputs.shape[0], args.layer_dropout, device) if net.training else None
    logits = net(inputs, exit_layers, select=mask, keep=keep)
    ce = [F.cross_entropy(l, targets[mask]) for l in logits]
    if teacher is None:
        return [args.ce_weight * c for c in ce], ce
    return [args.ce_weight * c + args.kd_weight * distill.kd_loss(l, teacher, args.kd_temperature)
            for c, l in zip(ce, logits)], ce


def head_names(exit_layers, n_layers):
    return ["exit@%d" % l for l in exit_layers] + ["final@%d" % n_layers]


def print_eval(step, result, names):
    heads = "  ".join("%s %.4f (agree %.1f%%)" % (name, ce, 100 * a)
                      for name, ce, a in zip(names[:-1], result["ce"], result["agreement"]))
    print("eval %d: val CE  %s  %s %.4f  (%d tokens)"
          % (step, heads, names[-1], result["ce"][-1], result["tokens"]), flush=True)


def report_sets(args, val, tok):
    """(name, sequences) of every data set the reports cover: the validation
    split, then each --report-data file whole."""
    sets = [("validation split of %s" % " + ".join(args.data), val)] if val else []
    for path in args.report_data:
        sets.append((path, data.load(path, tok, args.seq_len, 1.0, args.seed)[1]))
    return sets


def reports(args, net, sets, exit_layers, pad_id, device):
    """Prints every head's report on every set (or, with --json, returns them)."""
    out = []
    for name, sequences in sets:
        r = report.evaluate(net, sequences, exit_layers, args, pad_id, device)
        if args.json:
            out.append(dict(report.to_json(r, exit_layers, net.c.n_layers), data=name, sequences=len(sequences)))
        else:
            report.print_table(r, exit_layers, net.c.n_layers, "%s, %d sequences:" % (name, len(sequences)))
    return out


def eval_only(args, net, sets, exit_layers, pad_id, device):
    if not sets:
        raise ValueError("%s: no validation sequences (--val-fraction %g) and no --report-data"
                         % (" + ".join(args.data), args.val_fraction))
    out = reports(args, net, sets, exit_layers, pad_id, device)
    if args.json:
        print(json.dumps({"model": args.model, "val_fraction": args.val_fraction, "seed": args.seed,
                          "sets": out}))
    return out


# The options that change the arithmetic: a resumed run must use the checkpoint's.
# --steps too when the learning rate decays towards it.
RESUME_SETTINGS = ("exit_layers", "exit_weights", "lr", "warmup_steps", "lr_decay", "weight_decay", "grad_clip",
                   "batch_size", "seq_len", "seed", "val_fraction", "ce_weight", "kd_weight", "kd_temperature",
                   "teacher", "teacher_top_k", "freeze_final_block", "freeze_head", "layer_dropout", "precision",
                   "lora_rank", "lora_alpha", "lora_targets", "lora_dropout", "train_norm")


def resume_settings(args):
    return RESUME_SETTINGS + (("steps",) if args.lr_decay == "cosine" else ())


def trained_parameters(net):
    return {n: p for n, p in net.named_parameters() if p.requires_grad}


def save_checkpoint(path, net, opt, scaler, step, args):
    # Only the trained parameters: the frozen ones (all but the adapters in a LoRA run)
    # are the input model's, which a resume loads again.
    state = {"model": {n: p.detach() for n, p in trained_parameters(net).items()},
             "optimizer": opt.state_dict(), "scaler": scaler.state_dict(), "step": step,
             "rng": torch.get_rng_state(),
             "settings": {k: getattr(args, k) for k in resume_settings(args)}}
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path, net, opt, scaler, args, device):
    """Restores the trained parameters, optimizer, gradient scaler and RNG
    states; returns the step to continue from."""
    state = torch.load(path, map_location=device)
    for k in resume_settings(args):
        option = "--" + k.replace("_", "-")
        if k not in state["settings"]:
            raise ValueError("%s has no %s setting: an older litevk-train saved it; start a new run"
                             % (path, option))
        saved, now = state["settings"][k], getattr(args, k)
        if saved != now:
            show = lambda v: ",".join(map(str, v)) if isinstance(v, list) else v
            raise ValueError("%s was saved with %s %s, this run has %s; a resumed run must match"
                             % (path, option, show(saved), show(now)))
    trained = trained_parameters(net)
    if state["model"].keys() != trained.keys() or any(
            state["model"][n].shape != p.shape for n, p in trained.items()):
        raise ValueError("%s does not fit %s: resume with the model it was trained from" % (path, args.model))
    with torch.no_grad():
        for n, p in trained.items():
            p.copy_(state["model"][n])
    opt.load_state_dict(state["optimizer"])
    scaler.load_state_dict(state["scaler"])
    torch.set_rng_state(state["rng"])
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return state["step"]


def learning_rate(args, step):
    """The learning rate of step (0-based): a linear warm-up, then constant or
    a half cosine down to 0 at args.steps. A function of the step alone, so a
    resumed run follows the schedule an uninterrupted one would."""
    if step < args.warmup_steps:
        return args.lr * (step + 1) / args.warmup_steps
    if args.lr_decay == "cosine":
        done = (step - args.warmup_steps) / max(args.steps - args.warmup_steps, 1)
        return args.lr * 0.5 * (1 + math.cos(math.pi * done))
    return args.lr


def freeze(net, args):
    """Stops training what --freeze-final-block and --freeze-head name."""
    frozen = []
    if args.freeze_final_block:
        frozen += list(net.blocks[-1].parameters())
    if args.freeze_head:
        frozen += [net.output_norm, net.token_embd if net.output is None else net.output]
    for p in frozen:
        p.requires_grad_(False)


def load_teacher(args, net, train_set, pad_id, device):
    """The teacher's logits for a batch of training sequences, as a function of
    their indices: from a frozen forward pass, or read from --teacher-cache."""
    path = args.teacher or args.model
    teacher, _ = checkpoints.load(path, args.litevk)
    if teacher.c.n_vocab != net.c.n_vocab:
        raise ValueError("the teacher %s has a vocabulary of %d, the model %d: they must be the same"
                         % (path, teacher.c.n_vocab, net.c.n_vocab))
    teacher.to(device).eval().requires_grad_(False)
    top_k = args.teacher_top_k or teacher.c.n_vocab
    if args.teacher_cache:
        cache = distill.TeacherCache.load_or_build(args.teacher_cache, teacher, train_set, top_k,
                                                   args.batch_size, pad_id, device)
        return lambda indices: cache.batch(indices, device)

    def on_the_fly(indices):
        inputs, _, mask = (t.to(device) for t in data.collate([train_set[i] for i in indices], pad_id))
        return distill.teacher_logits(teacher, inputs, mask, top_k)
    return on_the_fly


def autocast(device, precision):
    """bf16/fp16: autocast runs the matrix products in that type, while the
    weights, gradients and AdamW states stay float32 (mixed precision)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=PRECISIONS[precision])


def train(args, net, source, train_set, val, pad_id, device):
    """Trains up to args.steps and writes args.output; returns the per-head
    train cross-entropies of every step it ran."""
    exit_layers, n_layers = args.exit_layers, net.c.n_layers
    weights = torch.tensor(args.exit_weights + [1.0], device=device)
    weights = weights / weights.sum()
    names = head_names(exit_layers, n_layers)
    teacher = load_teacher(args, net, train_set, pad_id, device) if args.kd_weight > 0 else None
    freeze(net, args)
    params = list(trained_parameters(net).values())  # frozen ones get no gradient or AdamW state
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)
    # fp16 gradients underflow without loss scaling; disabled, the scaler passes everything through.
    scaler = torch.cuda.amp.GradScaler(enabled=args.precision == "fp16")
    step = load_checkpoint(args.resume, net, opt, scaler, args, device) if args.resume else 0
    if step:
        print("resumed %s at step %d" % (args.resume, step), flush=True)
    history = []
    t0 = time.time()
    while step < args.steps:
        indices = data.batch_indices(len(train_set), args.batch_size, step, args.seed)
        batch = data.collate([train_set[i] for i in indices], pad_id)
        with autocast(device, args.precision):
            losses, ce = head_losses(net, batch, exit_layers, args, teacher and teacher(indices), device)
            loss = (torch.stack(losses) * weights).sum()
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if args.grad_clip > 0:
            scaler.unscale_(opt)  # clip the true gradient, not the scaled one
            torch.nn.utils.clip_grad_norm_(params, args.grad_clip)
        for group in opt.param_groups:
            group["lr"] = learning_rate(args, step)
        scaler.step(opt)
        scaler.update()
        step += 1
        history.append([c.item() for c in ce])

        if step % args.log_every == 0 or step == args.steps:
            recent = history[-args.log_every:]
            mean = [sum(h[i] for h in recent) / len(recent) for i in range(len(names))]
            print("step %d/%d  loss %.4f  train CE  %s  (%.2f s/step)" % (
                step, args.steps, loss.item(),
                "  ".join("%s %.4f" % nm for nm in zip(names, mean)),
                (time.time() - t0) / len(recent)), flush=True)
            t0 = time.time()
        if step % args.eval_every == 0 or step == args.steps:
            if val:
                net.eval()
                n, ce_val, agreement = report.teacher_forced(net, val, exit_layers, args.batch_size,
                                                             pad_id, device)
                net.train()
                print_eval(step, {"tokens": n, "ce": ce_val, "agreement": agreement}, names)
            if args.checkpoint:
                save_checkpoint(args.checkpoint, net, opt, scaler, step, args)

    lora.merge(net)
    checkpoints.export(net, source, args.output, exit_layers, args.type, args.litevk)
    print("wrote %s: exits after blocks %s with thresholds 1 (never exit); set them with "
          "`litevk calibrate -m %s --prompts FILE -o CALIBRATED.gguf`"
          % (args.output, ",".join(map(str, exit_layers)), args.output))
    return history


def run(args):
    """Trains (or with --eval-only, reports); returns the per-step, per-head
    train cross-entropies, or the reports as a list with --eval-only --json."""
    device = pick_device(args.device)
    torch.manual_seed(args.seed)
    args.litevk = checkpoints.find_litevk(args.litevk)
    if args.type not in (None, "f32") and not args.eval_only:  # before training, not after it
        checkpoints.needs_litevk(args.litevk, "--type %s" % args.type)
    net, source = checkpoints.load(args.model, args.litevk)
    c = net.c
    if args.exit_layers is None:
        args.exit_layers = default_exit_layers(c.n_layers)
    if args.exit_weights is None:
        args.exit_weights = [1.0] * len(args.exit_layers)
    check_exits(args.exit_layers, args.exit_weights, c.n_layers)
    if args.seq_len > c.n_ctx:
        raise ValueError("--seq-len %d is above the model's context length %d" % (args.seq_len, c.n_ctx))
    if args.precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError("--precision bf16: this GPU has no bfloat16; use fp16")
    tok = tokenizer.load(source, args.litevk)
    train_set, val = data.load(args.data, tok, args.seq_len, args.val_fraction, args.seed)
    if args.lora_rank and not args.eval_only:
        lora.attach(net, args.lora_rank, args.lora_alpha, args.lora_targets, args.lora_dropout, args.seed)
        net.output_norm.requires_grad_(args.train_norm)
    net.to(device)
    if args.eval_only:
        return eval_only(args, net, report_sets(args, val, tok), args.exit_layers, tok.eos_id, device)
    if not train_set:
        raise ValueError("%s: no training sequences left after the validation split" % " + ".join(args.data))
    print("%s: %d blocks, %d-wide, vocabulary %d; exits after blocks %s, weights %s (final 1); "
          "%d training and %d validation sequences on %s"
          % (args.model, c.n_layers, c.n_embd, c.n_vocab, ",".join(map(str, args.exit_layers)),
             ",".join("%g" % w for w in args.exit_weights), len(train_set), len(val), device), flush=True)
    what = "every weight"
    if args.lora_rank:
        what = "LoRA rank %d, alpha %g, on %s" % (args.lora_rank, args.lora_alpha, ",".join(args.lora_targets))
        what += " and output_norm" if args.train_norm else ""
    print("training %d of %d parameters (%s), %s" % (
        sum(p.numel() for p in trained_parameters(net).values()),
        sum(p.numel() for p in net.parameters()), what, args.precision), flush=True)
    history = train(args, net, source, train_set, val, tok.eos_id, device)
    reports(args, net, report_sets(args, val, tok), args.exit_layers, tok.eos_id, device)
    return history


def main(argv=None):
    args = parse_args(argv)
    try:
        run(args)
    except (ValueError, OSError) as e:
        print("litevk-train: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
