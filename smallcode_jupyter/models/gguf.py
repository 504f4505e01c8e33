"""Read a GGUF file's header without llama.cpp.

Checking the header ourselves lets us reject a corrupt or truncated file with a clear message
before llama.cpp touches it (architecture, size, trained context).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

MAGIC = b"GGUF"
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
            11: "<q", 12: "<d"}  # fmt: skip
_STRING, _ARRAY = 8, 9
# Bytes per block and elements per block of the common ggml tensor types (for size checks).
_BLOCKS = {0: (4, 1), 1: (2, 1), 2: (18, 32), 3: (20, 32), 6: (22, 32), 7: (24, 32), 8: (34, 32),
           9: (36, 32), 10: (84, 256), 11: (110, 256), 12: (144, 256), 13: (176, 256),
           14: (210, 256), 15: (292, 256), 16: (66, 256), 17: (74, 256), 18: (98, 256),
           19: (50, 256), 20: (36, 32), 21: (110, 256), 22: (82, 256), 23: (136, 256),
           24: (1, 1), 25: (2, 1), 26: (4, 1), 27: (8, 1), 28: (8, 1), 29: (56, 256),
           30: (2, 1)}  # fmt: skip


class GGUFError(ValueError):
    """The file is not a readable GGUF model."""


@dataclass
class GGUFInfo:
    """What smallcode needs from a GGUF header."""

    path: Path
    version: int
    architecture: str
    name: str
    context_length: int | None
    params_b: float | None  # billions, from the size label or the tensor shapes
    chat_template: str | None
    file_type: int | None
    metadata: dict = field(repr=False, default_factory=dict)


class _Reader:
    def __init__(self, f: BinaryIO, size: int) -> None:
        self.f, self.size = f, size

    def take(self, n: int) -> bytes:
        data = self.f.read(n)
        if len(data) != n:
            raise GGUFError("file ends inside its header (truncated download?)")
        return data

    def scalar(self, fmt: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        n = self.scalar("<Q")
        if n > self.size:
            raise GGUFError("corrupt header: string length beyond end of file")
        return self.take(n).decode("utf-8", errors="replace")

    def value(self, vtype: int, keep: bool = True):
        if vtype in _SCALARS:
            return self.scalar(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            itype, n = self.scalar("<I"), self.scalar("<Q")
            if n > self.size:
                raise GGUFError("corrupt header: array length beyond end of file")
            if itype in _SCALARS and not keep:  # skip big numeric arrays (token scores...)
                self.f.seek(n * struct.calcsize(_SCALARS[itype]), 1)
                return None
            items = [self.value(itype, keep) for _ in range(n)]
            return items if keep else None
        raise GGUFError(f"corrupt header: unknown value type {vtype}")


def _size_label_to_b(label: str) -> float | None:
    m = re.fullmatch(r"(?:\d+x)?([\d.]+)([KMBT])", label.strip(), re.I)
    if not m:
        return None
    scale = {"K": 1e-6, "M": 1e-3, "B": 1.0, "T": 1e3}[m.group(2).upper()]
    return float(m.group(1)) * scale


def read_gguf(path: str | Path, check_size: bool = True) -> GGUFInfo:
    """Parse the header of ``path``; raise GGUFError if it is not a complete GGUF file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        f = path.open("rb")
    except OSError as e:
        raise GGUFError(f"cannot open {path}: {e.strerror or e}") from e
    with f:
        r = _Reader(f, size)
        if r.take(4) != MAGIC:
            raise GGUFError(f"{path} is not a GGUF file (bad magic bytes)")
        version = r.scalar("<I")
        if version not in (2, 3):
            raise GGUFError(f"{path}: unsupported GGUF version {version}")
        n_tensors, n_kv = r.scalar("<Q"), r.scalar("<Q")
        if n_tensors > 1_000_000 or n_kv > 1_000_000:
            raise GGUFError(f"{path}: corrupt header (implausible counts)")
        meta: dict = {}
        for _ in range(n_kv):
            key = r.string()
            vtype = r.scalar("<I")
            keep = not key.startswith("tokenizer.ggml.") or key.endswith("_token_id")
            meta[key] = r.value(vtype, keep=keep)
        n_params, data_end = 0, 0
        for _ in range(n_tensors):
            r.string()
            n_dims = r.scalar("<I")
            if n_dims > 8:
                raise GGUFError(f"{path}: corrupt tensor table")
            count = 1
            for _ in range(n_dims):
                count *= r.scalar("<Q")
            ttype, offset = r.scalar("<I"), r.scalar("<Q")
            n_params += count
            if ttype in _BLOCKS:
                nbytes, per = _BLOCKS[ttype]
                data_end = max(data_end, offset + count // per * nbytes)
        align = int(meta.get("general.alignment", 32))
        data_start = -(-f.tell() // align) * align
    if check_size and data_start + data_end > size:
        raise GGUFError(f"{path} is truncated: {size:,} bytes, the tensors need {data_start + data_end:,}")
    arch = str(meta.get("general.architecture", "unknown"))
    params = _size_label_to_b(str(meta.get("general.size_label", ""))) or (n_params / 1e9 or None)
    return GGUFInfo(
        path=path,
        version=version,
        architecture=arch,
        name=str(meta.get("general.name", path.stem)),
        context_length=meta.get(f"{arch}.context_length"),
        params_b=params,
        chat_template=meta.get("tokenizer.chat_template"),
        file_type=meta.get("general.file_type"),
        metadata=meta,
    )
