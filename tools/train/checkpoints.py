"""Start points and exports through LiteVK's own converter, the `litevk` binary.

The trainer reads GGUF files with F32 and F16 tensors itself (gguf.py). Any
other start point is converted by `litevk convert` into a temporary directory
first, so that there is one converter, LiteVK's, and the trainer starts from
exactly the weights LiteVK would run:

  a Hugging Face checkpoint directory   litevk convert DIR -o tmp.gguf --type f32
  a GGUF with other tensor types        litevk convert IN.gguf -o tmp.gguf --type f32

An export in a type (--type) is the F32 GGUF, then
litevk convert tmp.gguf -o OUT.gguf --type T, which keeps every metadata key
(litevk.exit_layers and litevk.exit_thresholds among them).
"""

import os
import shutil
import subprocess
import tempfile

import gguf
import model as llama

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REPO_LITEVK = os.path.join(ROOT, "build", "bin", "litevk")
# --type: the types LiteVK's quantiser writes that suit a tuned model
EXPORT_TYPES = ("f32", "f16", "q8_0", "q4_0", "q4_k", "q6_k")


def find_litevk(given=None):
    """The `litevk` binary: `given` (--litevk), else $LITEVK_BIN, else
    build/bin/litevk in this repository, else litevk on PATH; None when there
    is none. A path the user named must be an executable."""
    for path, origin in ((given, "--litevk"), (os.environ.get("LITEVK_BIN"), "LITEVK_BIN")):
        if path:
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                raise ValueError("%s %s is not an executable file" % (origin, path))
            return path
    if os.access(REPO_LITEVK, os.X_OK):
        return REPO_LITEVK
    return shutil.which("litevk")


def needs_litevk(litevk, why):
    """Raises, saying how to get one, when there is no litevk binary."""
    if litevk is None:
        raise ValueError("%s needs LiteVK's `litevk` binary, and none was found: build it "
                         "(cmake -S . -B build && cmake --build build, giving %s), or name one "
                         "with --litevk PATH or LITEVK_BIN, or put litevk on PATH" % (why, REPO_LITEVK))


def litevk_convert(litevk, source, out, ggml_type, why):
    needs_litevk(litevk, why)
    r = subprocess.run([litevk, "convert", source, "-o", out, "--type", ggml_type],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode:
        raise ValueError("%s: `litevk convert` failed: %s" % (why, r.stderr.strip()))


def _converted(litevk, source, why):
    """The GGUF `litevk convert SOURCE --type f32` writes, parsed (its arrays
    are copies, so the temporary file can go)."""
    with tempfile.TemporaryDirectory(prefix="litevk-train-") as tmp:
        out = os.path.join(tmp, "start.gguf")
        litevk_convert(litevk, source, out, "f32", why)
        return gguf.read_gguf(out)


def load(path, litevk):
    """The model at a start point — a Hugging Face checkpoint directory, or a
    GGUF LiteVK loads — and the parsed GGUF that export copies metadata and
    tensor types from (the converted F32 file where one was converted)."""
    if os.path.isdir(path):
        g = _converted(litevk, path, "reading the Hugging Face checkpoint %s" % path)
        return llama.from_gguf(g, path)
    with open(path, "rb") as f:
        data = f.read()
    types = gguf.tensor_types(data, path)
    if all(t in (gguf.GGML_F32, gguf.GGML_F16) for t in types.values()):
        return llama.from_gguf(gguf.parse_gguf(data, path), path)
    others = sorted({gguf.ggml_type_name(t) for t in types.values()} - {"F32", "F16"})
    g = _converted(litevk, path, "reading %s (%s tensors)" % (path, ", ".join(others)))
    return llama.from_gguf(g, path)


def export(net, source, path, exit_layers, ggml_type, litevk):
    """Writes the model with its exits: in the source's tensor types (ggml_type
    None), or with its matrices in ggml_type (one of EXPORT_TYPES; vectors stay
    F32) through `litevk convert`."""
    if ggml_type is None:
        return llama.save_gguf(net, source, path, exit_layers)
    if ggml_type == "f32":
        return llama.save_gguf(net, source, path, exit_layers, all_f32=True)
    needs_litevk(litevk, "--type %s" % ggml_type)
    with tempfile.TemporaryDirectory(prefix="litevk-train-") as tmp:
        f32 = os.path.join(tmp, "tuned-f32.gguf")
        llama.save_gguf(net, source, f32, exit_layers, all_f32=True)
        litevk_convert(litevk, f32, path, ggml_type, "writing %s as %s" % (path, ggml_type))
