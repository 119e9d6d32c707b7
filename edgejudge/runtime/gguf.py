"""Read a GGUF file's header before handing it to llama.cpp.

llama.cpp answers a wrong file with a bare "failed to load model", and some corrupt files
make it abort the whole process; reading the header here lets edgejudge say *what* is wrong
(not GGUF, an unknown version, cut off, a corrupt header, layer or head counts the tensors
contradict) and learn the trained context length before a context is allocated.

A length in the header that runs past the end of the file means the file was cut off, unless
no real file could have it (a string over `LONGEST_STRING`, an array over `LONGEST_ARRAY`
items): then the header itself is damaged, and so is a key that is not a plain name or a
value of a type GGUF does not have.
"""

from __future__ import annotations

import mmap
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgejudge.errors import ModelFileError, ModelNotFoundError

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
LONGEST_STRING = 16 * 1024 * 1024  # a chat template is kilobytes; a vocabulary entry, bytes
LONGEST_ARRAY = 1 << 26  # a vocabulary or its merges: hundreds of thousands of items
MOST_ITEMS = 1 << 20  # metadata keys, or tensors, in one file
MAX_DIMS = 4  # GGML_MAX_DIMS
VOCABULARY = "tokenizer.ggml.tokens"
_KEY = re.compile(r"^[\x21-\x7e]{1,512}$")  # a key or a tensor's name: printable ASCII
_BLOCK = re.compile(r"^blk\.(\d+)\.")

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
    # Each tensor's name and shape (ne[0] first: the input width of a weight matrix).
    tensors: dict[str, tuple[int, ...]] = field(default_factory=dict, repr=False)

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


class _Corrupt(Exception):
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

    def count(self, most: int, what: str) -> int:
        value = int(self.take("Q"))
        if value > most:
            raise _Corrupt(f"{what} of {value:,} at byte {self.pos - 8}")
        return value

    def span(self) -> tuple[int, int]:
        """Where the next string's bytes start and end; the reader moves past them."""
        length = self.count(LONGEST_STRING, "a string length")
        if self.pos + length > len(self.data):
            raise _Truncated
        start, self.pos = self.pos, self.pos + length
        return start, self.pos

    def string(self, keep: bool = True) -> str:
        start, end = self.span()
        return self.data[start:end].decode("utf-8", "replace") if keep else ""

    def value(self, kind: int, keep: bool = True, *, unique: bool = False) -> Any:
        """One metadata value (arrays are skipped: None); with `unique`, an array of strings
        whose entries must all differ (the vocabulary: llama.cpp aborts on a repeat)."""
        if kind in _SCALARS:
            return self.take(_SCALARS[kind])
        if kind == _STRING:
            return self.string(keep)
        if kind == _ARRAY:
            item_kind, count = self.take("I"), self.count(LONGEST_ARRAY, "an array length")
            if item_kind in _SCALARS:  # skip fixed-size arrays in one step
                size = struct.calcsize(_SCALARS[item_kind]) * count
                if self.pos + size > len(self.data):
                    raise _Truncated
                self.pos += size
            elif item_kind == _STRING and unique:
                self._distinct(count)
            else:
                for _ in range(count):
                    self.value(item_kind, keep=False)
            return None  # arrays (the vocabulary, merges) are not needed here
        raise _Corrupt(f"a value of unknown type {kind} at byte {self.pos - 4}")

    def _distinct(self, count: int) -> None:
        """Skip `count` strings, which must all differ."""
        seen: dict[bytes, int] = {}
        for index in range(count):
            start, end = self.span()
            entry = bytes(self.data[start:end])
            first = seen.setdefault(entry, index)
            if first != index:
                raise _Corrupt(
                    f"its vocabulary holds {entry!r} twice, as tokens {first} and {index}"
                )

    def key(self) -> str:
        start = self.pos
        key = self.string()
        if not _KEY.match(key):
            raise _Corrupt(f"a key that is not a name at byte {start}")
        return key

    def tensor(self) -> tuple[str, tuple[int, ...], int]:
        """One tensor's info: its name, shape and offset in the data."""
        start = self.pos
        name = self.string()
        dims = self.take("I")
        if not _KEY.match(name) or not 1 <= dims <= MAX_DIMS:
            raise _Corrupt(f"a tensor entry that cannot be one at byte {start}")
        shape = tuple(int(self.take("Q")) for _ in range(dims))
        self.take("I")  # its type
        return name, shape, int(self.take("Q"))


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
            tensor_count = reader.count(MOST_ITEMS, "a tensor count")
            kv_count = reader.count(MOST_ITEMS, "a metadata count")
            metadata: dict[str, Any] = {}
            for _ in range(kv_count):
                key = reader.key()
                metadata[key] = reader.value(reader.take("I"), unique=key == VOCABULARY)
            alignment = metadata.get("general.alignment", 32)
            if not isinstance(alignment, int) or alignment < 1:
                alignment = 32
            tensors: dict[str, tuple[int, ...]] = {}
            end = 0  # where the last tensor's data begins, from the data's start
            for _ in range(tensor_count):
                start = reader.pos
                name, shape, offset = reader.tensor()
                # Writers lay tensors out in order, each on the alignment: an offset out of
                # step is a damaged entry, not a short file.
                if offset % alignment or offset < end:
                    raise _Corrupt(f"tensor {name}'s data offset {offset:,} at byte {start}")
                tensors[name] = shape
                end = offset
        except _Truncated:
            raise ModelFileError(
                f"{path} is truncated: the file ends inside its GGUF header ({size} bytes); "
                "download it again",
                str(path),
            ) from None
        except (_Corrupt, ValueError, OverflowError) as exc:
            raise ModelFileError(
                f"{path}: its GGUF header is corrupt ({exc}); download it again", str(path)
            ) from None
        data_start = -(-reader.pos // alignment) * alignment
    if tensors and data_start + end >= size:
        raise ModelFileError(
            f"{path} is truncated: it is {size:,} bytes, but its tensors' data runs past "
            f"byte {data_start + end:,}; download it again",
            str(path),
        )
    info = GGUFInfo(
        path=path, version=version, tensor_count=tensor_count, metadata=metadata, tensors=tensors
    )
    problem = contradiction(info)
    if problem:
        raise ModelFileError(f"{path} is corrupt: {problem}; download it again", str(path))
    return info


def contradiction(info: GGUFInfo) -> str | None:
    """Where the header's layer or head counts disagree with the tensors the file holds
    (llama.cpp would abort on some), in words; None where they agree or cannot be checked."""
    arch = info.architecture
    blocks = {int(m.group(1)) for name in info.tensors if (m := _BLOCK.match(name))}
    layers = info.metadata.get(f"{arch}.block_count")
    if blocks and isinstance(layers, int) and layers != max(blocks) + 1:
        return (
            f"its header says {layers:,} layers ({arch}.block_count) but it holds tensors for "
            f"{max(blocks) + 1}"
        )
    width = info.metadata.get(f"{arch}.embedding_length")
    embedding = info.tensors.get("token_embd.weight")
    if isinstance(width, int) and embedding and embedding[0] != width:
        return (
            f"its header says an embedding of {width:,} ({arch}.embedding_length) but "
            f"token_embd.weight is {embedding[0]:,} wide"
        )
    return _heads_problem(info, arch)


def _heads_problem(info: GGUFInfo, arch: str) -> str | None:
    """Head counts (where they are single numbers) against layer 0's query and key."""
    query, key = info.tensors.get("blk.0.attn_q.weight"), info.tensors.get("blk.0.attn_k.weight")
    for name, tensor in (("head_count", query), ("head_count_kv", key)):
        heads = info.metadata.get(f"{arch}.attention.{name}")
        if not isinstance(heads, int):
            continue
        if heads < 1 or (tensor is not None and len(tensor) > 1 and tensor[1] % heads):
            return (
                f"its header says {heads:,} attention heads ({arch}.attention.{name}), which "
                "its attention tensors cannot be split into"
            )
    heads = info.metadata.get(f"{arch}.attention.head_count")
    kv_heads = info.metadata.get(f"{arch}.attention.head_count_kv")
    if isinstance(heads, int) and isinstance(kv_heads, int) and query and key:
        if len(query) > 1 and len(key) > 1 and query[1] * kv_heads != key[1] * heads:
            return (
                f"its header's {heads:,} query heads and {kv_heads:,} key heads "
                f"({arch}.attention.head_count, head_count_kv) do not fit its attention tensors"
            )
    return None
