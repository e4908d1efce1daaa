"""Tests of gguf.py and tokenizer.py: GGUF round trips (checked by the LiteVK
binary where it is built), malformed files, and the tokenizer against
llama.cpp's test vectors and against the C runtime's own tokenizer.

Run from the repository root:
    /usr/bin/python3 -m unittest discover -s tools/train/tests -v
"""

import json
import random
import struct
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

TRAIN_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TRAIN_DIR))

import numpy as np  # noqa: E402

import gguf  # noqa: E402
from gguf import read_gguf, write_gguf  # noqa: E402
from tokenizer import LiteVKTokenizer, Tokenizer  # noqa: E402

ROOT = TRAIN_DIR.parents[1]
STORIES = ROOT / "assets" / "stories260K.gguf"
SPM_VOCAB = ROOT / "tests" / "fixtures" / "ggml-vocab-llama-spm.gguf"
LITEVK = ROOT / "build" / "bin" / "litevk"

STORY_SENTENCES = [
    "Once upon a time",
    "Once upon a time, there was a little girl named Lily.",
    "She loved to play outside in the park with her friends.",
    "One day, Tom saw a big red ball. He said, \"Can I play too?\"",
    "The cat was sad because it could not find its mom.",
    "  two leading spaces, and a tab\there",
    "Émile ate a crêpe 🍓 and said: ¿qué?",
]


def as_args(g):
    """A GGUF's metadata and tensors in write_gguf's argument form."""
    meta = [(k, t, v) for k, (t, v) in g.meta.items()]
    tensors = [(name, t, a) for name, (t, _, a) in g.tensors.items()]
    return meta, tensors


def require(path):
    """Skips the calling test when a build product is missing."""
    if not path.exists():
        raise unittest.SkipTest("%s is not built (cmake --build build)" % path)


def litevk_run(model, prompt, *options):
    """stdout of `litevk run` with greedy sampling."""
    require(LITEVK)
    r = subprocess.run([str(LITEVK), "run", "-m", str(model), "-p", prompt, "--temp", "0",
                        *options], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise AssertionError("litevk run -m %s failed (%d): %s" % (model, r.returncode, r.stderr))
    return r.stdout


class TempDirTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.tmp = Path(tmp.name)


# ---- GGUF ---------------------------------------------------------------------


class GGUFRoundTrip(TempDirTest):
    def setUp(self):
        super().setUp()
        self.g = read_gguf(STORIES)
        self.out = self.tmp / "out.gguf"
        write_gguf(self.out, *as_args(self.g))

    def test_reads_stories(self):
        g = self.g
        self.assertEqual(g.alignment, 32)
        self.assertEqual(g.meta["llama.block_count"], (gguf.GGUF_UINT32, 5))
        elem_type, tokens = g.meta["tokenizer.ggml.tokens"][1]
        self.assertEqual((elem_type, len(tokens), tokens[1]), (gguf.GGUF_STRING, 512, "<s>"))
        t, ne, a = g.tensors["token_embd.weight"]
        self.assertEqual((t, ne, a.shape, a.dtype), (gguf.GGML_F32, (64, 512), (512, 64), np.float32))
        self.assertEqual(g.tensors["blk.0.attn_k.weight"][2].shape, (32, 64))

    def test_same_metadata_and_tensors(self):
        back = read_gguf(self.out)
        self.assertEqual(list(back.meta.items()), list(self.g.meta.items()))
        self.assertEqual(list(back.tensors), list(self.g.tensors))
        for name, (t, ne, a) in self.g.tensors.items():
            t2, ne2, a2 = back.tensors[name]
            self.assertEqual((t2, ne2, a2.shape), (t, ne, a.shape), name)
            self.assertEqual(a2.tobytes(), a.tobytes(), name)

    def test_same_bytes_as_the_c_writer(self):
        # The asset was written by LiteVK's C writer; this one lays files out
        # the same way.
        self.assertEqual(self.out.read_bytes(), STORIES.read_bytes())

    def test_writing_is_deterministic(self):
        again = self.tmp / "again.gguf"
        write_gguf(again, *as_args(read_gguf(self.out)))
        self.assertEqual(again.read_bytes(), self.out.read_bytes())

    def test_litevk_loads_it(self):
        require(LITEVK)
        r = subprocess.run([str(LITEVK), "info", "-m", str(self.out)], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("stories260K", r.stdout)

    def test_litevk_generates_the_same_text(self):
        expected = litevk_run(STORIES, "Once upon a time", "-n", "20")
        self.assertTrue(expected.startswith("Once upon a time"), expected)
        self.assertEqual(litevk_run(self.out, "Once upon a time", "-n", "20"), expected)


class GGUFValues(TempDirTest):
    META = [
        ("u8", gguf.GGUF_UINT8, 255),
        ("i8", gguf.GGUF_INT8, -128),
        ("u16", gguf.GGUF_UINT16, 65535),
        ("i16", gguf.GGUF_INT16, -32768),
        ("u32", gguf.GGUF_UINT32, 4294967295),
        ("i32", gguf.GGUF_INT32, -2147483648),
        ("f32", gguf.GGUF_FLOAT32, 0.5),
        ("bool", gguf.GGUF_BOOL, True),
        ("str", gguf.GGUF_STRING, "héllo ▁ 🍓"),
        ("empty", gguf.GGUF_STRING, ""),
        ("u64", gguf.GGUF_UINT64, 2**64 - 1),
        ("i64", gguf.GGUF_INT64, -2**63),
        ("f64", gguf.GGUF_FLOAT64, 1e300),
        ("ints", gguf.GGUF_ARRAY, (gguf.GGUF_INT32, [1, -2, 3])),
        ("floats", gguf.GGUF_ARRAY, (gguf.GGUF_FLOAT32, [0.25, -1.5])),
        ("bools", gguf.GGUF_ARRAY, (gguf.GGUF_BOOL, [True, False])),
        ("strs", gguf.GGUF_ARRAY, (gguf.GGUF_STRING, ["a", "", "▁b"])),
        ("none", gguf.GGUF_ARRAY, (gguf.GGUF_UINT8, [])),
        ("nested", gguf.GGUF_ARRAY,
         (gguf.GGUF_ARRAY, [(gguf.GGUF_INT8, [1, 2]), (gguf.GGUF_STRING, ["x"])])),
    ]

    def test_every_value_type(self):
        path = self.tmp / "values.gguf"
        write_gguf(path, self.META, [("w", gguf.GGML_F32, np.ones((2, 3), np.float32))])
        g = read_gguf(path)
        self.assertEqual(g.version, 3)
        self.assertEqual([(k, t, v) for k, (t, v) in g.meta.items()], self.META)

    def test_f16(self):
        path = self.tmp / "f16.gguf"
        w = np.random.default_rng(0).standard_normal((3, 4, 8)).astype(np.float32)
        write_gguf(path, [], [("w", gguf.GGML_F16, w)])
        t, ne, a = read_gguf(path).tensors["w"]
        self.assertEqual((t, ne, a.dtype), (gguf.GGML_F16, (8, 4, 3), np.float32))
        np.testing.assert_array_equal(a, w.astype(np.float16).astype(np.float32))

    def test_alignment(self):
        path = self.tmp / "aligned.gguf"
        meta = [("general.alignment", gguf.GGUF_UINT32, 64)]
        tensors = [("a", gguf.GGML_F32, np.arange(3, dtype=np.float32)),
                   ("b", gguf.GGML_F16, np.arange(5, dtype=np.float32))]
        write_gguf(path, meta, tensors)
        data = path.read_bytes()
        self.assertEqual(len(data) % 64, 0)  # every tensor padded, the last one too
        g = read_gguf(path)
        self.assertEqual(g.alignment, 64)
        np.testing.assert_array_equal(g.tensors["b"][2], np.arange(5))
        # b's data is the last 64-byte block: a's 12 bytes were padded to 64.
        b_offset = len(data) - 64
        self.assertEqual(data[b_offset:b_offset + 10], np.arange(5, dtype="<f2").tobytes())

    def test_writer_refuses(self):
        one = [("w", gguf.GGML_F32, np.zeros(4, np.float32))]
        bad = [
            ([("k", gguf.GGUF_UINT8, 256)], one, "'k'.*uint8"),
            ([("k", gguf.GGUF_INT32, 1.5)], one, "'k'.*int32"),
            ([("k", gguf.GGUF_BOOL, 1)], one, "bool"),
            ([("k", gguf.GGUF_STRING, b"bytes")], one, "str"),
            ([("k", 99, 0)], one, "type"),
            ([("k", gguf.GGUF_UINT32, 1), ("k", gguf.GGUF_UINT32, 2)], one, "twice"),
            ([("general.alignment", gguf.GGUF_UINT32, 48)], one, "alignment"),
            ([("general.alignment", gguf.GGUF_UINT64, 64)], one, "alignment"),
            ([], [("w", gguf.GGML_F32, np.zeros(4))] * 2, "twice"),
            ([], [("w", 8, np.zeros(32))], "Q8_0"),
            ([], [("w", gguf.GGML_F32, np.zeros((1, 1, 1, 1, 2)))], "dimensions"),
            ([], [("w", gguf.GGML_F32, np.zeros((0, 2)))], "shape"),
            ([], [("w", gguf.GGML_F32, np.zeros(2, np.int32))], "floating"),
            ([], [("x" * 64, gguf.GGML_F32, np.zeros(2))], "name"),
            ([], [("w", gguf.GGML_F16, np.array([1e6], np.float32))], "too large"),
        ]
        for meta, tensors, needle in bad:
            with self.subTest(meta=meta, needle=needle):
                with self.assertRaisesRegex(ValueError, needle):
                    write_gguf(self.tmp / "bad.gguf", meta, tensors)


def header(n_tensors, n_kv, version=3):
    return b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv)


def gguf_string(s):
    return struct.pack("<Q", len(s)) + s


def tensor_info(name, ne, ggml_type, offset=0):
    return (gguf_string(name) + struct.pack("<I%dQ" % len(ne), len(ne), *ne)
            + struct.pack("<IQ", ggml_type, offset))


TRUNCATED = "truncated|runs past|larger than the file"


class GGUFMalformed(TempDirTest):
    def assert_refused(self, data, pattern):
        """Reading `data` raises a ValueError naming the file and matching
        `pattern`; returns the message."""
        path = self.tmp / "bad.gguf"
        path.write_bytes(data)
        with self.assertRaises(ValueError) as cm:
            read_gguf(path)
        message = str(cm.exception)
        self.assertIn(str(path), message)
        self.assertRegex(message, pattern)
        return message

    def test_bad_magic(self):
        data = bytearray(STORIES.read_bytes())
        data[:4] = b"GGML"
        self.assert_refused(bytes(data), "not a GGUF file")
        self.assert_refused(b"", "truncated")

    def test_bad_version(self):
        self.assert_refused(header(0, 0, version=1), "version 1")
        self.assert_refused(header(0, 0, version=0x03000000), "not supported")  # big-endian

    def test_truncated_stories(self):
        data = STORIES.read_bytes()
        for size in (3, 10, 23, 100, 5000, 12000, len(data) - 1):
            with self.subTest(size=size):
                self.assert_refused(data[:size], TRUNCATED)

    def test_every_truncation(self):
        # Every prefix of a small file with each kind of field in it.
        path = self.tmp / "small.gguf"
        write_gguf(path, GGUFValues.META, [("w", gguf.GGML_F16, np.ones((2, 3), np.float32))])
        data = path.read_bytes()
        # The file ends with the tensor's 12 bytes of data, then 20 of padding.
        for size in range(len(data) - 20):
            with self.subTest(size=size):
                self.assert_refused(data[:size], TRUNCATED)

    def test_quantized_tensor(self):
        data = header(1, 0) + tensor_info(b"blk.0.attn_q.weight", (32, 2), 8)
        data += bytes(-len(data) % 32) + bytes(68)
        message = self.assert_refused(data, "blk.0.attn_q.weight")
        self.assertIn("Q8_0", message)
        self.assertIn("F32 or F16", message)

    def test_bad_tensor_infos(self):
        ok = struct.pack("<f", 1.0) * 4
        cases = [
            (tensor_info(b"w", (4,), 0, offset=4), "not aligned"),
            (tensor_info(b"w", (4,), 0) + tensor_info(b"w", (4,), 0), "appears twice"),
            (tensor_info(b"w", (4,), 0, offset=32), "runs past"),
            (tensor_info(b"w", (0,), 0), "absurd dimension"),
            (tensor_info(b"w", (1, 1, 1, 1, 1), 0), "dimensions"),
        ]
        for info, needle in cases:
            with self.subTest(needle=needle):
                n = 2 if needle == "appears twice" else 1
                data = header(n, 0) + info
                self.assert_refused(data + bytes(-len(data) % 32) + ok, needle)

    def test_bad_metadata(self):
        def kv(key, t, payload):
            return gguf_string(key) + struct.pack("<I", t) + payload
        cases = [
            (kv(b"k", 13, b"\0" * 8), "unknown value type 13"),
            (kv(b"k", gguf.GGUF_ARRAY, struct.pack("<IQ", 99, 0)), "element type 99"),
            (kv(b"k", gguf.GGUF_ARRAY, struct.pack("<IQ", gguf.GGUF_STRING, 2**40)), "larger than"),
            (kv(b"k", gguf.GGUF_STRING, gguf_string(b"\xff")), "UTF-8"),
            (kv(b"k", gguf.GGUF_BOOL, b"\x02"), "bool"),
            (kv(b"general.alignment", gguf.GGUF_UINT32, struct.pack("<I", 3)), "alignment"),
            (kv(b"k", gguf.GGUF_UINT8, b"\0") * 2, "appears twice"),
        ]
        for payload, needle in cases:
            with self.subTest(needle=needle):
                n = 2 if needle == "appears twice" else 1
                self.assert_refused(header(0, n) + payload + bytes(16), needle)
        self.assert_refused(header(2**40, 0), "tensor count")
        self.assert_refused(header(0, 2**40), "metadata count")


# ---- tokenizer ----------------------------------------------------------------


def spm_vectors():
    """(text, ids) pairs from llama.cpp's test-tokenizer-0 files: the inputs
    are separated by "\\n__ggml_vocab_test__\\n", the outputs are one line of
    ids each (without BOS)."""
    inp = Path(str(SPM_VOCAB) + ".inp").read_bytes().decode("utf-8")
    texts = inp.split("\n__ggml_vocab_test__\n")
    if texts[-1] == "":  # the file ends with a separator
        texts.pop()
    lines = Path(str(SPM_VOCAB) + ".out").read_text(encoding="utf-8").split("\n")
    if lines[-1] == "":
        lines.pop()
    assert len(texts) == len(lines), (len(texts), len(lines))
    return [(t, [int(x) for x in line.split()]) for t, line in zip(texts, lines)]


def c_ids(path, texts):
    """The ids of each of texts by the C runtime's tokenizer, through the
    public `litevk tokenize --jsonl` (tokenizer.LiteVKTokenizer), after BOS
    for the even-numbered ones, for exact comparisons."""
    require(LITEVK)
    c = LiteVKTokenizer(read_gguf(path), str(LITEVK))
    with_bos, without = c.encode_many(texts, True), c.encode_many(texts, False)
    return [with_bos[i] if i % 2 == 0 else without[i] for i in range(len(texts))]


def random_texts(alphabet, count, seed):
    rng = random.Random(seed)
    common = " abcdefghijklmnopqrstuvwxyzTLO.,!'\n"
    return ["".join(rng.choice(alphabet) if rng.random() < 0.3 else rng.choice(common)
                    for _ in range(rng.randint(0, 40))) for _ in range(count)]


class SpmVocabulary(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tok = Tokenizer.from_gguf(read_gguf(SPM_VOCAB))
        cls.vectors = spm_vectors()

    def test_vectors(self):
        self.assertGreater(len(self.vectors), 40)
        for text, ids in self.vectors:
            with self.subTest(text=text):
                self.assertEqual(self.tok.encode(text, False), ids)

    def test_decode_round_trip(self):
        # add_space_prefix put one space in front of non-empty text.
        for text, ids in self.vectors:
            with self.subTest(text=text):
                self.assertEqual(self.tok.decode(ids), " " + text if text else "")

    def test_specials_and_pieces(self):
        t = self.tok
        self.assertEqual((t.n_vocab, t.bos_id, t.eos_id), (32000, 1, 2))
        self.assertEqual(t.encode("Hello world", True), [1, 15043, 3186])
        self.assertEqual(t.encode("", True), [1])
        self.assertEqual(t.encode("", False), [])
        self.assertEqual(t.encode("\0", False), [29871, 3])  # '▁', <0x00>
        self.assertEqual(t.decode([1, 15043, 13, 3, 2]), " Hello\n\0")
        with self.assertRaisesRegex(ValueError, "32000"):
            t.decode([32000])
        with self.assertRaisesRegex(ValueError, "Unicode"):
            t.encode("a\ud800", False)

    def test_same_ids_as_c(self):
        # no NUL: the C API takes C strings
        alphabet = sorted(set("".join(t for t, _ in self.vectors)) - {"\0"}) + ["🍓", "\U0010ffff"]
        texts = random_texts(alphabet, 1000, seed=1)
        for i, (text, ids) in enumerate(zip(texts, c_ids(SPM_VOCAB, texts))):
            with self.subTest(text=text):
                self.assertEqual(self.tok.encode(text, i % 2 == 0), ids)


class StoriesVocabulary(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tok = Tokenizer.from_gguf(read_gguf(STORIES))

    def test_basics(self):
        t = self.tok
        self.assertEqual((t.n_vocab, t.bos_id, t.eos_id), (512, 1, 2))
        for text in STORY_SENTENCES:
            with self.subTest(text=text):
                ids = t.encode(text, True)
                self.assertEqual(ids[0], 1)
                self.assertEqual(t.decode(ids), " " + text)

    def test_byte_fallback(self):
        # The 512-token vocabulary has no 🍓: its four UTF-8 bytes become
        # byte tokens, <0xF0> being token 3 + 0xF0.
        ids = self.tok.encode("🍓", False)
        self.assertEqual(ids[-4:], [3 + b for b in "🍓".encode("utf-8")])
        self.assertEqual(self.tok.decode(ids), " 🍓")

    def test_same_ids_as_c(self):
        texts = STORY_SENTENCES + random_texts("éñ🍓▁\t\"?-", 1000, seed=2)
        for i, (text, ids) in enumerate(zip(texts, c_ids(STORIES, texts))):
            with self.subTest(text=text):
                self.assertEqual(self.tok.encode(text, i % 2 == 0), ids)

    def test_prompt_counts_match_litevk_run(self):
        require(LITEVK)
        for text in STORY_SENTENCES[:4]:
            with self.subTest(text=text):
                lines = litevk_run(STORIES, text, "-n", "1", "--json").splitlines()
                summary = json.loads(lines[-1])
                self.assertEqual(summary["n_prompt"], len(self.tok.encode(text, True)))


class TinyVocabulary(TempDirTest):
    """Hand-made vocabularies, as in tests/test_tokenizer.c: "ab" and "ba"
    score the same, so "aba" shows the leftmost pair wins; "x" has neither a
    token nor a byte token."""

    TOKENS = ["<unk>", "<s>", "</s>", "<0x0A>", "▁", "a", "b", "ab", "ba", "▁a"]
    SCORES = [0, 0, 0, 0, -1, -1, -1, -2, -2, -3]
    TYPES = [2, 3, 3, 6, 1, 1, 1, 1, 1, 1]

    def load(self, model="llama", n_scores=None, add_space_prefix=True, extra=()):
        meta = [
            ("tokenizer.ggml.model", gguf.GGUF_STRING, model),
            ("tokenizer.ggml.tokens", gguf.GGUF_ARRAY, (gguf.GGUF_STRING, self.TOKENS)),
            ("tokenizer.ggml.scores", gguf.GGUF_ARRAY,
             (gguf.GGUF_FLOAT32, self.SCORES[:n_scores])),
            ("tokenizer.ggml.token_type", gguf.GGUF_ARRAY, (gguf.GGUF_INT32, self.TYPES)),
            ("tokenizer.ggml.add_space_prefix", gguf.GGUF_BOOL, add_space_prefix),
            *extra,
        ]
        path = self.tmp / "tiny.gguf"
        write_gguf(path, meta, [])
        return Tokenizer.from_gguf(read_gguf(path))

    def test_merges(self):
        t = self.load(add_space_prefix=False)
        self.assertEqual(t.encode("aba", False), [7, 5])  # ab|a, not a|ba
        self.assertEqual(t.encode("x\n", False), [0, 3])  # no token for 'x': <unk>
        self.assertEqual(t.encode(" a", False), [9])
        self.assertEqual(self.load().encode("a", False), [9])

    def test_refused(self):
        cases = [
            (dict(n_scores=-1), "scores"),
            (dict(model="gpt2"), "gpt2"),
            (dict(extra=[("tokenizer.ggml.eos_token_id", gguf.GGUF_UINT32, 10)]), "eos_token_id"),
        ]
        for kwargs, needle in cases:
            with self.subTest(needle=needle):
                with self.assertRaisesRegex(ValueError, needle):
                    self.load(**kwargs)


if __name__ == "__main__":
    unittest.main()
