"""Tests of the trainer's start points and exports (tools/train/checkpoints.py),
which go through LiteVK's own converter, the `litevk` binary:

- a Hugging Face checkpoint and the GGUF `litevk convert` makes of it start the
  same model (every head's logits equal), for a Llama (GQA, untied, 24-wide
  heads from head_dim, Llama 3.1 RoPE scaling: rope_freqs), a tied Llama with
  linear RoPE scaling, and a Qwen2 (Q/K/V biases, NeoX RoPE);
- PyTorch's forward of each is LiteVK's (liblitevk.so, greedy probes of every
  exit head, as test_train.py checks);
- a quantised GGUF start point is read dequantised;
- an export in each --type loads in LiteVK with its exits, runs there as
  PyTorch runs the file, and is within the type's rounding of the tuned model.

The checkpoints are written here (safetensors_writer.py), tiny: the file runs
in seconds. Skipped without PyTorch, or without the litevk binary (build/bin/litevk,
LITEVK_BIN or PATH); the LiteVK comparisons without liblitevk.so (LITEVK_LIB).
"""

import contextlib
import io
import json
import os
import subprocess
import tempfile
import unittest

from test_train import ALPACA, LIB, torch

if torch is not None:
    import numpy as np

    import checkpoints
    import gguf
    import safetensors_writer
    import train
    from test_train import LiteVK

BOS = 260  # the checkpoints' <|endoftext|>, after the 256 bytes and 4 merges
VOCAB = 300  # room for the SentencePiece-style vocabulary's 292 tokens
PROMPT = [BOS] + list(b"Once upon a time")


def setUpModule():
    if torch is None:
        raise unittest.SkipTest("PyTorch is not installed (apt-get install python3-torch python3-numpy)")
    global LITEVK_BIN
    LITEVK_BIN = checkpoints.find_litevk()
    if LITEVK_BIN is None:
        raise unittest.SkipTest("no litevk binary: build it (cmake --build build) or set LITEVK_BIN")


# ---- tiny Hugging Face checkpoints ------------------------------------------------


def byte_chars():
    """GPT-2's byte-to-character table: printable Latin-1 bytes stand for
    themselves, the others for U+0100.. in byte order."""
    printable = [b for b in range(256) if 0x21 <= b <= 0x7E or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF]
    others = [b for b in range(256) if b not in printable]
    table = {b: chr(b) for b in printable}
    table.update({b: chr(256 + i) for i, b in enumerate(others)})
    return [table[b] for b in range(256)]


def tokenizer_json():
    """GPT-2-style byte-level BPE: the 256 bytes, four merges, <|endoftext|>."""
    vocab = {c: i for i, c in enumerate(byte_chars())}
    merges = [("\u0120", "t"), ("h", "e"), ("\u0120t", "he"), ("i", "n")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    return {
        "version": "1.0",
        "added_tokens": [{"id": BOS, "content": "<|endoftext|>", "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "vocab": vocab, "merges": ["%s %s" % m for m in merges]},
    }


def sentencepiece_tokenizer_json():
    """Llama 2-style BPE (the trainer's tokenizer.py reads this kind only):
    <unk> <s> </s>, the byte fallbacks <0x00>..<0xFF>, then letters and a few
    merges; spaces become '\u2581' and one is prepended."""
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    vocab.update({"<0x%02X>" % b: 3 + b for b in range(256)})
    for piece in ["\u2581"] + [chr(c) for c in range(ord("a"), ord("z") + 1)]:
        vocab[piece] = len(vocab)
    merges = [("\u2581", "t"), ("h", "e"), ("\u2581t", "he"), ("i", "n"), ("o", "n"), ("a", "n")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    return {
        "version": "1.0",
        "added_tokens": [{"id": i, "content": t, "special": True} for i, t in enumerate(["<unk>", "<s>", "</s>"])],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None,
        "decoder": {"type": "ByteFallback"},
        "model": {"type": "BPE", "byte_fallback": True, "unk_token": "<unk>", "vocab": vocab,
                  "merges": ["%s %s" % m for m in merges]},
    }


# The checkpoints: Hugging Face config.json values, plus the safetensors dtype.
LLAMA = {"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "num_attention_heads": 4,
         "num_key_value_heads": 2, "head_dim": 24, "intermediate_size": 96, "num_hidden_layers": 3,
         "tie_word_embeddings": False, "rope_theta": 500000.0,
         "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                          "original_max_position_embeddings": 32}}
LLAMA_LINEAR = {"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "num_attention_heads": 4,
                "num_key_value_heads": 4, "intermediate_size": 96, "num_hidden_layers": 3,
                "tie_word_embeddings": True, "rope_scaling": {"type": "linear", "factor": 4.0}}
QWEN2 = {"architectures": ["Qwen2ForCausalLM"], "hidden_size": 64, "num_attention_heads": 4,
         "num_key_value_heads": 2, "intermediate_size": 96, "num_hidden_layers": 3, "tie_word_embeddings": True,
         "rope_theta": 1000000.0}
# 256 wide (k-quants take rows of 256) for the exports: every matrix is whole blocks
LLAMA_256 = {"architectures": ["LlamaForCausalLM"], "hidden_size": 256, "num_attention_heads": 4,
             "num_key_value_heads": 2, "intermediate_size": 256, "num_hidden_layers": 2,
             "tie_word_embeddings": False}


def write_checkpoint(path, config, dtype="F16", seed=0, sentencepiece=False):
    """A Hugging Face checkpoint directory with seeded random weights: matrices
    uniform in +-sqrt(3/cols) (unit variance outputs), norms 1 +- 0.2, biases
    +-0.5; a byte-level vocabulary, or a SentencePiece-style one."""
    os.makedirs(path, exist_ok=True)
    bos, eos = (1, 2) if sentencepiece else (BOS, BOS)
    config = dict(config, vocab_size=VOCAB, max_position_embeddings=512, rms_norm_eps=1e-5,
                  bos_token_id=bos, eos_token_id=eos, torch_dtype="float16")
    d, ff = config["hidden_size"], config["intermediate_size"]
    hd = config.get("head_dim", d // config["num_attention_heads"])
    q, kv = config["num_attention_heads"] * hd, config["num_key_value_heads"] * hd
    shapes = [("model.embed_tokens.weight", (VOCAB, d)), ("model.norm.weight", (d,))]
    if not config["tie_word_embeddings"]:
        shapes.append(("lm_head.weight", (VOCAB, d)))
    for layer in range(config["num_hidden_layers"]):
        block = [("input_layernorm.weight", (d,)), ("self_attn.q_proj.weight", (q, d)),
                 ("self_attn.k_proj.weight", (kv, d)), ("self_attn.v_proj.weight", (kv, d)),
                 ("self_attn.o_proj.weight", (d, q)), ("post_attention_layernorm.weight", (d,)),
                 ("mlp.gate_proj.weight", (ff, d)), ("mlp.up_proj.weight", (ff, d)),
                 ("mlp.down_proj.weight", (d, ff))]
        if config["architectures"] == ["Qwen2ForCausalLM"]:
            block += [("self_attn.q_proj.bias", (q,)), ("self_attn.k_proj.bias", (kv,)),
                      ("self_attn.v_proj.bias", (kv,))]
        shapes += [("model.layers.%d.%s" % (layer, name), shape) for name, shape in block]
    rng = np.random.default_rng(seed)
    tensors = []
    for name, shape in shapes:
        u = rng.uniform(-1, 1, shape).astype(np.float32)
        if len(shape) == 2:
            array = u * np.float32(np.sqrt(3 / shape[1]))
        else:
            array = u * np.float32(0.5) if name.endswith(".bias") else 1 + u * np.float32(0.2)
        tensors.append((name, dtype, array))
    safetensors_writer.write_safetensors(os.path.join(path, "model.safetensors"), tensors)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f)
    with open(os.path.join(path, "tokenizer.json"), "w") as f:
        json.dump(sentencepiece_tokenizer_json() if sentencepiece else tokenizer_json(), f)
    return path


def litevk_convert(source, out, ggml_type):
    subprocess.run([LITEVK_BIN, "convert", source, "-o", out, "--type", ggml_type], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return out


def heads(net, exits, tokens=PROMPT, kv_f16=False):
    """Every head's logits (exits, then final) at every position: (heads, time, vocab)."""
    for block in net.blocks:
        block.kv_f16 = kv_f16
    with torch.no_grad():
        return torch.stack([l[0] for l in net(torch.tensor([tokens]), exits)])


class Case(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def assert_litevk_runs_as_pytorch(self, path, exits, n_steps=4):
        """Every head's top-1 token and top two probabilities in LiteVK equal
        PyTorch's (on the model as the trainer reads `path`) to 1e-3 over a few
        greedy steps, LiteVK's exits being `exits` from the file's metadata."""
        probes = LiteVK(LIB).greedy_probes(path, PROMPT, n_steps, len(exits) + 1)
        net, _ = checkpoints.load(path, LITEVK_BIN)
        logits = heads(net, exits, PROMPT + [p[-1][1] for p in probes[:-1]], kv_f16=True)
        for step, probe in enumerate(probes):
            pos = len(PROMPT) - 1 + step
            for (layer, token, conf, second), l, want_layer in zip(probe, logits, exits + [net.c.n_layers]):
                top2 = l[pos].softmax(-1).topk(2)
                self.assertEqual(layer, want_layer)
                self.assertEqual(token, top2.indices[0].item(), "step %d, head after block %d" % (step, layer))
                self.assertAlmostEqual(conf, top2.values[0].item(), delta=1e-3)
                self.assertAlmostEqual(second, top2.values[1].item(), delta=1e-3)


class TestStartPoints(Case):
    """A Hugging Face checkpoint, and the GGUF LiteVK converts it to."""

    def check(self, name, config):
        hf = write_checkpoint(self.path(name), config)
        net_hf, source = checkpoints.load(hf, LITEVK_BIN)
        # F16 weights: the GGUF holds the checkpoint's values exactly, and is read as it is
        f16 = litevk_convert(hf, self.path(name + "-f16.gguf"), "f16")
        net_gguf, _ = checkpoints.load(f16, LITEVK_BIN)
        self.assertEqual(net_hf.c, net_gguf.c)
        self.assertEqual(net_hf.c.arch, "qwen2" if "Qwen2" in config["architectures"][0] else "llama")
        exits = list(range(1, net_hf.c.n_layers))
        a, b = heads(net_hf, exits), heads(net_gguf, exits)
        self.assertTrue(torch.equal(a, b), "heads differ by %g" % (a - b).abs().max())
        if os.path.exists(LIB):  # PyTorch's forward is LiteVK's
            out = self.path(name + "-exits.gguf")
            checkpoints.export(net_hf, source, out, exits, None, LITEVK_BIN)
            self.assert_litevk_runs_as_pytorch(out, exits)
        return net_hf

    def test_llama_gqa_head_dim_rope_freqs(self):
        net = self.check("llama", LLAMA)
        self.assertEqual((net.c.q_dim, net.c.n_embd), (96, 64))
        self.assertIsNotNone(net.rope_freqs)
        self.assertEqual(len(set(net.rope_freqs.tolist())), 3)  # 1, blends, the factor 8
        self.assertIsNotNone(net.output)

    def test_llama_tied_linear_scaling(self):
        net = self.check("llama-linear", LLAMA_LINEAR)
        self.assertEqual(net.c.rope_freq_scale, 0.25)
        self.assertIsNone(net.output)

    def test_qwen2_biases_neox(self):
        net = self.check("qwen2", QWEN2)
        self.assertTrue(net.c.rope_neox)
        self.assertEqual(tuple(net.blocks[0].attn_k_bias.shape), (32,))

    def test_quantised_gguf_is_read_dequantised(self):
        f32 = litevk_convert(write_checkpoint(self.path("q-src"), LLAMA), self.path("q-src.gguf"), "f32")
        q8 = litevk_convert(f32, self.path("q8_0.gguf"), "q8_0")
        net, source = checkpoints.load(q8, LITEVK_BIN)
        original = gguf.read_gguf(f32)
        self.assertEqual(list(source.tensors), list(original.tensors))
        for name, (t, _, array) in source.tensors.items():
            self.assertEqual(t, gguf.GGML_F32)
            want = original.tensors[name][2]
            if want.ndim == 1:
                self.assertTrue(np.array_equal(array, want), name)
                continue
            # Q8_0: within half a step (amax/127) of each block of 32, and some rounding
            blocks, got = want.reshape(-1, 32), array.reshape(-1, 32)
            bound = np.abs(blocks).max(axis=1, keepdims=True) * (1 / 254 + 1 / 2048)
            self.assertTrue((np.abs(blocks - got) <= bound).all(), name)
            self.assertFalse(np.array_equal(array, want), name)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "has no config.json"):
            os.makedirs(self.path("empty"), exist_ok=True)
            checkpoints.load(self.path("empty"), LITEVK_BIN)
        with self.assertRaisesRegex(ValueError, "reading the Hugging Face checkpoint .* needs LiteVK's `litevk` "
                                                "binary, and none was found"):
            checkpoints.load(self.path("empty"), None)
        with self.assertRaisesRegex(ValueError, "--litevk /nonexistent is not an executable file"):
            checkpoints.find_litevk("/nonexistent")


class TestExport(Case):
    """Exports of a tuned model in every --type."""

    # What rounding the weights to each type may do to the tuned model.
    # Weights: the relative RMS error of the worst tensor. Rounding to a step
    # s errs by s/sqrt(12) on average, and the weights are uniform in +-a
    # (RMS a/sqrt(3)), so: F16's relative step 2^-11 gives about 2e-4; Q8_0's
    # s = a/127 gives 1/254; Q6_K's a/32, 1/64; Q4_0's a/8, 1/16; Q4_K's
    # (max - min)/15 over 32, 1/15. Measured: 2.0e-4, 3.8e-3, 1.5e-2, 6.5e-2,
    # 6.2e-2; the bounds are 1.5 times the expected. A wrong layout errs by
    # about 1.4 (uncorrelated weights), which none of them allows.
    WEIGHT_TOLERANCE = {"f32": 0.0, "f16": 3e-4, "q8_0": 6e-3, "q6_k": 2.5e-2, "q4_0": 0.1, "q4_k": 0.1}
    # Heads: the largest difference of any probability of any head at any
    # position from the tuned model's (the largest probability is about 0.09,
    # 300 tokens). Measured: 0, 9.2e-5, 2.1e-3, 5.0e-3, 1.6e-2 (Q4_0),
    # 1.9e-2 (Q4_K); the bounds are about twice that.
    TOLERANCE = {"f32": 0.0, "f16": 2e-4, "q8_0": 5e-3, "q6_k": 1e-2, "q4_0": 4e-2, "q4_k": 4e-2}
    EXITS = [1]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        hf = write_checkpoint(os.path.join(cls.tmp.name, "hf"), LLAMA_256)
        cls.net, cls.source = checkpoints.load(hf, LITEVK_BIN)
        # as training leaves them: off the checkpoint's F16 grid
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in cls.net.parameters():
                p.add_(torch.randn(p.shape, generator=gen) * 1e-3)
        cls.probs = heads(cls.net, cls.EXITS).softmax(-1)

    def check(self, ggml_type):
        out = self.path("tuned-%s.gguf" % ggml_type)
        checkpoints.export(self.net, self.source, out, self.EXITS, ggml_type, LITEVK_BIN)
        with open(out, "rb") as f:
            types = gguf.tensor_types(f.read(), out)
        for name, t in types.items():
            self.assertEqual(gguf.ggml_type_name(t), "F32" if name.endswith("norm.weight") else ggml_type.upper(), name)
        net, source = checkpoints.load(out, LITEVK_BIN)
        self.assertEqual(source.meta["litevk.exit_layers"], (gguf.GGUF_ARRAY, (gguf.GGUF_INT32, self.EXITS)))
        self.assertEqual(source.meta["litevk.exit_thresholds"], (gguf.GGUF_ARRAY, (gguf.GGUF_FLOAT32, [1.0])))
        tuned = dict(self.net.named_parameters())
        weights = max(((p - tuned[n]).norm() / tuned[n].norm()).item() for n, p in net.named_parameters())
        self.assertLessEqual(weights, self.WEIGHT_TOLERANCE[ggml_type])
        diff = (heads(net, self.EXITS).softmax(-1) - self.probs).abs().max().item()
        self.assertLessEqual(diff, self.TOLERANCE[ggml_type])
        if os.path.exists(LIB):
            self.assert_litevk_runs_as_pytorch(out, self.EXITS)
        return weights, diff

    def test_training_from_a_checkpoint_directory(self):
        """litevk-train -m DIR ... --type q8_0: a run from the checkpoint to a Q8_0 file."""
        hf = write_checkpoint(self.path("train-hf"), QWEN2, sentencepiece=True)
        out = self.path("trained-q8_0.gguf")
        with contextlib.redirect_stdout(io.StringIO()):
            history = train.run(train.parse_args(
                ["-m", hf, "--data", ALPACA, "-o", out, "--type", "q8_0", "--steps", "2", "--batch-size", "2",
                 "--seq-len", "512", "--exit-layers", "1,2", "--lr", "1e-3", "--litevk", LITEVK_BIN]))
        self.assertEqual(len(history), 2)
        with open(out, "rb") as f:
            types = gguf.tensor_types(f.read(), out)
        self.assertEqual(gguf.ggml_type_name(types["blk.0.attn_q.weight"]), "Q8_0")
        self.assertEqual(gguf.ggml_type_name(types["blk.0.attn_q.bias"]), "F32")
        if os.path.exists(LIB):
            self.assert_litevk_runs_as_pytorch(out, [1, 2])

    def test_f32(self):
        self.check("f32")

    def test_f16(self):
        self.check("f16")

    def test_q8_0(self):
        self.check("q8_0")

    def test_q4_0(self):
        self.check("q4_0")

    def test_q4_k(self):
        self.check("q4_k")

    def test_q6_k(self):
        self.check("q6_k")


if __name__ == "__main__":
    unittest.main()
