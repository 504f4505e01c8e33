"""Read a GGUF file's header without llama.cpp.

Checking the header ourselves lets us reject a corrupt or truncated file with a clear message
before llama.cpp touches it (architecture, size, trained context). The bytes per block of each
tensor type come from llama.cpp's own ``gguf`` package, so a new quantisation type is known as
soon as that package knows it.
"""

from __future__ import annotations

import functools
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TypeAlias

MAGIC = b"GGUF"
_SCALARS = {  # GGUF value type -> struct format (8 is a string, 9 an array)
    0: "<B",  # uint8
    1: "<b",  # int8
    2: "<H",  # uint16
    3: "<h",  # int16
    4: "<I",  # uint32
    5: "<i",  # int32
    6: "<f",  # float32
    7: "<?",  # bool
    10: "<Q",  # uint64
    11: "<q",  # int64
    12: "<d",  # float64
}
_STRING, _ARRAY = 8, 9

MetaValue: TypeAlias = "int | float | bool | str | list[MetaValue] | None"
"""A metadata value: a scalar, a string, an array of values, or None for a skipped big array."""


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
    metadata: dict[str, MetaValue] = field(repr=False, default_factory=dict)

    def integer(self, key: str, default: int) -> int:
        """The metadata value ``key`` as an int (``default`` when absent or not a number)."""
        value = _as_int(self.metadata.get(key))
        return default if value is None else value


@functools.cache
def block_sizes() -> dict[int, tuple[int, int]]:
    """Tensor type id -> (bytes per block, elements per block), from llama.cpp's ``gguf`` package.

    Imported on first use: the package pulls in numpy, and ``%load_ext`` must stay cheap.
    """
    from gguf import GGML_QUANT_SIZES

    return {int(kind): (type_size, block_size) for kind, (block_size, type_size) in GGML_QUANT_SIZES.items()}


def _as_int(value: MetaValue) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class _Reader:
    def __init__(self, f: BinaryIO, size: int) -> None:
        self.f, self.size = f, size

    def take(self, n: int) -> bytes:
        data = self.f.read(n)
        if len(data) != n:
            raise GGUFError("file ends inside its header (truncated download?)")
        return data

    def scalar(self, fmt: str) -> int | float | bool:
        value: int | float | bool = struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]
        return value

    def count(self, fmt: str = "<Q") -> int:
        """An unsigned integer field (a length, a count, an offset or a type id)."""
        return int(self.scalar(fmt))

    def string(self) -> str:
        n = self.count()
        if n > self.size:
            raise GGUFError("corrupt header: string length beyond end of file")
        return self.take(n).decode("utf-8", errors="replace")

    def value(self, vtype: int, keep: bool = True) -> MetaValue:
        if vtype in _SCALARS:
            return self.scalar(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            itype, n = self.count("<I"), self.count()
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


def _metadata(r: _Reader, n_kv: int) -> dict[str, MetaValue]:
    meta: dict[str, MetaValue] = {}
    for _ in range(n_kv):
        key = r.string()
        vtype = r.count("<I")
        keep = not key.startswith("tokenizer.ggml.") or key.endswith("_token_id")
        meta[key] = r.value(vtype, keep=keep)
    return meta


def _tensors(r: _Reader, n_tensors: int, path: Path) -> tuple[int, int]:
    """Read the tensor table: (parameter count, end of the furthest tensor's data)."""
    blocks = block_sizes()
    n_params, data_end = 0, 0
    for _ in range(n_tensors):
        r.string()
        n_dims = r.count("<I")
        if n_dims > 8:
            raise GGUFError(f"{path}: corrupt tensor table")
        count = 1
        for _ in range(n_dims):
            count *= r.count()
        ttype, offset = r.count("<I"), r.count()
        n_params += count
        if ttype in blocks:  # a type newer than our gguf package: no size check for it
            nbytes, per = blocks[ttype]
            data_end = max(data_end, offset + count // per * nbytes)
    return n_params, data_end


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
        version = r.count("<I")
        if version not in (2, 3):
            raise GGUFError(f"{path}: unsupported GGUF version {version}")
        n_tensors, n_kv = r.count(), r.count()
        if n_tensors > 1_000_000 or n_kv > 1_000_000:
            raise GGUFError(f"{path}: corrupt header (implausible counts)")
        meta = _metadata(r, n_kv)
        n_params, data_end = _tensors(r, n_tensors, path)
        align = _as_int(meta.get("general.alignment")) or 32
        data_start = -(-f.tell() // align) * align
    if check_size and data_start + data_end > size:
        raise GGUFError(f"{path} is truncated: {size:,} bytes, the tensors need {data_start + data_end:,}")
    arch = str(meta.get("general.architecture", "unknown"))
    params = _size_label_to_b(str(meta.get("general.size_label", ""))) or (n_params / 1e9 or None)
    template = meta.get("tokenizer.chat_template")
    return GGUFInfo(
        path=path,
        version=version,
        architecture=arch,
        name=str(meta.get("general.name", path.stem)),
        context_length=_as_int(meta.get(f"{arch}.context_length")),
        params_b=params,
        chat_template=template if isinstance(template, str) else None,
        file_type=_as_int(meta.get("general.file_type")),
        metadata=meta,
    )
