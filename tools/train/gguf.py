"""A small, strict GGUF reader (v2 and v3) and writer (v3) for the trainer.

The layout follows ggml's docs/gguf.md and LiteVK's own runtime/formats/gguf.c and
runtime/formats/gguf_write.c: a header, metadata key/value pairs, tensor infos, then
the tensor data at the file's alignment (general.alignment, default 32), each
tensor at an offset that is a multiple of it. Everything is little-endian.

The trainer only works with F32 and F16 weights, so the reader refuses
any other tensor type instead of returning bytes it cannot use. Every count,
length and offset is checked against the file size, so a damaged file gives
a ValueError that says what is wrong, never a numpy or struct error.
"""

import math
import struct

import numpy as np

# Metadata value types (gguf.md's gguf_metadata_value_type).
GGUF_UINT8 = 0
GGUF_INT8 = 1
GGUF_UINT16 = 2
GGUF_INT16 = 3
GGUF_UINT32 = 4
GGUF_INT32 = 5
GGUF_FLOAT32 = 6
GGUF_BOOL = 7
GGUF_STRING = 8
GGUF_ARRAY = 9
GGUF_UINT64 = 10
GGUF_INT64 = 11
GGUF_FLOAT64 = 12

# ggml tensor types: the two the trainer handles, and the names of the others
# so that an error can say what a file holds.
GGML_F32 = 0
GGML_F16 = 1
GGML_TYPE_NAMES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0",
    9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K",
    15: "Q8_K", 30: "BF16",
}

GGUF_MAGIC = b"GGUF"
GGUF_DEFAULT_ALIGNMENT = 32
GGUF_MAX_DIMS = 4
# ggml's GGML_MAX_NAME is 64 bytes including the terminating NUL.
GGUF_MAX_NAME = 63
# The C reader's limits, so that nothing absurd is allocated and whatever the
# writer produces can be read back by LiteVK.
MAX_ARRAY_DEPTH = 4
MAX_DIM = 1 << 40

# struct format of each scalar type. Bools are read as a byte and checked,
# since '?' would accept any non-zero byte.
_SCALAR_FORMATS = {
    GGUF_UINT8: "B", GGUF_INT8: "b", GGUF_UINT16: "H", GGUF_INT16: "h",
    GGUF_UINT32: "I", GGUF_INT32: "i", GGUF_FLOAT32: "f", GGUF_BOOL: "B",
    GGUF_UINT64: "Q", GGUF_INT64: "q", GGUF_FLOAT64: "d",
}
_VALUE_TYPE_NAMES = {
    GGUF_UINT8: "uint8", GGUF_INT8: "int8", GGUF_UINT16: "uint16", GGUF_INT16: "int16",
    GGUF_UINT32: "uint32", GGUF_INT32: "int32", GGUF_FLOAT32: "float32", GGUF_BOOL: "bool",
    GGUF_STRING: "string", GGUF_ARRAY: "array", GGUF_UINT64: "uint64", GGUF_INT64: "int64",
    GGUF_FLOAT64: "float64",
}
_TENSOR_DTYPES = {GGML_F32: np.dtype("<f4"), GGML_F16: np.dtype("<f2")}


def ggml_type_name(t):
    return GGML_TYPE_NAMES.get(t, "type %d" % t)


def _align_up(x, a):
    return (x + a - 1) // a * a


class GGUF:
    """A parsed GGUF file.

    meta:      key -> (value type, value); an array is (GGUF_ARRAY, (element
               type, list)), an array of arrays holds such pairs in its list.
    tensors:   name -> (ggml type, ne, array); ne is innermost first, as in the
               file, and the array is float32 shaped reversed(ne), so a
               matrix W[rows][cols] stored with ne = (cols, rows) has shape
               (rows, cols).
    alignment: of the data section and of every tensor's offset in it.
    version:   2 or 3.
    Both dicts keep the file's order.
    """

    def __init__(self, meta, tensors, alignment, version):
        self.meta = meta
        self.tensors = tensors
        self.alignment = alignment
        self.version = version


# ---- reading ---------------------------------------------------------------


class _Cursor:
    """Bounds-checked reads from the file image; `what` names the field being
    read, for error messages."""

    def __init__(self, data):
        self.data = data
        self.pos = 0
        self.what = "header"

    def need(self, n):
        if n > len(self.data) - self.pos:
            raise ValueError(
                "file is truncated: %s needs %d bytes at offset %d, file has %d"
                % (self.what, n, self.pos, len(self.data)))

    def unpack(self, fmt):
        size = struct.calcsize(fmt)
        self.need(size)
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def u32(self):
        return self.unpack("<I")[0]

    def u64(self):
        return self.unpack("<Q")[0]

    def string(self):
        n = self.u64()
        if n > len(self.data) - self.pos:
            raise ValueError("%s: string length %d at offset %d runs past the end of the file"
                             % (self.what, n, self.pos - 8))
        raw = bytes(self.data[self.pos:self.pos + n])
        try:
            s = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError("%s: string at offset %d is not valid UTF-8 (%s)"
                             % (self.what, self.pos, e.reason)) from None
        self.pos += n
        return s

    def scalars(self, t, count):
        values = self.unpack("<%d%s" % (count, _SCALAR_FORMATS[t]))
        if t == GGUF_BOOL:
            if any(v > 1 for v in values):
                raise ValueError("%s: a bool is neither 0 nor 1" % self.what)
            return [bool(v) for v in values]
        return list(values)

    def value(self, t, depth=0):
        if t in _SCALAR_FORMATS:
            return self.scalars(t, 1)[0]
        if t == GGUF_STRING:
            return self.string()
        if t != GGUF_ARRAY:
            raise ValueError("%s: unknown value type %d" % (self.what, t))
        if depth >= MAX_ARRAY_DEPTH:
            raise ValueError("%s: arrays nested deeper than %d" % (self.what, MAX_ARRAY_DEPTH))
        elem_type = self.u32()
        count = self.u64()
        if elem_type not in _VALUE_TYPE_NAMES:
            raise ValueError("%s: unknown array element type %d" % (self.what, elem_type))
        if elem_type in _SCALAR_FORMATS:
            size = struct.calcsize(_SCALAR_FORMATS[elem_type])
            if count > (len(self.data) - self.pos) // size:
                raise ValueError("%s: array of %d %s values runs past the end of the file"
                                 % (self.what, count, _VALUE_TYPE_NAMES[elem_type]))
            return (elem_type, self.scalars(elem_type, count))
        # Strings and arrays take at least 8 bytes each: bound the count before
        # looping over it.
        if count > (len(self.data) - self.pos) // 8:
            raise ValueError("%s: array count %d is larger than the file allows"
                             % (self.what, count))
        return (elem_type, [self.value(elem_type, depth + 1) for _ in range(count)])


def _read_tensor_info(c, index):
    c.what = "tensor %d name" % index
    name = c.string()
    c.what = "tensor '%s'" % name
    n_dims = c.u32()
    if not 1 <= n_dims <= GGUF_MAX_DIMS:
        raise ValueError("tensor '%s' has %d dimensions (1..%d allowed)"
                         % (name, n_dims, GGUF_MAX_DIMS))
    ne = tuple(c.unpack("<%dQ" % n_dims))
    for d in ne:
        if d == 0 or d > MAX_DIM:
            raise ValueError("tensor '%s' has an absurd dimension %d" % (name, d))
    ggml_type = c.u32()
    offset = c.u64()
    return name, ne, ggml_type, offset


def parse_gguf(data, source="GGUF image"):
    """Parses a GGUF file held in memory (bytes or similar); `source` names it
    in error messages."""
    try:
        return _parse(memoryview(data))
    except ValueError as e:
        raise ValueError("%s: %s" % (source, e)) from None


def _parse_header(data):
    """Everything before the tensor data: (version, meta, alignment, tensor
    infos, data offset)."""
    c = _Cursor(data)
    c.need(4)
    if bytes(data[:4]) != GGUF_MAGIC:
        raise ValueError("not a GGUF file (it starts with %r, expected b'GGUF')" % bytes(data[:4]))
    c.pos = 4
    version = c.u32()
    if version not in (2, 3):
        raise ValueError("GGUF version %d is not supported (2 and 3 are)" % version)
    n_tensors = c.u64()
    n_kv = c.u64()
    # A tensor info takes at least 8+4+8+4+8 bytes, a key/value pair 8+4+1.
    if n_tensors > (len(data) - c.pos) // 32:
        raise ValueError("tensor count %d is larger than the file allows" % n_tensors)
    if n_kv > (len(data) - c.pos) // 13:
        raise ValueError("metadata count %d is larger than the file allows" % n_kv)

    meta = {}
    for i in range(n_kv):
        c.what = "metadata key %d" % i
        key = c.string()
        if key in meta:
            raise ValueError("metadata key '%s' appears twice" % key)
        c.what = "metadata '%s'" % key
        t = c.u32()
        meta[key] = (t, c.value(t))

    alignment = GGUF_DEFAULT_ALIGNMENT
    if "general.alignment" in meta:
        t, a = meta["general.alignment"]
        if t != GGUF_UINT32 or a == 0 or a & (a - 1):
            raise ValueError("general.alignment must be a power-of-two uint32")
        alignment = a

    infos = [_read_tensor_info(c, i) for i in range(n_tensors)]
    return version, meta, alignment, infos, _align_up(c.pos, alignment)


def tensor_types(data, source="GGUF image"):
    """name -> ggml type of every tensor of a GGUF image, whatever the types
    (read_gguf refuses all but F32 and F16)."""
    try:
        return {name: ggml_type for name, _, ggml_type, _ in _parse_header(memoryview(data))[3]}
    except ValueError as e:
        raise ValueError("%s: %s" % (source, e)) from None


def _parse(data):
    version, meta, alignment, infos, data_offset = _parse_header(data)
    if infos and data_offset > len(data):
        raise ValueError("file is truncated: tensor data would start at %d, file has %d bytes"
                         % (data_offset, len(data)))
    available = len(data) - data_offset

    tensors = {}
    for name, ne, ggml_type, offset in infos:
        if name in tensors:
            raise ValueError("tensor name '%s' appears twice" % name)
        dtype = _TENSOR_DTYPES.get(ggml_type)
        if dtype is None:
            raise ValueError(
                "tensor '%s' is %s; the trainer needs F32 or F16 tensors (convert the "
                "checkpoint with `litevk convert ... --type f32`)" % (name, ggml_type_name(ggml_type)))
        if offset % alignment:
            raise ValueError("tensor '%s' offset %d is not aligned to %d" % (name, offset, alignment))
        count = math.prod(ne)
        n_bytes = count * dtype.itemsize
        if offset > available or n_bytes > available - offset:
            raise ValueError(
                "file is truncated: tensor '%s' (%d bytes at data offset %d) runs past the "
                "end of the file (%d bytes of data)" % (name, n_bytes, offset, available))
        raw = np.frombuffer(data, dtype, count, data_offset + offset)
        # astype copies, so the arrays neither alias the file image nor keep it alive.
        tensors[name] = (ggml_type, ne, raw.astype(np.float32).reshape(ne[::-1]))
    return GGUF(meta, tensors, alignment, version)


def read_gguf(path):
    """Reads a GGUF v2/v3 file whose tensors are all F32 or F16; ValueError,
    prefixed with the path, for anything malformed or unsupported."""
    with open(path, "rb") as f:
        data = f.read()
    return parse_gguf(data, str(path))


# ---- writing ---------------------------------------------------------------


def _pack_string(s, what):
    if not isinstance(s, str):
        raise ValueError("%s: expected a str, got %s" % (what, type(s).__name__))
    raw = s.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw


def _pack_scalars(t, values, what):
    if t == GGUF_BOOL and not all(isinstance(v, (bool, np.bool_)) for v in values):
        raise ValueError("%s: bool values must be True or False" % what)
    try:
        return struct.pack("<%d%s" % (len(values), _SCALAR_FORMATS[t]), *values)
    except (struct.error, OverflowError, TypeError) as e:
        raise ValueError("%s: a value cannot be stored as %s (%s)"
                         % (what, _VALUE_TYPE_NAMES[t], e)) from None


def _pack_value(t, v, what, depth=0):
    if t in _SCALAR_FORMATS:
        return _pack_scalars(t, [v], what)
    if t == GGUF_STRING:
        return _pack_string(v, what)
    if t != GGUF_ARRAY:
        raise ValueError("%s: unknown value type %r" % (what, t))
    if depth >= MAX_ARRAY_DEPTH:
        raise ValueError("%s: arrays nested deeper than %d" % (what, MAX_ARRAY_DEPTH))
    try:
        elem_type, items = v
        items = list(items)
    except (TypeError, ValueError):
        raise ValueError("%s: an array value must be (element type, list)" % what) from None
    if elem_type not in _VALUE_TYPE_NAMES:
        raise ValueError("%s: unknown array element type %r" % (what, elem_type))
    head = struct.pack("<IQ", elem_type, len(items))
    if elem_type in _SCALAR_FORMATS:
        return head + _pack_scalars(elem_type, items, what)
    return head + b"".join(_pack_value(elem_type, x, what, depth + 1) for x in items)


def _tensor_bytes(name, ggml_type, array):
    """The tensor's data in the file's type, and its ne (innermost first)."""
    if not isinstance(name, str) or not 1 <= len(name.encode("utf-8")) <= GGUF_MAX_NAME:
        raise ValueError("tensor name %r must have 1..%d bytes" % (name, GGUF_MAX_NAME))
    dtype = _TENSOR_DTYPES.get(ggml_type)
    if dtype is None:
        raise ValueError("tensor '%s': type %s cannot be written (only F32 and F16)"
                         % (name, ggml_type_name(ggml_type) if isinstance(ggml_type, int) else ggml_type))
    a = np.asarray(array)
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError("tensor '%s' holds %s, not floating-point numbers" % (name, a.dtype))
    if not 1 <= a.ndim <= GGUF_MAX_DIMS:
        raise ValueError("tensor '%s' has %d dimensions (1..%d allowed)"
                         % (name, a.ndim, GGUF_MAX_DIMS))
    ne = a.shape[::-1]
    if any(d == 0 or d > MAX_DIM for d in ne):
        raise ValueError("tensor '%s' has an unusable shape %s" % (name, a.shape))
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(a, dtype=dtype)
    # F16 tops out at 65504: a weight beyond it would silently become inf.
    if np.isinf(out).any() and not np.isinf(a).any():
        raise ValueError("tensor '%s' has values too large for %s" % (name, ggml_type_name(ggml_type)))
    return ne, out.tobytes()


def write_gguf(path, meta, tensors):
    """Writes a GGUF v3 file.

    meta:    [(key, value type, value)], written in this order; values as the
             reader returns them (arrays as (element type, list)). A
             general.alignment given as uint32 sets the data alignment.
    tensors: [(name, GGML_F32 or GGML_F16, array)], the array shaped as the
             reader gives it (ne is its shape reversed); it is converted to
             the tensor's type.
    The byte layout depends only on the arguments: tensors follow one another
    in the given order, each padded to the alignment (the last one too, as
    ggml does), padding bytes are zero.
    """
    alignment = GGUF_DEFAULT_ALIGNMENT
    keys = set()
    kv = bytearray()
    for key, t, value in meta:
        if not isinstance(key, str) or not key:
            raise ValueError("metadata key %r must be a non-empty str" % (key,))
        if key in keys:
            raise ValueError("metadata key '%s' given twice" % key)
        keys.add(key)
        what = "metadata '%s'" % key
        if key == "general.alignment":
            # It moves the tensor data, and readers insist on this type.
            if t != GGUF_UINT32 or not isinstance(value, int) or value <= 0 or value & (value - 1):
                raise ValueError("general.alignment must be a power-of-two uint32")
            alignment = value
        packed = _pack_value(t, value, what)  # checks t before it is packed
        kv += _pack_string(key, what) + struct.pack("<I", t) + packed

    names = set()
    infos = bytearray()
    blobs = []
    offset = 0
    for name, ggml_type, array in tensors:
        if name in names:
            raise ValueError("tensor '%s' given twice" % name)
        names.add(name)
        ne, blob = _tensor_bytes(name, ggml_type, array)
        infos += _pack_string(name, "tensor name")
        infos += struct.pack("<I%dQ" % len(ne), len(ne), *ne)
        infos += struct.pack("<IQ", ggml_type, offset)
        blobs.append(blob)
        offset = _align_up(offset + len(blob), alignment)

    header = bytearray(GGUF_MAGIC + struct.pack("<IQQ", 3, len(blobs), len(keys)))
    header += kv + infos
    header += bytes(_align_up(len(header), alignment) - len(header))
    with open(path, "wb") as f:
        f.write(header)
        for blob in blobs:
            f.write(blob)
            f.write(bytes(_align_up(len(blob), alignment) - len(blob)))
