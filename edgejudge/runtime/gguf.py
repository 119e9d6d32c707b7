"""Read a GGUF file's header before handing it to llama.cpp.

llama.cpp answers a wrong file with a bare "failed to load model"; reading the header here
lets edgejudge say *what* is wrong (not GGUF, an unknown version, cut off mid-header) and
learn the trained context length before a context is allocated.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgejudge.errors import ModelFileError, ModelNotFoundError

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)

# GGUF metadata value types -> struct format (None: handled specially).
_SCALARS = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class GGUFInfo:
    """What edgejudge needs from a GGUF header: scalar metadata and tensor count."""

    path: Path
    version: int
    tensor_count: int
    metadata: dict[str, Any] = field(repr=False)

    @property
    def architecture(self) -> str:
        """The model architecture, e.g. `gemma3` or `phi3`."""
        return str(self.metadata.get("general.architecture", "unknown"))

    @property
    def context_length(self) -> int | None:
        """The context length the model was trained with, if the header says."""
        value = self.metadata.get(f"{self.architecture}.context_length")
        return int(value) if value is not None else None

    @property
    def quant(self) -> str | None:
        """The quantisation named in the header, e.g. `Q4_K_M`."""
        value = self.metadata.get("general.file_type")
        return _FILE_TYPES.get(value) if isinstance(value, int) else None

    @property
    def chat_template(self) -> str | None:
        """The model's own chat template (Jinja), if it ships one."""
        value = self.metadata.get("tokenizer.chat_template")
        return value if isinstance(value, str) else None


# llama.cpp's `llama_ftype` numbers, as written to `general.file_type`.
_FILE_TYPES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
}


class _Truncated(Exception):
    pass


class _Reader:
    def __init__(self, data: mmap.mmap) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise _Truncated
        (value,) = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return value

    def string(self, keep: bool = True) -> str:
        length = self.take("Q")
        if self.pos + length > len(self.data):
            raise _Truncated
        start, self.pos = self.pos, self.pos + length
        return self.data[start : self.pos].decode("utf-8", "replace") if keep else ""

    def value(self, kind: int, keep: bool = True) -> Any:
        if kind in _SCALARS:
            return self.take(_SCALARS[kind])
        if kind == _STRING:
            return self.string(keep)
        if kind == _ARRAY:
            item_kind, count = self.take("I"), self.take("Q")
            if item_kind in _SCALARS:  # skip fixed-size arrays in one step
                size = struct.calcsize(_SCALARS[item_kind]) * count
                if self.pos + size > len(self.data):
                    raise _Truncated
                self.pos += size
            else:
                for _ in range(count):
                    self.value(item_kind, keep=False)
            return None  # arrays (the vocabulary, merges) are not needed here
        raise ValueError(f"unknown metadata type {kind}")


def read_gguf(path: str | Path) -> GGUFInfo:
    """Check that `path` is a readable GGUF file and return its header's scalar metadata."""
    path = Path(path)
    if not path.exists():
        raise ModelNotFoundError(f"model file not found: {path}")
    if not path.is_file():
        what = "a folder" if path.is_dir() else "not a regular file"
        raise ModelFileError(f"{path} is {what}, not a GGUF model file", str(path))
    size = path.stat().st_size
    if size == 0:
        raise ModelFileError(f"{path} is empty (0 bytes), not a GGUF model", str(path))
    if size < 24:
        raise ModelFileError(f"{path} is {size} bytes: too small to be a GGUF model", str(path))
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc.strerror}", str(path)) from None
    with handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if data[:4] != GGUF_MAGIC:
            raise ModelFileError(
                f"{path} is not a GGUF file (it starts with {bytes(data[:4])!r}, not b'GGUF')",
                str(path),
            )
        reader = _Reader(data)
        reader.pos = 4
        try:
            version = reader.take("I")
            if version not in SUPPORTED_VERSIONS:
                raise ModelFileError(f"{path}: unsupported GGUF version {version}", str(path))
            tensor_count, kv_count = reader.take("Q"), reader.take("Q")
            metadata: dict[str, Any] = {}
            for _ in range(kv_count):
                key = reader.string()
                metadata[key] = reader.value(reader.take("I"))
        except _Truncated:
            raise ModelFileError(
                f"{path} is truncated: the file ends inside its GGUF header ({size} bytes); "
                "download it again",
                str(path),
            ) from None
        except (ValueError, OverflowError) as exc:
            raise ModelFileError(f"{path}: corrupt GGUF header ({exc})", str(path)) from None
    return GGUFInfo(path=path, version=version, tensor_count=tensor_count, metadata=metadata)
