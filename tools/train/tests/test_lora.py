"""Tests of LoRA training and --precision in the LITE training tool (tools/train):
the adapted model starts as the input, merging changes no logit, only the
adapters (and output_norm with --train-norm) train, the merged GGUF runs in
LiteVK, resume, and the errors of bad options.

Run: tools/train/litevk-train --selftest, or python3 -m unittest test_lora in
tools/train/tests. Skipped without PyTorch; the LiteVK check without liblitevk.so.
"""

import contextlib
import io
import os
import subprocess
import tempfile
import unittest

import test_train
from test_train import ALPACA, LIB, TRAIN_DIR, assert_every_head_learns, run_train, write_tiny_model

torch = test_train.torch
if torch is not None:
    import numpy as np

    import gguf
    import lora
    import model as llama
    import train


def setUpModule():
    if torch is None:
        raise unittest.SkipTest(test_train.NO_TORCH)


class TestLoRA(unittest.TestCase):
    STEPS = 30
    EXITS = [1, 2, 3]
    TARGETS = ["q", "v", "up", "down"]  # k, o and gate stay as they are
    COMMON = ["--data", ALPACA, "--batch-size", 4, "--seq-len", 256, "--exit-layers", "1,2,3"]

    # test_train's checks, reused as methods of this class
    assert_same_as_litevk = test_train.TestTraining.assert_same_as_litevk
    assert_same_state = test_train.TestTraining.assert_same_state
    assert_same_gguf = test_train.TestTraining.assert_same_gguf

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.base = cls.path("tiny.gguf")
        write_tiny_model(cls.base)
        cls.tuned, cls.checkpoint = cls.path("tuned.gguf"), cls.path("tuned.pt")
        cls.argv = ["-m", cls.base, *cls.COMMON, "-o", cls.tuned, "--steps", cls.STEPS, "--lr", 1e-2,
                    "--eval-every", 10, "--checkpoint", cls.checkpoint,
                    "--lora-rank", 8, "--lora-targets", ",".join(cls.TARGETS), "--train-norm"]
        cls.history = run_train(*cls.argv)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def path(cls, name):
        return os.path.join(cls.tmp.name, name)

    def trained_net(self):
        """The model of the main run before merging: base + adapters from its checkpoint."""
        args = train.parse_args([str(a) for a in self.argv])
        args.exit_weights = [1.0] * len(self.EXITS)  # the default that train.run fills in
        net, _ = llama.load_gguf(self.base)
        lora.attach(net, args.lora_rank, args.lora_alpha, args.lora_targets, args.lora_dropout, args.seed)
        net.output_norm.requires_grad_(True)
        opt = torch.optim.AdamW(train.trained_parameters(net).values())
        scaler = torch.cuda.amp.GradScaler(enabled=False)
        train.load_checkpoint(self.checkpoint, net, opt, scaler, args, torch.device("cpu"))
        return net.eval()

    def logits(self, net):
        tokens = torch.randint(0, net.c.n_vocab, (2, 40), generator=torch.Generator().manual_seed(7))
        with torch.no_grad():
            return net(tokens, self.EXITS)

    def test_step_0_equals_the_base_model(self):
        net, _ = llama.load_gguf(self.base)
        want = self.logits(net)
        lora.attach(net, 8, 16.0, list(lora.TARGETS), 0.0, 0)
        for head, (a, b) in enumerate(zip(want, self.logits(net))):
            self.assertTrue(torch.equal(a, b), "head %d" % head)

    def test_merged_equals_unmerged(self):
        net = self.trained_net()
        self.assertTrue(all(a.b.abs().max() > 0 for blk in net.blocks for a in blk.lora.values()))
        unmerged = self.logits(net)
        lora.merge(net)
        self.assertEqual([len(blk.lora) for blk in net.blocks], [0] * net.c.n_layers)
        for head, (a, b) in enumerate(zip(unmerged, self.logits(net))):
            # float32 rounding of W + scale B A against the two thin products: about 1e-6
            self.assertLess((a - b).abs().max().item(), 1e-5 * a.abs().max().item(), "head %d" % head)

    def test_only_the_adapters_and_output_norm_train(self):
        blocks = range(4)
        adapters = {"blocks.%d.lora.%s.%s" % (i, lora.TARGETS[t], ab)
                    for i in blocks for t in self.TARGETS for ab in "ab"}
        state = torch.load(self.checkpoint)
        self.assertEqual(set(state["model"]), adapters | {"output_norm"})
        self.assertEqual(len(state["optimizer"]["state"]), len(adapters) + 1)

        merged = {llama.gguf_name(n): p.detach().numpy() for n, p in self.merged_net().named_parameters()}
        src, out = gguf.read_gguf(self.base), gguf.read_gguf(self.tuned)
        targeted = {"blk.%d.%s.weight" % (i, lora.TARGETS[t]) for i in blocks for t in self.TARGETS}
        for name, (ggml_type, _, array) in out.tensors.items():
            if name in targeted or name == "output_norm.weight":
                self.assertFalse(np.array_equal(array, src.tensors[name][2]), name)
                # the merged float32 weight, rounded to the tensor's type
                dtype = np.float16 if ggml_type == gguf.GGML_F16 else np.float32
                self.assertTrue(np.array_equal(array, merged[name].astype(dtype).astype(np.float32)), name)
            else:
                self.assertTrue(np.array_equal(array, src.tensors[name][2]), name)

    def merged_net(self):
        net = self.trained_net()
        lora.merge(net)
        return net

    def test_every_exit_loss_goes_down(self):
        assert_every_head_learns(self, self.history, self.STEPS)

    def test_output_keeps_types_and_metadata(self):
        src, out = gguf.read_gguf(self.base), gguf.read_gguf(self.tuned)
        self.assertEqual([(n, t[0]) for n, t in out.tensors.items()],
                         [(n, t[0]) for n, t in src.tensors.items()])
        for key, value in src.meta.items():
            if not key.startswith("litevk."):
                self.assertEqual(out.meta[key], value, key)

    @unittest.skipUnless(os.path.exists(LIB), "%s is not built" % LIB)
    def test_litevk_runs_the_output_as_pytorch_does(self):
        self.assert_same_as_litevk(self.tuned, self.EXITS)

    def test_resume_equals_an_uninterrupted_run(self):
        # With dropout, so that the resumed run must also continue the dropout masks' RNG.
        common = ["-m", self.base, *self.COMMON, "--lr", 1e-2, "--eval-every", 2, "--lora-rank", 4,
                  "--lora-alpha", 8, "--lora-dropout", 0.1]
        straight = run_train(*common, "-o", self.path("straight.gguf"), "--steps", 6,
                             "--checkpoint", self.path("straight.pt"))
        run_train(*common, "-o", self.path("half.gguf"), "--steps", 3, "--checkpoint", self.path("resumed.pt"))
        resumed = run_train(*common, "-o", self.path("resumed.gguf"), "--steps", 6,
                            "--checkpoint", self.path("resumed.pt"), "--resume", self.path("resumed.pt"))
        self.assertEqual(straight[3:], resumed)
        self.assert_same_state(self.path("straight.pt"), self.path("resumed.pt"))
        self.assert_same_gguf(self.path("straight.gguf"), self.path("resumed.gguf"))
        without_dropout = run_train(*common[:-2], "-o", self.path("no_dropout.gguf"), "--steps", 6)
        self.assertEqual(straight[0], without_dropout[0])  # B = 0: dropout cannot matter yet
        self.assertNotEqual(straight[1:], without_dropout[1:])

    def test_resume_refuses_other_lora_settings(self):
        code, err = self.main("-m", self.base, *self.COMMON, "-o", self.path("other.gguf"), "--lr", 1e-2,
                              "--lora-rank", 8, "--lora-targets", "v,q", "--train-norm",
                              "--resume", self.checkpoint, "--steps", self.STEPS + 1)
        self.assertEqual(code, 1)
        self.assertIn("was saved with --lora-targets q,v,up,down, this run has q,v; a resumed run must match",
                      err)

    def test_bf16_autocast_on_cpu(self):
        common = ["-m", self.base, *self.COMMON, "--lr", 1e-2, "--steps", 3, "--lora-rank", 8]
        fp32 = run_train(*common, "-o", self.path("fp32.gguf"))
        bf16 = run_train(*common, "-o", self.path("bf16.gguf"), "--precision", "bf16")
        self.assertNotEqual(fp32, bf16)  # autocast took effect
        for a, b in zip(np.ravel(fp32), np.ravel(bf16)):
            self.assertAlmostEqual(a, b, delta=0.02 * a)

    def main(self, *argv):
        """train.main's exit code (argparse's 2 included) and what it wrote to stderr."""
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = train.main([str(a) for a in argv])
            except SystemExit as e:
                code = e.code
        return code, err.getvalue()

    def test_bad_options(self):
        argv = ["-m", self.base, "--data", ALPACA, "-o", self.path("bad.gguf")]
        for extra, message in [
                (["--lora-rank", -1], "--lora-rank must be 0 (off) or more"),
                (["--lora-rank", 8, "--lora-targets", "q,attn_k,x"],
                 "--lora-targets: unknown attn_k,x; the targets are q,k,v,o,gate,up,down"),
                (["--train-norm"], "need --lora-rank > 0"),
                (["--lora-rank", 8, "--lora-alpha", 0], "--lora-alpha must be above 0"),
                (["--lora-rank", 8, "--lora-dropout", 1], "--lora-dropout must be in 0..1"),
                (["--precision", "fp16"], "--precision fp16 needs --device cuda")]:
            code, err = self.main(*argv, *extra)
            self.assertEqual(code, 2, extra)
            self.assertIn(message, err)

    def test_fp16_on_cpu_from_the_command_line(self):
        r = subprocess.run([os.path.join(TRAIN_DIR, "litevk-train"), "-m", self.base, "--data", ALPACA,
                            "-o", self.path("fp16.gguf"), "--precision", "fp16"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--precision fp16 needs --device cuda (PyTorch's CPU autocast has no float16)",
                      r.stderr)


if __name__ == "__main__":
    unittest.main()
