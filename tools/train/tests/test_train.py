"""Tests of the LITE training tool (tools/train): loss masks, training on a tiny
random model, the written GGUF in LiteVK (through liblitevk.so), resume and
determinism.

tests/fixtures/alpaca_tiny.json holds 8 records of Stanford Alpaca
(tatsu-lab/stanford_alpaca, CC BY-NC 4.0), copied from the 1000-record sample
alpaca_data_1k.json of wujindou/BLOOM-LORA.

Run: tools/train/litevk-train --selftest, or python3 -m unittest in tools/train/tests.
They are skipped without PyTorch; the LiteVK check without build/lib/liblitevk.so
(or the library LITEVK_LIB names).
"""

import contextlib
import ctypes
import io
import json
import math
import os
import sys
import tempfile
import unittest

TRAIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(os.path.dirname(TRAIN_DIR))
sys.path.insert(0, TRAIN_DIR)

try:
    import numpy as np
    import torch
except ImportError:
    torch = None
else:
    import data
    import gguf
    import model as llama
    import tokenizer
    import train

STORIES = os.path.join(ROOT, "assets", "stories260K.gguf")
ALPACA = os.path.join(ROOT, "tests", "fixtures", "alpaca_tiny.json")
LIB = os.environ.get("LITEVK_LIB", os.path.join(ROOT, "build", "lib", "liblitevk.so"))
NO_TORCH = "PyTorch is not installed (apt-get install python3-torch python3-numpy)"


def setUpModule():
    if torch is None:
        raise unittest.SkipTest(NO_TORCH)


def stories_tokenizer():
    return tokenizer.Tokenizer.from_gguf(gguf.read_gguf(STORIES))


def write_tiny_model(path, seed=1, vocab_meta=None):
    """A tied 4-block, 64-wide model (4 heads, 2 key/value heads, RoPE on 8 of
    each head's 16 dimensions, FFN 128) with a 512-token vocabulary, the
    default model's or the tokenizer.* metadata vocab_meta [(key, type, value)],
    and seeded random weights; the attention matrices are F16."""
    c = llama.Config(n_layers=4, n_embd=64, n_heads=4, n_kv_heads=2, n_ff=128, n_vocab=512,
                     n_ctx=512, rope_dim=8, rope_base=10000.0, rms_eps=1e-5)
    meta = [
        ("general.architecture", gguf.GGUF_STRING, "llama"),
        ("general.name", gguf.GGUF_STRING, "tiny"),
        ("llama.block_count", gguf.GGUF_UINT32, c.n_layers),
        ("llama.embedding_length", gguf.GGUF_UINT32, c.n_embd),
        ("llama.attention.head_count", gguf.GGUF_UINT32, c.n_heads),
        ("llama.attention.head_count_kv", gguf.GGUF_UINT32, c.n_kv_heads),
        ("llama.feed_forward_length", gguf.GGUF_UINT32, c.n_ff),
        ("llama.context_length", gguf.GGUF_UINT32, c.n_ctx),
        ("llama.rope.dimension_count", gguf.GGUF_UINT32, c.rope_dim),
        ("llama.rope.freq_base", gguf.GGUF_FLOAT32, c.rope_base),
        ("llama.attention.layer_norm_rms_epsilon", gguf.GGUF_FLOAT32, c.rms_eps),
        ("litevk.exit_layers", gguf.GGUF_ARRAY, (gguf.GGUF_INT32, [2])),  # replaced on save
        ("litevk.exit_thresholds", gguf.GGUF_ARRAY, (gguf.GGUF_FLOAT32, [0.5])),
    ]
    if vocab_meta is None:
        vocab_meta = [(k, t, v) for k, (t, v) in gguf.read_gguf(STORIES).meta.items()
                      if k.startswith("tokenizer.")]
    meta += vocab_meta
    rng = np.random.default_rng(seed)
    tensors = []
    for name, p in llama.Llama(c, tied=True).named_parameters():
        if p.dim() == 1:
            array = np.ones(p.shape, np.float32)
        elif name == "token_embd":  # tied: logits of a few units, peaked but trainable
            array = rng.standard_normal(p.shape, np.float32) * np.float32(0.25)
        else:
            array = rng.standard_normal(p.shape, np.float32) / np.float32(math.sqrt(p.shape[1]))
        ggml_type = gguf.GGML_F16 if p.dim() == 2 and ".attn_" in name else gguf.GGML_F32
        tensors.append((llama.gguf_name(name), ggml_type, array))
    gguf.write_gguf(path, meta, tensors)


def assert_every_head_learns(test, history, steps):
    """history has steps rows, and every head's mean train CE over the last 5
    steps is below 0.8 times its mean over the first 5."""
    test.assertEqual(len(history), steps)
    first, last = np.mean(history[:5], axis=0), np.mean(history[-5:], axis=0)
    for head, (a, b) in enumerate(zip(first, last)):
        test.assertLess(b, 0.8 * a, "head %d: train CE %.3f -> %.3f" % (head, a, b))


def run_train(*argv):
    """Runs the trainer quietly; returns its per-step, per-head train losses."""
    with contextlib.redirect_stdout(io.StringIO()):
        return train.run(train.parse_args([str(a) for a in argv]))


class TestData(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tok = stories_tokenizer()

    def check_alpaca(self, record, prompt):
        [(tokens, mask)] = data.alpaca_sequences([record], self.tok)
        prompt_ids = self.tok.encode(prompt, add_bos=True)
        response_ids = tokens[len(prompt_ids):-1]
        self.assertEqual(tokens[:len(prompt_ids)], prompt_ids)
        self.assertEqual(tokens[0], self.tok.bos_id)
        self.assertEqual(tokens[-1], self.tok.eos_id)
        self.assertEqual(self.tok.decode(response_ids), record["output"])
        self.assertEqual(mask, [0] * len(prompt_ids) + [1] * (len(response_ids) + 1))

    def test_alpaca_mask_without_input(self):
        record = {"instruction": "Name a color.", "input": "", "output": "Blue is a color."}
        self.check_alpaca(record, "Below is an instruction that describes a task. Write a response "
                          "that appropriately completes the request.\n\n### Instruction:\n"
                          "Name a color.\n\n### Response:\n")

    def test_alpaca_mask_with_input(self):
        record = {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"}
        self.check_alpaca(record, "Below is an instruction that describes a task, paired with an "
                          "input that provides further context. Write a response that "
                          "appropriately completes the request.\n\n### Instruction:\n"
                          "Add the numbers.\n\n### Input:\n2 and 3\n\n### Response:\n")

    def test_plain_text_windows(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "stories.txt")
            docs = ["Once upon a time there was a cat.", "The dog ran to the park and played."]
            with open(path, "w") as f:
                f.write("<|endoftext|>\n".join(docs) + "<|endoftext|>\n")
            train_set, val = data.load(path, self.tok, 8, 0.0, 0)
        self.assertEqual(val, [])
        stream = [t for d in docs for t in self.tok.encode(d, True) + [self.tok.eos_id]]
        targets = [t for tokens, mask in train_set for t, m in zip(tokens[1:], mask[1:]) if m]
        self.assertEqual(targets, [t for t in stream[1:] if t != self.tok.bos_id])
        self.assertTrue(all(len(tokens) <= 9 for tokens, _ in train_set))

    def test_several_files_read_as_one(self):
        with tempfile.TemporaryDirectory() as tmp:
            parts = ["Once upon a time there was a cat.<|endoftext|>\nThe cat sat.<|endoftext|>\n",
                     "The dog ran to the park.<|endoftext|>\nTom and Sue played.<|endoftext|>\n"]
            paths = [os.path.join(tmp, "%d.txt" % i) for i in range(3)]
            for path, text in zip(paths, parts + ["".join(parts)]):
                with open(path, "w") as f:
                    f.write(text)
            self.assertEqual(data.load(paths[:2], self.tok, 8, 0.5, 1), data.load(paths[2], self.tok, 8, 0.5, 1))
            with self.assertRaisesRegex(ValueError, "all Alpaca"):
                data.load([paths[0], ALPACA], self.tok, 8, 0.5, 1)

    def test_split_is_seeded(self):
        items = list(range(50))
        train_a, val_a = data.split(items, 0.1, 3)
        self.assertEqual((train_a, val_a), data.split(items, 0.1, 3))
        self.assertEqual(len(val_a), 5)
        self.assertEqual(sorted(train_a + val_a), items)
        self.assertNotEqual(val_a, data.split(items, 0.1, 4)[1])


class TestTraining(unittest.TestCase):
    STEPS = 30
    EXITS = [1, 2, 3]

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.base = os.path.join(cls.tmp.name, "tiny.gguf")
        write_tiny_model(cls.base)
        cls.tuned = os.path.join(cls.tmp.name, "tuned.gguf")
        cls.history = run_train("-m", cls.base, "--data", ALPACA, "-o", cls.tuned, "--steps", cls.STEPS,
                                "--lr", 3e-3, "--batch-size", 4, "--seq-len", 256, "--eval-every", 10,
                                "--exit-layers", "1,2,3")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def test_every_exit_loss_goes_down(self):
        assert_every_head_learns(self, self.history, self.STEPS)

    def test_output_keeps_types_and_metadata(self):
        src, out = gguf.read_gguf(self.base), gguf.read_gguf(self.tuned)
        self.assertEqual({n: t[0] for n, t in out.tensors.items()},
                         {n: t[0] for n, t in src.tensors.items()})
        self.assertNotIn("output.weight", out.tensors)
        self.assertEqual(out.meta["litevk.exit_layers"], (gguf.GGUF_ARRAY, (gguf.GGUF_INT32, self.EXITS)))
        self.assertEqual(out.meta["litevk.exit_thresholds"],
                         (gguf.GGUF_ARRAY, (gguf.GGUF_FLOAT32, [1.0] * len(self.EXITS))))
        for key, value in src.meta.items():
            if not key.startswith("litevk."):
                self.assertEqual(out.meta[key], value, key)

    def test_eval_only_json(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            train.run(train.parse_args(["-m", self.tuned, "--data", ALPACA, "--eval-only", "--json",
                                        "--exit-layers", "1,2,3", "--seq-len", "256"]))
        r = json.loads(out.getvalue())["sets"][0]
        self.assertEqual([h["layer"] for h in r["heads"]], [1, 2, 3, 4])
        self.assertTrue(r["heads"][-1]["final"])
        self.assertGreater(r["tokens"], 0)
        self.assertTrue(all(0 <= h["agreement"] <= 1 for h in r["heads"][:-1]))

    @unittest.skipUnless(os.path.exists(LIB), "%s is not built" % LIB)
    def test_litevk_runs_the_output_as_pytorch_does(self):
        self.assert_same_as_litevk(self.tuned, self.EXITS)

    @unittest.skipUnless(os.path.exists(LIB), "%s is not built" % LIB)
    def test_litevk_runs_the_default_model_as_pytorch_does(self):
        net, source = llama.load_gguf(STORIES)
        llama.save_gguf(net, source, self.path("stories.gguf"), [1, 2, 3, 4])
        self.assert_same_as_litevk(self.path("stories.gguf"), [1, 2, 3, 4])

    def assert_same_as_litevk(self, path, exits):
        """Every head's top-1 token and top two probabilities in LiteVK equal
        PyTorch's over a few greedy steps after an Alpaca prompt."""
        tok = stories_tokenizer()
        with open(ALPACA) as f:
            ids = tok.encode(data.alpaca_prompt(json.load(f)[0]), add_bos=True)
        probes = LiteVK(LIB).greedy_probes(path, ids, 4, len(exits) + 1)

        net, _ = llama.load_gguf(path)
        for block in net.blocks:
            block.kv_f16 = True
        with torch.no_grad():
            logits = net(torch.tensor([ids + [p[-1][1] for p in probes[:-1]]]), exits)
        for step, heads in enumerate(probes):
            pos = len(ids) - 1 + step
            for (layer, token, conf, second), l, want_layer in zip(heads, logits, exits + [net.c.n_layers]):
                top2 = l[0, pos].softmax(-1).topk(2)
                self.assertEqual(layer, want_layer)
                self.assertEqual(token, top2.indices[0].item(), "step %d, head after block %d" % (step, layer))
                self.assertAlmostEqual(conf, top2.values[0].item(), delta=1e-3)
                self.assertAlmostEqual(second, top2.values[1].item(), delta=1e-3)

    def test_resume_equals_an_uninterrupted_run(self):
        common = ["-m", self.base, "--data", ALPACA, "--lr", 3e-3, "--batch-size", 3,
                  "--seq-len", 256, "--eval-every", 2, "--exit-layers", "1,3", "--exit-weights", "0.5,2"]
        run_train(*common, "-o", self.path("straight.gguf"), "--steps", 6, "--checkpoint", self.path("straight.pt"))
        run_train(*common, "-o", self.path("half.gguf"), "--steps", 3, "--checkpoint", self.path("resumed.pt"))
        run_train(*common, "-o", self.path("resumed.gguf"), "--steps", 6, "--checkpoint", self.path("resumed.pt"),
                  "--resume", self.path("resumed.pt"))
        self.assert_same_state(self.path("straight.pt"), self.path("resumed.pt"))
        self.assert_same_gguf(self.path("straight.gguf"), self.path("resumed.gguf"))

    def test_same_seed_same_weights(self):
        common = ["-m", self.base, "--data", ALPACA, "--lr", 3e-3, "--batch-size", 3,
                  "--seq-len", 256, "--steps", 4, "--seed", 5]
        a = run_train(*common, "-o", self.path("a.gguf"), "--checkpoint", self.path("a.pt"))
        b = run_train(*common, "-o", self.path("b.gguf"), "--checkpoint", self.path("b.pt"))
        self.assertEqual(a, b)
        self.assert_same_state(self.path("a.pt"), self.path("b.pt"))
        self.assert_same_gguf(self.path("a.gguf"), self.path("b.gguf"))

    def assert_same_state(self, path_a, path_b):
        a, b = torch.load(path_a), torch.load(path_b)
        self.assertEqual(a["step"], b["step"])
        for name in a["model"]:
            self.assertTrue(torch.equal(a["model"][name], b["model"][name]), name)
        for p, state in a["optimizer"]["state"].items():
            for k, v in state.items():
                self.assertTrue(torch.equal(v, b["optimizer"]["state"][p][k]), "%s of %s" % (k, p))

    def assert_same_gguf(self, path_a, path_b):
        with open(path_a, "rb") as a, open(path_b, "rb") as b:
            self.assertTrue(a.read() == b.read(), "%s and %s differ" % (path_a, path_b))


class ExitProbe(ctypes.Structure):
    _fields_ = [("layer", ctypes.c_int), ("token", ctypes.c_int32), ("confidence", ctypes.c_float),
                ("second", ctypes.c_float)]


class TokenInfo(ctypes.Structure):
    _fields_ = [("id", ctypes.c_int32), ("piece", ctypes.c_char * 64), ("layer", ctypes.c_int),
                ("n_layers", ctypes.c_int), ("confidence", ctypes.c_float), ("is_eog", ctypes.c_int),
                ("drafted", ctypes.c_int)]


class ExitConfig(ctypes.Structure):
    _fields_ = [("n_exits", ctypes.c_int), ("layers", ctypes.c_int * 16), ("thresholds", ctypes.c_float * 16),
                ("mode", ctypes.c_int), ("kv_fill", ctypes.c_int), ("probe_all", ctypes.c_int),
                ("decode", ctypes.c_int), ("draft_exit", ctypes.c_int), ("draft_max", ctypes.c_int),
                ("draft_threshold", ctypes.c_float)]


class SessionParams(ctypes.Structure):
    _fields_ = [("n_ctx", ctypes.c_int), ("temperature", ctypes.c_float), ("top_k", ctypes.c_int),
                ("top_p", ctypes.c_float), ("min_p", ctypes.c_float), ("repeat_penalty", ctypes.c_float),
                ("repeat_last_n", ctypes.c_int), ("seed", ctypes.c_uint64),
                ("exits", ctypes.c_void_p)]


class LiteVK:
    """The few calls of include/litevk.h the test needs."""

    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        self.lib.lvk_last_error.restype = ctypes.c_char_p
        self.lib.lvk_session_default_params.restype = SessionParams
        self.lib.lvk_context_validation_messages.restype = ctypes.c_uint32
        self.lib.lvk_context_validation_messages.argtypes = [ctypes.c_void_p]
        for f in ("lvk_context_free", "lvk_model_free", "lvk_session_free"):
            getattr(self.lib, f).argtypes = [ctypes.c_void_p]

    def check(self, status):
        if status != 0:
            raise RuntimeError("LiteVK: %s" % self.lib.lvk_last_error().decode())

    def greedy_probes(self, model_path, prompt_ids, n_steps, n_heads):
        """For each of n_steps greedy tokens after the prompt: every head's
        (layer, argmax, top probability, second probability), exits first, from
        the model's own exit configuration (thresholds 1 and probe_all: every
        head runs, none is taken)."""
        lib, check = self.lib, self.check
        ctx, model, session = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
        check(lib.lvk_context_create(None, ctypes.byref(ctx)))
        try:
            check(lib.lvk_model_load(ctx, model_path.encode(), None, ctypes.byref(model)))
            params = lib.lvk_session_default_params()
            params.temperature = 0.0
            exits = ExitConfig()
            check(lib.lvk_model_exit_config(model, ctypes.byref(exits), None))
            exits.probe_all = 1
            params.exits = ctypes.cast(ctypes.pointer(exits), ctypes.c_void_p)
            check(lib.lvk_session_create(model, ctypes.byref(params), ctypes.byref(session)))
            check(lib.lvk_session_feed_tokens(session, (ctypes.c_int32 * len(prompt_ids))(*prompt_ids),
                                              len(prompt_ids)))
            steps = []
            for _ in range(n_steps):
                info, probes, n = TokenInfo(), (ExitProbe * n_heads)(), ctypes.c_int()
                check(lib.lvk_session_step(session, ctypes.byref(info)))
                check(lib.lvk_session_last_probes(session, probes, n_heads, ctypes.byref(n)))
                assert n.value == n_heads and probes[n_heads - 1].token == info.id
                steps.append([(p.layer, p.token, p.confidence, p.second) for p in probes])
            assert lib.lvk_context_validation_messages(ctx) == 0, "Vulkan validation messages"
            return steps
        finally:
            lib.lvk_session_free(session)
            lib.lvk_model_free(model)
            lib.lvk_context_free(ctx)


if __name__ == "__main__":
    unittest.main()
