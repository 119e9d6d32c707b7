"""Broken copies of a real GGUF model, made byte by byte for the hardening tests: a header
whose layer count no file could hold, weights that are NaN. The source is never changed."""

from __future__ import annotations

import mmap
import shutil
import struct
from pathlib import Path

from edgejudge.runtime.gguf import _Reader, read_gguf


def _layout(path: Path) -> tuple[dict[str, int], dict[str, tuple[int, int]], int]:
    """Where each scalar metadata value starts, each tensor's (type, offset), and where the
    tensor data starts."""
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        reader = _Reader(data)
        reader.pos = 8
        tensor_count, kv_count = reader.take("Q"), reader.take("Q")
        values: dict[str, int] = {}
        for _ in range(kv_count):
            key = reader.string()
            kind = reader.take("I")
            values[key] = reader.pos
            reader.value(kind)
        tensors: dict[str, tuple[int, int]] = {}
        for _ in range(tensor_count):
            name = reader.string()
            dims = reader.take("I")
            for _ in range(dims):
                reader.take("Q")
            tensors[name] = (reader.take("I"), reader.take("Q"))
        return values, tensors, -(-reader.pos // 32) * 32


def with_layers(source: Path, target: Path, layers: int) -> Path:
    """A copy of `source` whose header claims `layers` layers (ARCH.block_count)."""
    shutil.copyfile(source, target)
    arch = read_gguf(source).architecture
    values, _, _ = _layout(source)
    with target.open("r+b") as handle:
        handle.seek(values[f"{arch}.block_count"])
        handle.write(struct.pack("<I", layers))
    return target


def with_nan_weights(source: Path, target: Path, tensor: str = "output_norm.weight") -> Path:
    """A copy of `source` whose `tensor` (an F32 one, by default the final norm every logit
    passes through) holds NaN everywhere."""
    shutil.copyfile(source, target)
    _, tensors, start = _layout(source)
    kind, offset = tensors[tensor]
    assert kind == 0, f"{tensor} is not F32"
    width = read_gguf(source).tensors[tensor][0]
    with target.open("r+b") as handle:
        handle.seek(start + offset)
        handle.write(struct.pack("<f", float("nan")) * width)
    return target


def with_repeated_token(source: Path, target: Path) -> tuple[Path, bytes]:
    """A copy of `source` whose vocabulary holds one entry twice (the second of the first two
    entries of equal length overwritten with the first), and that entry."""
    shutil.copyfile(source, target)
    values, _, _ = _layout(source)
    with target.open("r+b") as handle, mmap.mmap(handle.fileno(), 0) as data:
        reader = _Reader(data)  # type: ignore[arg-type]
        reader.pos = values["tokenizer.ggml.tokens"]
        reader.take("I")
        where: dict[int, int] = {}  # length -> where the first entry of that length starts
        for _ in range(reader.take("Q")):
            length = reader.take("Q")
            start = reader.pos
            reader.pos += length
            if length in where:
                first = bytes(data[where[length] : where[length] + length])
                data[start : start + length] = first
                return target, first
            where[length] = start
    raise AssertionError("no two vocabulary entries of equal length")
