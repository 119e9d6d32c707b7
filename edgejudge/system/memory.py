"""The memory a judge needs: weights, KV cache, llama.cpp's buffers and the prefix cache.

At the real judges' size the KV cache, not the weights, decides whether a context fits: one
token of Flow-Judge's cache (Phi-3.5-mini: 32 layers, 32 KV heads of 96) holds 384 KiB in
f16, so 8k tokens take 3 GiB beside 2.4 GB of weights, where Selene (Llama-3.1-8B, 8 KV
heads of 128) needs 128 KiB a token. The shape that sets this is read from the GGUF header
when the file is here, and from the catalog (`shape = {...}`) when it is not.

`BUFFERS` and `BUFFER_PER_VOCAB` are what a judging process holds beyond the weights, the KV
cache and the prefix cache (llama.cpp's compute and output buffers, the Python runtime, the
vocabulary's tables), fitted to the peak RSS measured on the demo models and the judge-sized
stand-ins (scripts/make_standin.py, scripts/memory_check.py): see the README's memory table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgejudge.runtime.gguf import GGUFInfo

MIB = 2**20
# llama.cpp's KV cache types a user may choose (--kv-type): bytes per block, values per block.
KV_TYPES: dict[str, tuple[int, int]] = {"f16": (2, 1), "q8_0": (34, 32)}
DEFAULT_KV_TYPE = "f16"
BUFFERS = 150 * MIB  # the process and llama.cpp's buffers, beside the weights and caches
BUFFER_PER_VOCAB = 600  # bytes per vocabulary entry (logits, the samplers' token arrays)
# The prefix cache's default budget: room for this many heads the length of the whole
# context, but never more than this share of the memory left once the model is loaded.
PREFIX_CACHE_HEADS = 1
PREFIX_CACHE_SHARE = 0.25
# A model fits when it needs at most this share of the machine's memory.
FIT_SHARE = 0.8
# The context a model gets when no one names one: what the catalog gives its judges (most
# judgments need far less), never more than the model was trained on, halved (to no less
# than SMALLEST_DEFAULT_CONTEXT) until the model and its KV cache fit the memory free now.
# Not the trained context itself: Phi-3.5's 131072 tokens would ask for 48 GiB of KV cache.
DEFAULT_CONTEXT = 8192
SMALLEST_DEFAULT_CONTEXT = 2048


@dataclass(frozen=True)
class ModelShape:
    """What sets a model's KV cache: layers, KV heads and their width; and its vocabulary."""

    layers: int
    kv_heads: int
    head_size: int  # one head's key width (its value width is the same in every judge here)
    vocab: int
    value_size: int | None = None  # where it differs from head_size

    def kv_bytes_per_token(self, kv_type: str = DEFAULT_KV_TYPE) -> int:
        """Bytes of KV cache one token takes in every layer (keys and values)."""
        block_bytes, block = KV_TYPES[kv_type]
        width = self.kv_heads * (self.head_size + (self.value_size or self.head_size))
        return self.layers * width * block_bytes // block

    def kv_bytes(self, tokens: int, kv_type: str = DEFAULT_KV_TYPE) -> int:
        """Bytes of KV cache `tokens` tokens take."""
        return tokens * self.kv_bytes_per_token(kv_type)


def shape_from_gguf(info: GGUFInfo) -> ModelShape | None:
    """The model's shape from its GGUF header; None where the header does not say it."""
    meta, arch = info.metadata, info.architecture

    def number(key: str) -> int | None:
        value = meta.get(f"{arch}.{key}")
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else None

    layers, heads = number("block_count"), number("attention.head_count")
    width = number("embedding_length")
    if not layers or not heads or not width:
        return None
    kv_heads = number("attention.head_count_kv") or heads  # absent: no grouped-query attention
    key = number("attention.key_length") or width // heads
    value = number("attention.value_length") or key
    embedding = info.tensors.get("token_embd.weight", ())  # (width, vocabulary)
    vocab = number("vocab_size") or (embedding[1] if len(embedding) > 1 else 0)
    return ModelShape(layers, kv_heads, key, vocab, value if value != key else None)


@dataclass(frozen=True)
class Need:
    """Memory one judging process needs, in bytes, by part."""

    weights: int
    kv: int
    buffers: int
    prefix_cache: int

    @property
    def total(self) -> int:
        """All of it: what peak RSS reaches once the prefix cache is full."""
        return self.weights + self.kv + self.buffers + self.prefix_cache


def prefix_cache_budget(
    shape: ModelShape, context: int, *, weights: int, available: int | None,
    kv_type: str = DEFAULT_KV_TYPE,
) -> int:  # fmt: skip
    """The prefix cache's default budget in bytes: PREFIX_CACHE_HEADS heads as long as the
    context, within PREFIX_CACHE_SHARE of the memory left once the model and its KV cache
    are in (`available`: memory free now; None: unknown, the heads alone)."""
    heads = PREFIX_CACHE_HEADS * shape.kv_bytes(context, kv_type)
    if available is None:
        return heads
    left = available - weights - shape.kv_bytes(context, kv_type) - buffers(shape)
    return max(0, min(heads, int(PREFIX_CACHE_SHARE * left)))


def buffers(shape: ModelShape | None) -> int:
    """What the process holds beyond weights and caches (see the module's docstring)."""
    return BUFFERS + BUFFER_PER_VOCAB * (shape.vocab if shape else 0)


def need(
    weights: int, shape: ModelShape, context: int, *, prefix_cache: int,
    kv_type: str = DEFAULT_KV_TYPE,
) -> Need:  # fmt: skip
    """The memory a model of `weights` bytes and this shape needs at `context` tokens."""
    return Need(weights, shape.kv_bytes(context, kv_type), buffers(shape), prefix_cache)


def fits(need_bytes: int | None, total: int | None) -> bool | None:
    """Whether `need_bytes` fits in FIT_SHARE of `total` memory (None: unknown)."""
    if need_bytes is None or total is None:
        return None
    return need_bytes <= FIT_SHARE * total


def check_kv_type(kv_type: str | None) -> str:
    """`kv_type`, or the default for None; `SettingsError` naming the known ones otherwise."""
    from edgejudge.errors import SettingsError

    if kv_type is None:
        return DEFAULT_KV_TYPE
    if kv_type not in KV_TYPES:
        raise SettingsError(f"unknown KV cache type {kv_type!r} (known: {', '.join(KV_TYPES)})")
    return kv_type


def default_context(
    info: GGUFInfo, *, available: int | None, kv_type: str = DEFAULT_KV_TYPE
) -> int:
    """The context for a model when none is named (see DEFAULT_CONTEXT)."""
    trained = info.context_length
    context = min(trained, DEFAULT_CONTEXT) if trained else DEFAULT_CONTEXT
    shape = shape_from_gguf(info)
    if shape is None or available is None:
        return context
    weights = info.path.stat().st_size
    while context > SMALLEST_DEFAULT_CONTEXT and (
        weights + shape.kv_bytes(context, kv_type) + buffers(shape) > FIT_SHARE * available
    ):
        context //= 2
    return context
