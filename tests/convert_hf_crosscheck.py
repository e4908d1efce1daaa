#!/usr/bin/env python3
"""`litevk convert DIR` checked against llama.cpp and LiteVK's own runtime.

Writes small random-weight Hugging Face checkpoints (Llama with grouped K/V heads and
its own LM head; Llama with a tied embedding and Llama 3.1's RoPE scaling; Qwen2 with
its Q/K/V biases), converts each with `litevk convert DIR --type f32`, and compares
what runs the conversion with the checkpoint computed the Hugging Face way in
PyTorch (float64, rotate-half RoPE):

- llama.cpp (node-llama-cpp's CPU build, through llama_cpp_probabilities.mjs): the
  next-token probabilities after prompts of 1, 5 and 17 tokens, every model. They
  agree to float32's rounding (about 1e-6); the test allows 1e-4. A wrong Q/K
  reordering shows as differences of 0.1 to 0.9 from the second position on.
- LiteVK (`litevk run --json`, greedy): every model, 8 tokens after a 5-token prompt
  (or fewer, up to an end of text): the same tokens, each with the same top
  probability within 1e-3, the reference's keys and values rounded to float16 as
  LiteVK's cache holds them. Not closer: a value that LiteVK computes in float32
  and the reference in float64 can round to neighbouring float16s, and one such
  step in block 1's V moves block 2's K/V and the logits; on llama3_tied that
  costs up to 7e-4 in probability (its K/V and logits against LiteVK's own
  plain-C reference: single float16 steps, logits NMSE 1e-8).

usage: convert_hf_crosscheck.py --litevk PATH --node-modules DIR --work DIR
Exit status 77 (skipped) without PyTorch; the llama.cpp part is skipped (with a
message) without node or node-llama-cpp.
"""
import argparse
import json
import math
import os
import shutil
import struct
import subprocess
import sys

SKIP = 77
TOLERANCE = 1e-4
PROMPTS = [[17], [40, 41, 258, 99, 100],
           [5, 258, 259, 33, 70, 71, 72, 73, 200, 201, 202, 203, 150, 151, 152, 153, 154]]

try:
    import numpy as np
    import torch
except ImportError as e:
    print(f"skipped: {e.name} is missing (Debian: python3-torch python3-numpy)")
    sys.exit(SKIP)


def byte_characters():
    """GPT-2's byte-to-character mapping."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) +
                 list(range(ord("®"), ord("ÿ") + 1)))
    mapping, extra = {b: chr(b) for b in printable}, 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


class Model:
    """A checkpoint's shape, and its weights once written."""

    def __init__(self, name, architecture, heads, kv_heads, tied, rope_scaling=None):
        self.name, self.architecture = name, architecture
        self.hidden, self.heads, self.kv_heads, self.ff, self.layers, self.vocab = 64, heads, kv_heads, 96, 2, 270
        self.tied, self.rope_scaling, self.theta = tied, rope_scaling, 10000.0
        self.biases = architecture == "Qwen2ForCausalLM"
        self.weights = {}

    def write(self, directory, rng):
        os.makedirs(directory, exist_ok=True)
        hd = self.hidden // self.heads
        w = self.weights

        def tensor(name, *shape, scale=0.3):
            w[name] = (rng.standard_normal(shape) * scale).astype(np.float32)

        def norm(name):
            w[name] = (1 + 0.1 * rng.standard_normal(self.hidden)).astype(np.float32)

        tensor("model.embed_tokens.weight", self.vocab, self.hidden, scale=1.0)
        norm("model.norm.weight")
        if not self.tied:
            tensor("lm_head.weight", self.vocab, self.hidden, scale=0.5)
        for l in range(self.layers):
            p = f"model.layers.{l}."
            norm(p + "input_layernorm.weight")
            norm(p + "post_attention_layernorm.weight")
            for proj, rows in (("q", self.heads * hd), ("k", self.kv_heads * hd), ("v", self.kv_heads * hd)):
                tensor(p + f"self_attn.{proj}_proj.weight", rows, self.hidden)
                if self.biases:
                    tensor(p + f"self_attn.{proj}_proj.bias", rows)
            tensor(p + "self_attn.o_proj.weight", self.hidden, self.heads * hd)
            tensor(p + "mlp.gate_proj.weight", self.ff, self.hidden)
            tensor(p + "mlp.up_proj.weight", self.ff, self.hidden)
            tensor(p + "mlp.down_proj.weight", self.hidden, self.ff)

        header, data = {}, bytearray()
        for name, a in w.items():
            header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [len(data), len(data) + a.nbytes]}
            data += a.tobytes()
        text = json.dumps(header).encode()
        with open(os.path.join(directory, "model.safetensors"), "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text + bytes(data))

        config = {"architectures": [self.architecture], "hidden_size": self.hidden, "intermediate_size": self.ff,
                  "num_attention_heads": self.heads, "num_key_value_heads": self.kv_heads,
                  "num_hidden_layers": self.layers, "vocab_size": self.vocab, "max_position_embeddings": 128,
                  "rms_norm_eps": 1e-5, "rope_theta": self.theta, "tie_word_embeddings": self.tied}
        if self.rope_scaling:
            config["rope_scaling"] = self.rope_scaling
        with open(os.path.join(directory, "config.json"), "w") as f:
            json.dump(config, f)

        # a byte-level vocabulary: the 256 byte characters, four merges, an end of text
        chars = byte_characters()
        vocab = {chars[b]: b for b in range(256)}
        for i, token in enumerate(["Ġt", "he", "Ġthe", "in"]):
            vocab[token] = 256 + i
        digits = "\\p{N}" if self.biases else "\\p{N}{1,3}"  # Qwen2's expression, or Llama 3's
        regex = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|" + digits +
                 "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
        tokenizer = {
            "added_tokens": [{"id": 260, "content": "<|endoftext|>", "special": True}],
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False}]},
            "model": {"type": "BPE", "vocab": vocab, "merges": ["Ġ t", "h e", "Ġt he", "i n"]},
        }
        with open(os.path.join(directory, "tokenizer.json"), "w") as f:
            json.dump(tokenizer, f)
        with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
            json.dump({"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "add_bos_token": False}, f)

    def inverse_frequencies(self, hd):
        """RoPE's inverse frequencies, with Llama 3.1's scaling as transformers applies it."""
        inv = 1.0 / self.theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd)
        s = self.rope_scaling
        if not s:
            return inv
        factor, low, high, old = s["factor"], s["low_freq_factor"], s["high_freq_factor"], s["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > old / low, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelen >= old / high) & (wavelen <= old / low)
        return torch.where(medium, smoothed, scaled)

    def probabilities(self, tokens, f16_cache=False):
        """The next token's probabilities after `tokens`, as Hugging Face's Llama / Qwen2 compute them;
        with f16_cache, the keys (after RoPE) and values rounded to float16, as a runtime's f16 K/V
        cache holds them."""
        w = {k: torch.tensor(a, dtype=torch.float64) for k, a in self.weights.items()}
        hd, n = self.hidden // self.heads, len(tokens)

        def rms_norm(x, weight):
            return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + 1e-5) * weight

        def rotate_half(x):
            return torch.cat((-x[..., hd // 2:], x[..., :hd // 2]), dim=-1)

        angles = torch.outer(torch.arange(n, dtype=torch.float64), self.inverse_frequencies(hd))
        cos, sin = torch.cat((angles, angles), -1).cos(), torch.cat((angles, angles), -1).sin()
        mask = torch.triu(torch.full((n, n), float("-inf"), dtype=torch.float64), 1)
        h = w["model.embed_tokens.weight"][tokens]
        for l in range(self.layers):
            p = f"model.layers.{l}."
            x = rms_norm(h, w[p + "input_layernorm.weight"])

            def project(name, heads):
                y = x @ w[p + f"self_attn.{name}_proj.weight"].T
                if self.biases:
                    y = y + w[p + f"self_attn.{name}_proj.bias"]
                return y.view(n, heads, hd).transpose(0, 1)

            q, k, v = project("q", self.heads), project("k", self.kv_heads), project("v", self.kv_heads)
            q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
            if f16_cache:
                k, v = k.to(torch.float16).to(torch.float64), v.to(torch.float16).to(torch.float64)
            group = self.heads // self.kv_heads
            k, v = k.repeat_interleave(group, 0), v.repeat_interleave(group, 0)
            scores = q @ k.transpose(1, 2) / math.sqrt(hd) + mask
            attended = (torch.softmax(scores, -1) @ v).transpose(0, 1).reshape(n, self.heads * hd)
            h = h + attended @ w[p + "self_attn.o_proj.weight"].T
            x = rms_norm(h, w[p + "post_attention_layernorm.weight"])
            gate, up = x @ w[p + "mlp.gate_proj.weight"].T, x @ w[p + "mlp.up_proj.weight"].T
            h = h + (torch.nn.functional.silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T
        h = rms_norm(h, w["model.norm.weight"])
        head = w["model.embed_tokens.weight"] if self.tied else w["lm_head.weight"]
        return torch.softmax(h[-1] @ head.T, -1)


def check_llama_cpp(m, gguf, node_modules):
    """llama.cpp's next-token probabilities against Hugging Face's; False on a mismatch."""
    here = os.path.dirname(os.path.abspath(__file__))
    run = subprocess.run(["node", os.path.join(here, "llama_cpp_probabilities.mjs"), node_modules, gguf,
                          json.dumps(PROMPTS)], capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stderr)
        print(f"{m.name}: llama.cpp failed (status {run.returncode})  FAILED")
        return False
    good = True
    for prompt, got in zip(PROMPTS, json.loads(run.stdout)):
        expected = m.probabilities(prompt)
        p = torch.zeros(m.vocab, dtype=torch.float64)
        for token, probability in got.items():
            p[int(token)] = probability
        diff = (p - expected).abs().max().item()
        ok = diff <= TOLERANCE and int(p.argmax()) == int(expected.argmax())
        good &= ok
        print(f"llama.cpp, {m.name}: {len(prompt)}-token prompt: max |llama.cpp - Hugging Face| = {diff:.1e}, "
              f"next token {int(p.argmax())} (Hugging Face {int(expected.argmax())}, p {expected.max().item():.3f})"
              f"{'' if ok else '  FAILED'}")
    return good


# "xyzab": one word of five letters no merge joins, so the tokens are the bytes
LITEVK_PROMPT, LITEVK_PROMPT_IDS, LITEVK_STEPS = "xyzab", [120, 121, 122, 97, 98], 8


def check_litevk(m, gguf, litevk):
    """LiteVK's greedy tokens and their top probabilities against Hugging Face's; False on a mismatch."""
    run = subprocess.run([litevk, "run", "-m", gguf, "-p", LITEVK_PROMPT, "-n", str(LITEVK_STEPS), "--temp", "0",
                          "--json"], capture_output=True, text=True)
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    if run.returncode != 0 or not lines or lines[-1].get("n_prompt") != len(LITEVK_PROMPT_IDS):
        print(run.stderr)
        print(f"LiteVK, {m.name}: litevk run failed or tokenized the prompt otherwise  FAILED")
        return False
    tokens, good = list(LITEVK_PROMPT_IDS), True
    for step in lines[:-1]:
        expected = m.probabilities(tokens, f16_cache=True)  # LiteVK's K/V cache is f16
        want, confidence = int(expected.argmax()), expected.max().item()
        ok = step["id"] == want and abs(step["confidence"] - confidence) <= 1e-3
        good &= ok
        print(f"LiteVK, {m.name}: token {step['i']}: {step['id']} p {step['confidence']:.4f} "
              f"(Hugging Face {want} p {confidence:.4f}){'' if ok else '  FAILED'}")
        tokens.append(want)
    return good


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--litevk", required=True)
    parser.add_argument("--node-modules", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    have_llama_cpp = bool(shutil.which("node")) and os.path.isfile(
        os.path.join(args.node_modules, "node-llama-cpp", "package.json"))
    if not have_llama_cpp:
        print(f"llama.cpp skipped: node, or node-llama-cpp in {args.node_modules}, is missing "
              "(tools/bench/compare-llama-cpp.sh installs it)")

    models = [
        Model("llama", "LlamaForCausalLM", heads=4, kv_heads=2, tied=False),
        Model("llama3_tied", "LlamaForCausalLM", heads=4, kv_heads=4, tied=True,
              rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                            "original_max_position_embeddings": 64}),
        Model("qwen2", "Qwen2ForCausalLM", heads=4, kv_heads=2, tied=True),
    ]
    rng = np.random.default_rng(5)
    good = True
    for m in models:
        directory, gguf = os.path.join(args.work, m.name), os.path.join(args.work, m.name + ".gguf")
        m.write(directory, rng)
        subprocess.run([args.litevk, "convert", directory, "-o", gguf, "--type", "f32"], check=True)
        if have_llama_cpp:
            good &= check_llama_cpp(m, gguf, args.node_modules)
        good &= check_litevk(m, gguf, args.litevk)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
