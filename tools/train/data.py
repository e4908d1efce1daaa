"""Training data: Alpaca instructions or plain text, as token sequences with a
loss mask, split into training and validation sets and cut to --seq-len.

Alpaca (.json array or .jsonl of {"instruction", "input", "output"}): the
prompt is LITE's Alpaca template; tokens = BOS + prompt + response + EOS, and
the loss falls on the response and EOS only. Prompt and response are tokenized
as one text, as Alpaca's training does (the response's first word gets no
space of its own); the response starts at the first token where that differs
from the tokens of the prompt alone. An example longer than seq_len + 1 tokens
is truncated.

Plain text (any other file): documents separated by "<|endoftext|>" when the
file has it, else by blank lines; tokens = BOS + document + EOS, the loss on
every token after BOS. The documents are packed end to end and cut into
windows of seq_len + 1 tokens that overlap by one, so every token is a target
once.

A sequence is a pair (tokens, mask): mask[i] = 1 when tokens[i] is a target,
predicted from tokens[:i].

The texts of a file are tokenized together (tok.encode_many), so that a
tokenizer that runs LiteVK (tokenizer.LiteVKTokenizer) starts one process per
file. A vocabulary without a BOS token (some byte-level ones) starts each
sequence with its text.
"""

import json

import numpy as np
import torch

PROMPT = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:\n"
)
PROMPT_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)

END_OF_TEXT = "<|endoftext|>"


def alpaca_prompt(record):
    if record.get("input", ""):
        return PROMPT_WITH_INPUT.format(instruction=record["instruction"], input=record["input"])
    return PROMPT.format(instruction=record["instruction"])


def alpaca_sequences(records, tok):
    """(tokens, mask) of each record; all texts are tokenized in one call."""
    prompts = [alpaca_prompt(r) for r in records]
    ids = tok.encode_many(prompts + [p + r["output"] for p, r in zip(prompts, records)], add_bos=True)
    sequences = []
    for prompt_ids, tokens in zip(ids[:len(records)], ids[len(records):]):
        tokens = tokens + [tok.eos_id]
        n_prompt = 0
        while n_prompt < len(prompt_ids) and tokens[n_prompt] == prompt_ids[n_prompt]:
            n_prompt += 1
        sequences.append((tokens, [0] * n_prompt + [1] * (len(tokens) - n_prompt)))
    return sequences


def document_sequences(texts, tok):
    """(tokens, mask) of each document; all are tokenized in one call."""
    return [(ids + [tok.eos_id], [0] + [1] * len(ids)) for ids in tok.encode_many(texts, add_bos=True)]


def read_records(path):
    """The records of an Alpaca JSON array or JSONL file, checked."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        if text.lstrip().startswith("["):
            records = json.loads(text)
            where = ["record %d" % (i + 1) for i in range(len(records))]
        else:
            lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
            records = [json.loads(line) for _, line in lines]
            where = ["line %d" % n for n, _ in lines]
    except json.JSONDecodeError as e:
        raise ValueError("%s: %s" % (path, e)) from None
    for r, w in zip(records, where):
        if not isinstance(r, dict) or not isinstance(r.get("instruction"), str) \
                or not isinstance(r.get("output"), str) or not isinstance(r.get("input", ""), str):
            raise ValueError("%s: %s is not an object with string 'instruction' and 'output' "
                             "(and optional 'input')" % (path, w))
    return records


def read_documents(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    parts = text.split(END_OF_TEXT) if END_OF_TEXT in text else text.split("\n\n")
    return [p.strip() for p in parts if p.strip()]


def is_alpaca(path):
    return str(path).endswith((".json", ".jsonl"))


def split(items, val_fraction, seed):
    """(train, validation): a seeded shuffle, then the first round(fraction * n)
    items (at least one when the fraction is above 0) are held out."""
    order = np.random.default_rng(seed).permutation(len(items))
    n_val = min(len(items), max(1, round(val_fraction * len(items)))) if val_fraction > 0 else 0
    return [items[i] for i in order[n_val:]], [items[i] for i in order[:n_val]]


def pack(sequences, seq_len):
    """Packs sequences end to end and cuts windows of seq_len + 1 tokens."""
    tokens = [t for s in sequences for t in s[0]]
    mask = [m for s in sequences for m in s[1]]
    return [(tokens[i:i + seq_len + 1], mask[i:i + seq_len + 1])
            for i in range(0, max(len(tokens) - 1, 1), seq_len)]


def load(paths, tok, seq_len, val_fraction, seed):
    """(train, validation) lists of (tokens, mask) of at most seq_len + 1 tokens,
    each with at least one target, from one file or several of the same kind
    (their records or documents in order, as if the files were one)."""
    paths = [paths] if isinstance(paths, str) else list(paths)
    kinds = {is_alpaca(p) for p in paths}
    if len(kinds) > 1:
        raise ValueError("%s: the data files must be all Alpaca (.json, .jsonl) or all plain text"
                         % ", ".join(paths))
    # Tokenized before the split, in one call; split() shuffles sequences as
    # it would the records or documents they come from.
    if kinds == {True}:
        records = [r for p in paths for r in read_records(p)]
        sets = split(alpaca_sequences(records, tok), val_fraction, seed)
        sets = [[(t[:seq_len + 1], m[:seq_len + 1]) for t, m in part] for part in sets]
    else:
        documents = [d for p in paths for d in read_documents(p)]
        sets = [pack(part, seq_len) for part in split(document_sequences(documents, tok), val_fraction, seed)]
    return tuple([(t, m) for t, m in part if any(m[1:])] for part in sets)


def batch_indices(n, batch_size, step, seed):
    """Indices of the step-th batch (0-based) of an endless run of epochs over n
    sequences, each epoch in its own seeded order. It depends on nothing but its
    arguments, so a resumed run draws the batches an uninterrupted one would."""
    indices = []
    while len(indices) < batch_size:
        epoch, offset = divmod(step * batch_size + len(indices), n)
        order = np.random.default_rng([seed, 1 + epoch]).permutation(n)
        indices.extend(order[offset:offset + batch_size - len(indices)].tolist())
    return indices


def collate(sequences, pad_id):
    """inputs, targets (batch, time) int64 and mask (batch, time) bool for a list
    of (tokens, mask): targets are the tokens shifted by one, the mask says which
    targets count; shorter sequences are padded at the end."""
    T = max(len(t) for t, _ in sequences) - 1
    inputs = torch.full((len(sequences), T), pad_id, dtype=torch.long)
    targets = torch.full((len(sequences), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), T), dtype=torch.bool)
    for b, (t, m) in enumerate(sequences):
        inputs[b, :len(t) - 1] = torch.tensor(t[:-1])
        targets[b, :len(t) - 1] = torch.tensor(t[1:])
        mask[b, :len(t) - 1] = torch.tensor(m[1:], dtype=torch.bool)
    return inputs, targets, mask
