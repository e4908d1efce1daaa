"""Distillation: every head learns the frozen original model's next-token
distribution, not only the data's next token.

The teacher is the model as it was loaded (or another model with the same
vocabulary), frozen. For every target position it gives logits z; a head with
logits s is pulled towards it by

    KD = T^2 * KL(softmax(z / T) || softmax(s / T))

at temperature T (Hinton et al.: the T^2 keeps the gradient's scale as T
changes). Teacher logits come from a forward pass on the fly, or from a cache
file written once per training set: the k largest logits of every target
position (k = the vocabulary keeps the whole distribution; a smaller k keeps
the file small for large vocabularies, and the teacher's distribution is then
renormalised over its top k).
"""

import hashlib
import os

import torch
import torch.nn.functional as F

import data


class TeacherLogits:
    """Teacher logits at a batch's target positions: `values` (n, k) and
    `indices` (n, k) into the vocabulary, or indices None when values holds the
    whole vocabulary in order."""

    def __init__(self, values, indices=None):
        self.values, self.indices = values, indices
        self._distribution = None  # (temperature, log p, p): every head of a batch uses the same

    def distribution(self, temperature):
        """(log p, p) of softmax(values / T), computed once per batch and
        temperature rather than once per head."""
        if self._distribution is None or self._distribution[0] != temperature:
            log_p = F.log_softmax(self.values.float() / temperature, dim=-1)
            self._distribution = (temperature, log_p, log_p.exp())
        return self._distribution[1:]


def kd_loss(student_logits, teacher, temperature):
    """T^2 * KL(teacher || student) at temperature T, the mean over positions.
    student_logits is (n, vocab); teacher a TeacherLogits for the same n."""
    log_q = F.log_softmax(student_logits.float() / temperature, dim=-1)
    if teacher.indices is not None:
        log_q = log_q.gather(-1, teacher.indices)
    log_p, p = teacher.distribution(temperature)
    kl = (p * (log_p - log_q)).sum(-1)
    return temperature * temperature * kl.mean()


@torch.no_grad()
def teacher_logits(teacher, inputs, mask, top_k):
    """The teacher's final-head logits at the positions where mask is set."""
    logits = teacher(inputs, [], select=mask)[-1]
    if top_k >= logits.shape[-1]:
        return TeacherLogits(logits)
    top = logits.topk(top_k, dim=-1)
    return TeacherLogits(top.values, top.indices)


def model_digest(net):
    """A digest of a model's weights, whatever file they came from."""
    h = hashlib.sha256()
    for name, t in net.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class TeacherCache:
    """Teacher logits of every training sequence, computed once and kept in a
    file that later runs with the same teacher, sequences and k read back."""

    def __init__(self, per_sequence):
        self.per_sequence = per_sequence  # one (values, indices or None) per training sequence

    @classmethod
    def load_or_build(cls, path, teacher, sequences, top_k, batch_size, pad_id, device):
        key = {"teacher": model_digest(teacher), "top_k": top_k,
               "sequences": hashlib.sha256(repr(sequences).encode()).hexdigest()}
        if os.path.exists(path):
            state = torch.load(path)
            if state.get("key") == key:
                print("teacher logits read from %s" % path, flush=True)
                return cls(state["per_sequence"])
            print("%s was made for another teacher, data or --teacher-top-k: rebuilding it" % path,
                  flush=True)
        per_sequence = []
        for i in range(0, len(sequences), batch_size):
            inputs, _, mask = (t.to(device) for t in data.collate(sequences[i:i + batch_size], pad_id))
            t = teacher_logits(teacher, inputs, mask, top_k)
            counts = mask.sum(1).tolist()  # the rows of t are the masked positions, sequence by sequence
            # float16 halves the file; logits need no more precision than that
            for values, indices in zip(t.values.half().cpu().split(counts),
                                       [None] * len(counts) if t.indices is None
                                       else t.indices.int().cpu().split(counts)):
                per_sequence.append((values, indices))
        tmp = path + ".tmp"
        torch.save({"key": key, "per_sequence": per_sequence}, tmp)
        os.replace(tmp, path)
        print("teacher logits of %d sequences written to %s" % (len(sequences), path), flush=True)
        return cls(per_sequence)

    def batch(self, indices, device):
        """The cached logits of the training sequences `indices`, in the order
        collate() puts their target positions (sequence by sequence)."""
        parts = [self.per_sequence[i] for i in indices]
        values = torch.cat([v for v, _ in parts]).to(device)
        if parts[0][1] is None:
            return TeacherLogits(values)
        return TeacherLogits(values, torch.cat([ix for _, ix in parts]).long().to(device))
