"""A small writer of the safetensors format (huggingface/safetensors), enough
for the tests to write tiny Hugging Face checkpoints.

The file is an 8-byte little-endian header length N, N bytes of JSON
{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}
(padded with spaces so that the data starts 8-byte aligned, as the format
recommends), then the tensors' little-endian bytes, packed in the header's
order; data_offsets count from the start of the data.
"""

import json
import struct

import numpy as np


def _bf16(a):
    """float32 -> bfloat16 bits, rounded to nearest even (as PyTorch rounds);
    the tests' weights are finite, so NaN needs no care."""
    bits = np.ascontiguousarray(a, np.float32).view(np.uint32).astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2")


_ENCODE = {
    "F32": lambda a: np.ascontiguousarray(a, "<f4"),
    "F16": lambda a: np.ascontiguousarray(a, "<f2"),
    "BF16": _bf16,
}


def write_safetensors(path, tensors, metadata=None):
    """tensors: [(name, dtype, array)], dtype "F32", "F16" or "BF16"; the
    array is rounded to it. metadata: {str: str}, or None."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, array in tensors:
        if dtype not in _ENCODE:
            raise ValueError("tensor '%s': dtype %s is not one of %s" % (name, dtype, ", ".join(_ENCODE)))
        if name in header:
            raise ValueError("tensor '%s' given twice" % name)
        blob = _ENCODE[dtype](array).tobytes()
        header[name] = {"dtype": dtype, "shape": list(np.shape(array)), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
