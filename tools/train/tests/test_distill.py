"""Tests of distillation, freezing, layer dropout and the per-head reports of
the training tool: the KL loss against hand-computed values, the teacher
cache against the teacher, frozen weights left bit for bit, and reports that
must read 100 % where an exit is the final head in disguise.

Run: tools/train/litevk-train --selftest, or python3 -m unittest in tools/train/tests.
"""

import contextlib
import io
import json
import math
import os
import tempfile
import unittest

from test_train import ALPACA, run_train, torch, write_tiny_model

if torch is not None:
    import numpy as np

    import data
    import distill
    import gguf
    import model as llama
    import report
    import train


def setUpModule():
    if torch is None:
        raise unittest.SkipTest("PyTorch is not installed (apt-get install python3-torch python3-numpy)")


class TestKDLoss(unittest.TestCase):
    def test_temperature_one(self):
        # teacher softmax([ln 3, 0]) = (3/4, 1/4), student (1/2, 1/2)
        teacher = distill.TeacherLogits(torch.tensor([[math.log(3), 0.0]]))
        want = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
        got = distill.kd_loss(torch.zeros(1, 2), teacher, 1.0).item()
        self.assertAlmostEqual(got, want, places=6)

    def test_temperature_two_scales_by_its_square(self):
        # at T = 2 the teacher is softmax([ln 3 / 2, 0]) = (sqrt 3, 1) / (sqrt 3 + 1)
        teacher = distill.TeacherLogits(torch.tensor([[math.log(3), 0.0]]))
        p = math.sqrt(3) / (math.sqrt(3) + 1)
        want = 4 * (p * math.log(p / 0.5) + (1 - p) * math.log((1 - p) / 0.5))
        got = distill.kd_loss(torch.zeros(1, 2), teacher, 2.0).item()
        self.assertAlmostEqual(got, want, places=6)

    def test_top_k_renormalises_the_teacher(self):
        # top 2 of [ln 3, 0, -100] renormalised: (3/4, 1/4); student 1/3 on each token
        teacher = distill.TeacherLogits(torch.tensor([[math.log(3), 0.0]]), torch.tensor([[0, 1]]))
        want = 0.75 * math.log(0.75 * 3) + 0.25 * math.log(0.25 * 3)
        got = distill.kd_loss(torch.zeros(1, 3), teacher, 1.0).item()
        self.assertAlmostEqual(got, want, places=6)

    def test_mean_over_positions_and_zero_at_the_teacher(self):
        logits = torch.randn(5, 7, generator=torch.Generator().manual_seed(0))
        self.assertAlmostEqual(distill.kd_loss(logits, distill.TeacherLogits(logits), 3.0).item(), 0.0, places=6)
        teacher = distill.TeacherLogits(torch.zeros(5, 7))
        each = [distill.kd_loss(logits[i:i + 1], distill.TeacherLogits(torch.zeros(1, 7)), 1.0).item()
                for i in range(5)]
        self.assertAlmostEqual(distill.kd_loss(logits, teacher, 1.0).item(), sum(each) / 5, places=6)


class TestDistillTraining(unittest.TestCase):
    EXITS = "1,2,3"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.base = os.path.join(cls.tmp.name, "tiny.gguf")
        write_tiny_model(cls.base)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def common(self, *extra):
        return ["-m", self.base, "--data", ALPACA, "--lr", 3e-3, "--batch-size", 3, "--seq-len", 256,
                "--exit-layers", self.EXITS, "--draft-prompts", 0, *extra]

    def test_cache_holds_the_teachers_logits(self):
        net, source = llama.load_gguf(self.base)
        tok = train.tokenizer.Tokenizer.from_gguf(source)
        train_set, _ = data.load(ALPACA, tok, 256, 0.1, 0)
        for top_k in (512, 20):
            path = self.path("cache%d.pt" % top_k)
            cache = distill.TeacherCache.load_or_build(path, net, train_set, top_k, 2,
                                                       tok.eos_id, "cpu")
            indices = [2, 0]
            inputs, _, mask = data.collate([train_set[i] for i in indices], tok.eos_id)
            want = distill.teacher_logits(net, inputs, mask, top_k)
            got = cache.batch(indices, "cpu")
            self.assertEqual(got.values.shape, want.values.shape)
            torch.testing.assert_close(got.values.float(), want.values, rtol=1e-3, atol=1e-3)
            if top_k < 512:
                self.assertTrue(torch.equal(got.indices, want.indices))
            else:
                self.assertIsNone(got.indices)
            out = io.StringIO()
            with contextlib.redirect_stdout(out):  # a second run reads the file back
                distill.TeacherCache.load_or_build(path, net, train_set, top_k, 2, tok.eos_id, "cpu")
            self.assertIn("read from", out.getvalue())

    def test_distillation_pulls_every_head_to_the_teacher(self):
        """With the teacher a trained model and the data's CE off, every head's
        KL to the teacher falls."""
        teacher = self.path("teacher.gguf")
        run_train(*self.common("-o", teacher, "--steps", 15))
        history = run_train(*self.common("-o", self.path("student.gguf"), "--steps", 15, "--ce-weight", 0,
                                         "--kd-weight", 1, "--kd-temperature", 2, "--teacher", teacher))
        self.assertEqual(len(history), 15)
        net, source = llama.load_gguf(self.path("student.gguf"))
        base, _ = llama.load_gguf(self.base)
        want, _ = llama.load_gguf(teacher)
        tok = train.tokenizer.Tokenizer.from_gguf(source)
        _, val = data.load(ALPACA, tok, 256, 1.0, 0)
        inputs, _, mask = data.collate(val, tok.eos_id)
        exits = [1, 2, 3]
        with torch.no_grad():
            target = distill.TeacherLogits(want(inputs, [], select=mask)[-1])
            for before, after in zip(base(inputs, exits, select=mask), net(inputs, exits, select=mask)):
                self.assertLess(distill.kd_loss(after, target, 1.0), 0.8 * distill.kd_loss(before, target, 1.0))

    def test_frozen_weights_stay_bit_for_bit(self):
        run_train(*self.common("-o", self.path("frozen.gguf"), "--steps", 3, "--freeze-final-block",
                               "--freeze-head", "--kd-weight", 1, "--layer-dropout", 0.5))
        before, after = gguf.read_gguf(self.base).tensors, gguf.read_gguf(self.path("frozen.gguf")).tensors
        for name in before:
            same = np.array_equal(before[name][2], after[name][2])
            frozen = name.startswith("blk.3.") or name in ("output_norm.weight", "token_embd.weight")
            self.assertEqual(same, frozen, name)

    def test_layer_dropout_rates(self):
        torch.manual_seed(0)
        keep = train.layer_keep(5, 20000, 0.2, "cpu")
        rates = [1 - k.float().mean().item() for k in keep]
        self.assertEqual(rates[0], 0.0)
        for layer, rate in enumerate(rates):
            self.assertAlmostEqual(rate, 0.2 * (2 ** (layer / 4) - 1), delta=0.01)
        self.assertIsNone(train.layer_keep(5, 4, 0.0, "cpu"))

    def test_resume_with_layer_dropout_and_a_teacher(self):
        common = self.common("--eval-every", 2, "--kd-weight", 1, "--layer-dropout", 0.3,
                             "--teacher-cache", self.path("resume-cache.pt"))
        run_train(*common, "-o", self.path("straight.gguf"), "--steps", 4)
        run_train(*common, "-o", self.path("half.gguf"), "--steps", 2, "--checkpoint", self.path("r.pt"))
        run_train(*common, "-o", self.path("resumed.gguf"), "--steps", 4, "--checkpoint", self.path("r.pt"),
                  "--resume", self.path("r.pt"))
        with open(self.path("straight.gguf"), "rb") as a, open(self.path("resumed.gguf"), "rb") as b:
            self.assertTrue(a.read() == b.read())


class TestReports(unittest.TestCase):
    def test_an_exit_that_is_the_final_head_agrees_and_is_accepted_everywhere(self):
        """With the last block's outputs zeroed the block is the identity, so
        the exit before it is the final head: agreement and acceptance 1."""
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "tiny.gguf")
            write_tiny_model(path)
            net, source = llama.load_gguf(path)
            with torch.no_grad():
                net.blocks[-1].attn_output.zero_()
                net.blocks[-1].ffn_down.zero_()
            tok = train.tokenizer.Tokenizer.from_gguf(source)
            _, sequences = data.load(ALPACA, tok, 256, 1.0, 0)
            args = train.parse_args(["-m", path, "--data", ALPACA, "--eval-only", "--draft-prompts", "3",
                                     "--draft-tokens", "5"])
            r = report.evaluate(net, sequences, [1, 3], args, tok.eos_id, "cpu")
        self.assertEqual(r["draft_tokens"], 15)
        self.assertEqual(r["agreement"][1], 1.0)
        self.assertEqual(r["acceptance"][1], 1.0)
        self.assertLess(r["acceptance"][0], 1.0)
        self.assertAlmostEqual(r["ce"][1], r["ce"][2], places=5)

    def test_eval_only_json_reports_every_set(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "tiny.gguf")
            write_tiny_model(path)
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                train.run(train.parse_args(["-m", path, "--data", ALPACA, "--eval-only", "--json",
                                            "--exit-layers", "2", "--seq-len", "256", "--report-data", ALPACA,
                                            "--draft-prompts", "2", "--draft-tokens", "4"]))
        r = json.loads(out.getvalue())
        self.assertEqual([s["data"] for s in r["sets"]], ["validation split of " + ALPACA, ALPACA])
        whole = r["sets"][1]
        self.assertEqual(whole["sequences"], 8)
        self.assertEqual(whole["draft_tokens"], 8)
        self.assertEqual([h["layer"] for h in whole["heads"]], [2, 4])
        self.assertTrue(whole["heads"][1]["final"])
        self.assertTrue(0 <= whole["heads"][0]["acceptance"] <= 1)


if __name__ == "__main__":
    unittest.main()
