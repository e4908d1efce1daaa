"""Training on a byte-level BPE vocabulary (tokenizer.ggml.model "gpt2": Llama 3,
Qwen2, GPT-2), which the trainer tokenizes through `litevk tokenize --jsonl`.

The model is test_train's tiny random one with a 512-token byte-level
vocabulary made here: GPT-2's 256 byte tokens, a few merges, Llama 3's
pre-tokenizer and special tokens. Skipped without PyTorch or without the
litevk binary (build/bin/litevk, or the one LITEVK_BIN names).
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import test_train  # noqa: E402
from test_train import ALPACA, run_train, torch, write_tiny_model  # noqa: E402

if torch is not None:
    import checkpoints
    import data
    import gguf
    import tokenizer

N_VOCAB = 512
BOS, EOS = "<|begin_of_text|>", "<|end_of_text|>"
BIGRAMS = ["th", "he", "in", "er", "an", "re", "on", "at", "en", "nd", "ou", "ed", "ha", "to", "or",
           "it", "is", "hi", "es", "ng", "st", "ar", "te", "al", "le", "se", "ro", "co", "me", "de"]
TEXTS = ["Once upon a time there was a cat.", "", "The end.\n\nAnother one", "  two spaces\tand a tab",
         "Émile ate a crêpe 🍓 and said: ¿qué? 3.14159", "<|end_of_text|> is written, not parsed"]


def byte_chars():
    """GPT-2's bytes_to_unicode: the character that stands for each byte in a
    byte-level vocabulary's token texts (printable bytes stand for themselves)."""
    printable = [b for b in range(256) if 0x21 <= b <= 0x7e or 0xa1 <= b <= 0xac or 0xae <= b <= 0xff]
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def byte_level_vocab():
    """tokenizer.* metadata of a 512-token byte-level BPE vocabulary: the 256
    byte tokens, merges of ' ' + each letter, common bigrams and " the", BOS
    and EOS, then reserved control tokens up to 512."""
    chars = byte_chars()
    space = chars[ord(" ")]
    merges = [(space, c) for c in "abcdefghijklmnopqrstuvwxyzTEO"] + [tuple(b) for b in BIGRAMS]
    merges += [(space + "t", "he"), (space + "a", "nd")]
    tokens = chars + [a + b for a, b in merges] + [BOS, EOS]
    types = [1] * (len(tokens) - 2) + [3, 3]
    while len(tokens) < N_VOCAB:
        tokens.append("<|reserved_special_token_%d|>" % (len(tokens) - 256 - len(merges) - 2))
        types.append(3)
    return [
        ("tokenizer.ggml.model", gguf.GGUF_STRING, "gpt2"),
        ("tokenizer.ggml.pre", gguf.GGUF_STRING, "llama-bpe"),
        ("tokenizer.ggml.tokens", gguf.GGUF_ARRAY, (gguf.GGUF_STRING, tokens)),
        ("tokenizer.ggml.token_type", gguf.GGUF_ARRAY, (gguf.GGUF_INT32, types)),
        ("tokenizer.ggml.merges", gguf.GGUF_ARRAY, (gguf.GGUF_STRING, ["%s %s" % m for m in merges])),
        ("tokenizer.ggml.bos_token_id", gguf.GGUF_UINT32, tokens.index(BOS)),
        ("tokenizer.ggml.eos_token_id", gguf.GGUF_UINT32, tokens.index(EOS)),
        ("tokenizer.ggml.add_bos_token", gguf.GGUF_BOOL, True),
    ]


def setUpModule():
    test_train.setUpModule()
    if checkpoints.find_litevk() is None:
        raise unittest.SkipTest("no litevk binary (build it, or name one with LITEVK_BIN)")


class TestByteLevel(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.model = os.path.join(cls.tmp.name, "tiny-bpe.gguf")
        write_tiny_model(cls.model, vocab_meta=byte_level_vocab())
        cls.litevk = checkpoints.find_litevk()
        cls.tok = tokenizer.load(gguf.read_gguf(cls.model), cls.litevk)
        meta = dict((k, v) for k, _, v in byte_level_vocab())
        cls.pieces = {i: t for i, t in enumerate(meta["tokenizer.ggml.tokens"][1])}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def decode(self, ids):
        """The text of byte tokens and merges (this vocabulary's, no specials)."""
        byte_of = {c: b for b, c in enumerate(byte_chars())}
        return bytes(byte_of[c] for i in ids for c in self.pieces[i]).decode("utf-8")

    def litevk_tokenize(self, texts):
        """The ids `litevk tokenize` gives for texts on the model file, BOS and
        EOS as its metadata wants them (BOS only)."""
        r = subprocess.run([self.litevk, "tokenize", "-m", self.model, "--jsonl", "-"], check=True,
                           input="".join(json.dumps(t) + "\n" for t in texts),
                           stdout=subprocess.PIPE, text=True)
        return [json.loads(line) for line in r.stdout.splitlines()]

    def test_ids_are_litevks(self):
        self.assertIsInstance(self.tok, tokenizer.LiteVKTokenizer)
        self.assertEqual((self.tok.n_vocab, self.tok.bos_id), (N_VOCAB, self.pieces_id(BOS)))
        ids = self.tok.encode_many(TEXTS, add_bos=True)
        self.assertEqual(ids, self.litevk_tokenize(TEXTS))
        self.assertEqual(self.tok.encode(TEXTS[0], add_bos=False), ids[0][1:])
        self.assertTrue(any(i >= 256 for i in ids[0]), "no merge applied")
        self.assertEqual([self.decode(t[1:]) for t in ids], TEXTS)

    def pieces_id(self, text):
        return next(i for i, t in self.pieces.items() if t == text)

    def test_alpaca_mask_falls_on_the_response(self):
        with open(ALPACA, encoding="utf-8") as f:
            records = json.load(f)
        sequences = data.alpaca_sequences(records, self.tok)
        prompts = self.tok.encode_many([data.alpaca_prompt(r) for r in records], add_bos=True)
        for r, prompt_ids, (tokens, mask) in zip(records, prompts, sequences):
            n_prompt = mask.index(1)
            self.assertEqual(tokens[:n_prompt], prompt_ids)  # the template ends in "\n": a clean cut
            self.assertEqual(mask, [0] * n_prompt + [1] * (len(tokens) - n_prompt))
            self.assertEqual((tokens[0], tokens[-1]), (self.tok.bos_id, self.tok.eos_id))
            self.assertEqual(self.decode(tokens[n_prompt:-1]), r["output"])

    def test_plain_text_documents(self):
        docs = ["Once upon a time there was a cat.", "The dog ran to the park and played."]
        path = self.path("docs.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n\n".join(docs) + "\n")
        train_set, _ = data.load(path, self.tok, 8, 0.0, 0)
        stream = [t for ids in self.litevk_tokenize(docs) for t in ids + [self.tok.eos_id]]
        targets = [t for tokens, mask in train_set for t, m in zip(tokens[1:], mask[1:]) if m]
        self.assertEqual(targets, [t for t in stream[1:] if t != self.tok.bos_id])

    def test_trains_from_plain_text_and_alpaca(self):
        text = self.path("stories.txt")
        with open(text, "w", encoding="utf-8") as f:
            f.write("<|endoftext|>\n".join(TEXTS[:1] * 3 + ["The cat sat on the mat, and then it slept."] * 3))
        for name, path in (("text", text), ("alpaca", ALPACA)):
            with self.subTest(name):
                out = self.path("tuned-%s.gguf" % name)
                history = run_train("-m", self.model, "--data", path, "-o", out, "--steps", 2, "--lr", 1e-3,
                                    "--batch-size", 2, "--seq-len", 400, "--exit-layers", "2",
                                    "--val-fraction", 0.25, "--litevk", self.litevk)
                self.assertEqual(len(history), 2)
                self.assertTrue(all(x == x for step in history for x in step))  # no NaN
                g = gguf.read_gguf(out)
                self.assertEqual(g.meta["tokenizer.ggml.model"][1], "gpt2")
                self.assertEqual(g.meta["litevk.exit_layers"][1][1], [2])
                # LiteVK loads it whole (weights and vocabulary), as it would run it
                info = subprocess.run([self.litevk, "info", "-m", out], check=True,
                                      stdout=subprocess.PIPE, text=True).stdout
                self.assertIn("gpt2 (byte-level BPE), pre-tokenizer llama-bpe, adds BOS", info)


if __name__ == "__main__":
    unittest.main()
