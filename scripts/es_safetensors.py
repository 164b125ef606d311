"""A strict reader (and a small writer, for tests) of the safetensors format.

Format: an 8-byte little-endian header length N, N bytes of JSON mapping each tensor name to
{"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the byte after the header;
an optional "__metadata__" map of strings), then the raw little-endian, C-order tensor bytes.
Written here rather than imported: Debian 12 packages no safetensors library, and a strict
reader lets every truncated or inconsistent file fail with one line naming file and tensor.

A checkpoint is one `*.safetensors` file, several `*.safetensors` files, or the sharded form
with `model.safetensors.index.json` ({"weight_map": {tensor: file}}).
"""
import json
import mmap
import os
import warnings

import torch

# safetensors dtype codes -> (torch dtype, bytes per element)
DTYPES = {
    "F32": (torch.float32, 4),
    "F16": (torch.float16, 2),
    "BF16": (torch.bfloat16, 2),
    "F64": (torch.float64, 8),
    "I64": (torch.int64, 8),
    "I32": (torch.int32, 4),
    "I16": (torch.int16, 2),
    "I8": (torch.int8, 1),
    "U8": (torch.uint8, 1),
    "BOOL": (torch.bool, 1),
}
_CODES = {v[0]: k for k, v in DTYPES.items()}

# A header is JSON text; real ones are a few hundred KiB. The bound keeps a corrupt length
# field from making us read (or allocate) gigabytes.
MAX_HEADER_BYTES = 100 * 1024 * 1024
INDEX_FILE = "model.safetensors.index.json"


class FormatError(Exception):
    """A checkpoint file is malformed; the message names the file and the tensor or key."""


class SafetensorsFile:
    """One validated safetensors file, memory-mapped; tensors are read on demand."""

    def __init__(self, path):
        self.path = path
        name = os.path.basename(path)
        try:
            self._f = open(path, "rb")
        except OSError as e:
            raise FormatError("%s: cannot open: %s" % (path, e.strerror))
        size = os.fstat(self._f.fileno()).st_size
        if size < 8:
            raise FormatError("%s: truncated: %d bytes, shorter than the 8-byte header length" % (path, size))
        n = int.from_bytes(self._f.read(8), "little")
        if n > MAX_HEADER_BYTES or n > size - 8:
            raise FormatError("%s: header length %d exceeds the file (%d bytes) or the %d-byte limit: truncated or not "
                              "a safetensors file" % (path, n, size, MAX_HEADER_BYTES))
        raw = self._f.read(n)
        try:
            header = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise FormatError("%s: header is not valid JSON: %s" % (path, e))
        if not isinstance(header, dict):
            raise FormatError("%s: header is not a JSON object" % path)
        self.metadata = header.pop("__metadata__", None) or {}
        if not isinstance(self.metadata, dict):
            raise FormatError("%s: __metadata__ is not an object" % path)
        self._base = 8 + n
        data_len = size - self._base
        self.entries = {}
        spans = []
        for tname, e in header.items():
            where = "%s: tensor %s" % (path, tname)
            if not isinstance(e, dict) or set(e) != {"dtype", "shape", "data_offsets"}:
                raise FormatError("%s: entry must have exactly dtype, shape, data_offsets" % where)
            if e["dtype"] not in DTYPES:
                raise FormatError("%s: unsupported dtype %r" % (where, e["dtype"]))
            shape = e["shape"]
            if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                      for d in shape):
                raise FormatError("%s: shape must be a list of non-negative integers" % where)
            offs = e["data_offsets"]
            if (not isinstance(offs, list) or len(offs) != 2
                    or not all(isinstance(o, int) and not isinstance(o, bool) for o in offs)):
                raise FormatError("%s: data_offsets must be [begin, end]" % where)
            begin, end = offs
            numel = 1
            for d in shape:
                numel *= d
            want = numel * DTYPES[e["dtype"]][1]
            if begin < 0 or end < begin or end - begin != want:
                raise FormatError("%s: data_offsets [%d, %d] hold %d bytes, shape %s of %s needs %d"
                                  % (where, begin, end, end - begin, shape, e["dtype"], want))
            if end > data_len:
                raise FormatError("%s: truncated: data ends at byte %d of the data section, which has %d"
                                  % (where, end, data_len))
            self.entries[tname] = (e["dtype"], tuple(shape), begin, end)
            spans.append((begin, end, tname))
        spans.sort()
        for (b0, e0, n0), (b1, e1, n1) in zip(spans, spans[1:]):
            if b1 < e0:
                raise FormatError("%s: tensor %s overlaps tensor %s" % (path, n1, n0))
        self._map = mmap.mmap(self._f.fileno(), 0, access=mmap.ACCESS_READ) if size > 0 else None
        self.name = name

    def get(self, tname):
        """The tensor `tname` as a torch tensor (a copy, so the file may be closed afterwards)."""
        dtype, shape, begin, end = self.entries[tname]
        tdtype = DTYPES[dtype][0]
        if end == begin:
            return torch.empty(shape, dtype=tdtype)
        buf = memoryview(self._map)[self._base + begin:self._base + end]
        with warnings.catch_warnings():  # "non-writable buffer": we clone before anyone writes
            warnings.simplefilter("ignore")
            t = torch.frombuffer(buf, dtype=tdtype).reshape(shape).clone()
        del buf
        return t

    def close(self):
        if self._map is not None:
            self._map.close()
        self._f.close()


class Checkpoint:
    """The tensors of a checkpoint directory, by name, each from the file that holds it."""

    def __init__(self, directory):
        self.directory = directory
        self.files = {}
        self.where = {}  # tensor name -> SafetensorsFile
        index = os.path.join(directory, INDEX_FILE)
        if os.path.exists(index):
            self._load_index(index)
        else:
            names = sorted(f for f in os.listdir(directory) if f.endswith(".safetensors"))
            if not names:
                raise FormatError("%s: no *.safetensors file (and no %s)" % (directory, INDEX_FILE))
            for f in names:
                st = self._open(f)
                for tname in st.entries:
                    if tname in self.where:
                        raise FormatError("%s: tensor %s is also in %s" % (st.path, tname, self.where[tname].path))
                    self.where[tname] = st

    def _open(self, fname):
        if fname not in self.files:
            self.files[fname] = SafetensorsFile(os.path.join(self.directory, fname))
        return self.files[fname]

    def _load_index(self, index):
        try:
            with open(index, "rb") as f:
                doc = json.loads(f.read().decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise FormatError("%s: not valid JSON: %s" % (index, e))
        wm = doc.get("weight_map") if isinstance(doc, dict) else None
        if not isinstance(wm, dict) or not wm:
            raise FormatError("%s: weight_map: missing or empty" % index)
        for tname, fname in sorted(wm.items()):
            if not isinstance(fname, str) or "/" in fname or fname in ("", ".", ".."):
                raise FormatError("%s: tensor %s: file must be a plain file name, got %r" % (index, tname, fname))
            st = self._open(fname)
            if tname not in st.entries:
                raise FormatError("%s: tensor %s: listed in %s but missing from the file" % (st.path, tname, INDEX_FILE))
            self.where[tname] = st

    def names(self):
        return set(self.where)

    def has(self, tname):
        return tname in self.where

    def get(self, tname):
        return self.where[tname].get(tname)

    def describe(self, tname):
        """(file path, safetensors dtype code, shape) of a tensor."""
        st = self.where[tname]
        dtype, shape, _, _ = st.entries[tname]
        return st.path, dtype, shape

    def close(self):
        for st in self.files.values():
            st.close()


def write_file(path, tensors, metadata=None):
    """Writes {name: tensor} as a safetensors file (tests build checkpoints with it)."""
    header = {}
    blobs = []
    off = 0
    for tname in sorted(tensors):
        t = tensors[tname].detach().contiguous()
        if t.dtype not in _CODES:
            raise ValueError("dtype %s has no safetensors code" % t.dtype)
        data = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[tname] = {"dtype": _CODES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    if metadata:
        header["__metadata__"] = metadata
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # the reference writer pads the header to 8 bytes
    with open(path, "wb") as f:
        f.write(len(raw).to_bytes(8, "little"))
        f.write(raw)
        for b in blobs:
            f.write(b)
