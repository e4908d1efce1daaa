"""The trainer's tokenizers: text to the ids LiteVK's runtime gives.

load(g, litevk) picks one for a GGUF's vocabulary:

  SentencePiece BPE (tokenizer.ggml.model "llama": LLaMA 1/2, TinyStories):
    Tokenizer, in Python, exactly as LiteVK's runtime/model/tokenizer.c does it.
  any other vocabulary LiteVK knows (byte-level BPE, "gpt2": Llama 3, Qwen2,
    GPT-2): LiteVKTokenizer, which asks the C runtime itself through
    `litevk tokenize --jsonl`, so that there is one byte-level BPE, LiteVK's.

Both have n_vocab, bos_id, eos_id, encode(text, add_bos) and
encode_many(texts, add_bos) (the ids of many texts; LiteVKTokenizer runs
one process per call, so a data set is tokenized in one call).

SentencePiece encoding: the text (with a leading space when
add_space_prefix is set) has every ' ' replaced by U+2581 '▁' and is split
into characters. Then, repeatedly, the adjacent pair of symbols whose
concatenation is a vocabulary token with the highest score is merged (ties:
leftmost first). Each final symbol becomes its token or, when it is not in
the vocabulary, one <0xNN> byte token per UTF-8 byte.
"""

import heapq
import json
import os
import subprocess
import tempfile

import numpy as np

import gguf
from gguf import (GGUF_ARRAY, GGUF_BOOL, GGUF_FLOAT32, GGUF_FLOAT64, GGUF_INT8, GGUF_INT16,
                  GGUF_INT32, GGUF_INT64, GGUF_STRING, GGUF_UINT8, GGUF_UINT16, GGUF_UINT32,
                  GGUF_UINT64)

# tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
TOKEN_NORMAL = 1
TOKEN_UNKNOWN = 2
TOKEN_CONTROL = 3
TOKEN_USER_DEFINED = 4
TOKEN_UNUSED = 5
TOKEN_BYTE = 6

SPACE = "\u2581"  # '▁', SentencePiece's visible space

_INTEGER_TYPES = {GGUF_UINT8, GGUF_INT8, GGUF_UINT16, GGUF_INT16, GGUF_UINT32, GGUF_INT32,
                  GGUF_UINT64, GGUF_INT64}
_NUMBER_TYPES = _INTEGER_TYPES | {GGUF_FLOAT32, GGUF_FLOAT64}


def _array(meta, key, elem_types, what, count=None):
    """The list of an array-valued key, None when absent; ValueError unless
    its elements have one of elem_types and (if given) there are count."""
    if key not in meta:
        return None
    t, v = meta[key]
    if t != GGUF_ARRAY or v[0] not in elem_types:
        raise ValueError("metadata '%s' should be an array of %s" % (key, what))
    if count is not None and len(v[1]) != count:
        raise ValueError("metadata '%s' has %d entries but there are %d tokens"
                         % (key, len(v[1]), count))
    return v[1]


def _special_id(meta, key, default, n_vocab):
    """The id under key, else default (None: there is none); ValueError
    unless it is a token."""
    if key not in meta and default is None:
        return None
    t, v = meta.get(key, (GGUF_UINT32, default))
    if t not in _INTEGER_TYPES:
        raise ValueError("metadata '%s' should be an integer" % key)
    if not 0 <= v < n_vocab:
        raise ValueError("metadata '%s' is %d, but there are only %d tokens" % (key, v, n_vocab))
    return v


def _piece(text, token_type, index):
    """The bytes token number `index` stands for when decoding."""
    if token_type == TOKEN_NORMAL:
        return text.replace(SPACE, " ").encode("utf-8")
    if token_type == TOKEN_USER_DEFINED:  # llama.cpp emits these verbatim
        return text.encode("utf-8")
    if token_type == TOKEN_BYTE:
        hex_digits = text[3:5]
        if (len(text) != 6 or not text.startswith("<0x") or text[5] != ">"
                or not all(c in "0123456789abcdefABCDEF" for c in hex_digits)):
            raise ValueError("byte token %d is '%s', not of the form <0xNN>" % (index, text))
        return bytes([int(hex_digits, 16)])
    return b""  # control, unknown and unused tokens decode to nothing


def load(g, litevk):
    """The tokenizer of a parsed GGUF's vocabulary; litevk is the `litevk`
    binary (checkpoints.find_litevk), needed for any vocabulary but
    SentencePiece's."""
    model = g.meta.get("tokenizer.ggml.model")
    if model is None:
        raise ValueError("metadata 'tokenizer.ggml.model' is missing")
    if model == (GGUF_STRING, "llama"):
        return Tokenizer.from_gguf(g)
    return LiteVKTokenizer(g, litevk)


class Tokenizer:
    """SentencePiece BPE. n_vocab, bos_id, eos_id, unk_id; encode(text,
    add_bos) -> ids; encode_many(texts, add_bos); decode(ids) -> text."""

    def __init__(self, tokens, scores, types, bos_id, eos_id, unk_id, add_space_prefix):
        """tokens: the vocabulary's texts; scores and types: one per token
        (types as tokenizer.ggml.token_type, 1..6)."""
        self.n_vocab = len(tokens)
        self.bos_id, self.eos_id, self.unk_id = bos_id, eos_id, unk_id
        self.add_space_prefix = add_space_prefix
        # The C side keeps scores as float32; rounding them the same way keeps
        # the merge order identical when a file stores float64.
        self.scores = np.asarray(scores, np.float32).tolist()
        self.pieces = [_piece(text, ty, i) for i, (text, ty) in enumerate(zip(tokens, types))]
        # When two tokens share a text the later id wins, as in llama.cpp (and
        # as assignment in id order gives).
        self.ids = {}
        for i, text in enumerate(tokens):
            self.ids[text] = i
        # Byte fallback as llama.cpp: "<0xNN>", else a token that is the byte
        # itself (only ASCII can be a one-byte token text), else <unk>.
        self.byte_ids = []
        for b in range(256):
            tok = self.ids.get("<0x%02X>" % b)
            if tok is None and b < 0x80:
                tok = self.ids.get(chr(b))
            self.byte_ids.append(unk_id if tok is None else tok)

    @classmethod
    def from_gguf(cls, g):
        """From a GGUF's tokenizer.ggml.* metadata (what tokenizer_load reads);
        ValueError for a vocabulary the C runtime would refuse."""
        meta = g.meta
        model = meta.get("tokenizer.ggml.model")
        if model is None:
            raise ValueError("metadata 'tokenizer.ggml.model' is missing")
        if model != (GGUF_STRING, "llama"):
            raise ValueError("tokenizer model %r is not SentencePiece's ('llama'): "
                             "tokenizer.load gives LiteVKTokenizer for it" % (model[1],))
        tokens = _array(meta, "tokenizer.ggml.tokens", {GGUF_STRING}, "strings")
        if not tokens:
            raise ValueError("metadata 'tokenizer.ggml.tokens' is missing or empty")
        n = len(tokens)
        scores = _array(meta, "tokenizer.ggml.scores", _NUMBER_TYPES, "numbers", n)
        types = _array(meta, "tokenizer.ggml.token_type", _INTEGER_TYPES, "integers", n)
        scores = scores if scores is not None else [0.0] * n
        types = types if types is not None else [TOKEN_NORMAL] * n
        if any(s != s for s in scores):
            raise ValueError("a token score is not a number")
        for i, ty in enumerate(types):
            if not TOKEN_NORMAL <= ty <= TOKEN_BYTE:
                raise ValueError("token %d has type %d (1..6 expected)" % (i, ty))
        sp_type, add_space_prefix = meta.get("tokenizer.ggml.add_space_prefix", (GGUF_BOOL, True))
        if sp_type != GGUF_BOOL:
            raise ValueError("metadata 'tokenizer.ggml.add_space_prefix' should be a bool")
        return cls(tokens, scores, types,
                   _special_id(meta, "tokenizer.ggml.bos_token_id", 1, n),
                   _special_id(meta, "tokenizer.ggml.eos_token_id", 2, n),
                   _special_id(meta, "tokenizer.ggml.unknown_token_id", 0, n),
                   add_space_prefix)

    def encode(self, text, add_bos):
        """The ids of `text` (a str), after BOS when add_bos."""
        try:
            text.encode("utf-8")  # a lone surrogate has no UTF-8 form
        except UnicodeEncodeError as e:
            raise ValueError("text is not valid Unicode (%s at offset %d)" % (e.reason, e.start)) from None
        ids = [self.bos_id] if add_bos else []
        # Like llama.cpp, empty text gets no space prefix and so no tokens.
        if not text:
            return ids

        escaped = (SPACE if self.add_space_prefix else "") + text.replace(" ", SPACE)
        # Symbols are runs of the escaped text, one character each to start
        # with, in a linked list; merging moves the right symbol's characters
        # into the left one and leaves it empty, so symbol i always starts at
        # character i and only its size changes.
        n = len(escaped)
        size = [1] * n
        prev_sym = list(range(-1, n - 1))
        next_sym = list(range(1, n + 1))
        next_sym[-1] = -1

        # Candidate merges, best first: higher score, then the leftmost pair.
        # The merged length lets a popped pair that an earlier merge changed
        # be recognised: a symbol only ever grows by absorbing its right
        # neighbour, so the pair is intact exactly when both symbols are
        # non-empty and their sizes still add up.
        heap = []

        def try_pair(left, right):
            if left < 0 or right < 0:
                return
            merged = size[left] + size[right]
            tok = self.ids.get(escaped[left:left + merged])
            if tok is not None:
                heapq.heappush(heap, (-self.scores[tok], left, right, merged))

        for i in range(1, n):
            try_pair(i - 1, i)
        while heap:
            _, left, right, merged = heapq.heappop(heap)
            if size[left] == 0 or size[right] == 0 or size[left] + size[right] != merged:
                continue
            size[left] = merged
            size[right] = 0
            next_sym[left] = next_sym[right]
            if next_sym[right] >= 0:
                prev_sym[next_sym[right]] = left
            try_pair(prev_sym[left], left)
            try_pair(left, next_sym[left])

        # A merged symbol is a token by construction, so only single
        # characters can be missing from the vocabulary: those become byte
        # tokens.
        i = 0
        while i >= 0:
            symbol = escaped[i:i + size[i]]
            tok = self.ids.get(symbol)
            if tok is not None:
                ids.append(tok)
            else:
                ids.extend(self.byte_ids[b] for b in symbol.encode("utf-8"))
            i = next_sym[i]
        return ids

    def encode_many(self, texts, add_bos):
        return [self.encode(text, add_bos) for text in texts]

    def decode(self, ids):
        """The text of `ids`: pieces joined, '▁' as ' ', byte tokens as their
        bytes, control tokens as nothing. The space that add_space_prefix put
        in front stays, as with the C runtime's pieces. Bytes that do not form
        valid UTF-8 become U+FFFD."""
        out = bytearray()
        for tok in ids:
            if not 0 <= tok < self.n_vocab:
                raise ValueError("token id %d is outside the vocabulary of %d" % (tok, self.n_vocab))
            out += self.pieces[tok]
        return out.decode("utf-8", errors="replace")


class LiteVKTokenizer:
    """A vocabulary tokenized by LiteVK's C runtime, through `litevk tokenize
    -m VOCAB --jsonl - --no-bos`: every text a JSON string on a line of its
    input, its ids a JSON array on a line of its output. VOCAB is a GGUF of
    the model's tokenizer.* metadata alone, which LiteVK loads without a
    device (vocab_only), written for each call: the start point may be a
    Hugging Face directory, converted to a GGUF that is gone by now.

    BOS goes first as in lvk_tokenize's add_bos: whatever the model's
    add_bos_token says, as the SentencePiece path does (for GPT-2 and Qwen2,
    whose BOS is <|endoftext|>, a document then starts as after another in
    their pretraining); a vocabulary without one gets none. There is no
    decode: the trainer never needs text back."""

    def __init__(self, g, litevk):
        meta = g.meta
        tokens = _array(meta, "tokenizer.ggml.tokens", {GGUF_STRING}, "strings")
        if not tokens:
            raise ValueError("metadata 'tokenizer.ggml.tokens' is missing or empty")
        self.n_vocab = len(tokens)
        self.bos_id = _special_id(meta, "tokenizer.ggml.bos_token_id", None, self.n_vocab)
        self.eos_id = _special_id(meta, "tokenizer.ggml.eos_token_id", None, self.n_vocab)
        if self.eos_id is None:
            raise ValueError("metadata 'tokenizer.ggml.eos_token_id' is missing: the trainer ends "
                             "every sequence with EOS")
        self.model = meta["tokenizer.ggml.model"][1]
        self.vocab_meta = [(k, t, v) for k, (t, v) in meta.items() if k.startswith("tokenizer.")]
        self.litevk = litevk
        import checkpoints  # here: it imports PyTorch, which SentencePiece tokenizing does without
        checkpoints.needs_litevk(litevk, "tokenizing with a '%s' vocabulary" % self.model)

    def encode(self, text, add_bos):
        return self.encode_many([text], add_bos)[0]

    def encode_many(self, texts, add_bos):
        """The ids of each of texts (str), after BOS when add_bos; one process."""
        # ensure_ascii: the input is ASCII whatever the locale; a lone
        # surrogate becomes an escape that LiteVK refuses, naming its line.
        lines = "".join(json.dumps(text) + "\n" for text in texts)
        with tempfile.TemporaryDirectory(prefix="litevk-train-") as tmp:
            vocab = os.path.join(tmp, "vocab.gguf")
            gguf.write_gguf(vocab, self.vocab_meta, [])
            r = subprocess.run([self.litevk, "tokenize", "-m", vocab, "--jsonl", "-", "--no-bos"],
                               input=lines, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode:
            raise ValueError("tokenizing %d texts with the model's '%s' vocabulary: `litevk tokenize` "
                             "failed (line N of its input is text N): %s"
                             % (len(texts), self.model, r.stderr.strip()))
        ids = [json.loads(line) for line in r.stdout.splitlines()]
        if len(ids) != len(texts):
            raise ValueError("`litevk tokenize` gave %d results for %d texts" % (len(ids), len(texts)))
        bos = [self.bos_id] if add_bos and self.bos_id is not None else []
        return [bos + t for t in ids]
