"""The prefix cache: which prompt tokens may come from cells evaluated for another prompt.

Why a rule at all. llama.cpp evaluates a prompt in pieces (a batch of at most `n_batch`
tokens each), and the floats a token gets depend on its piece, in two ways measured on this
x86 CPU build (tests/test_prefix_cache.py):

- the flash-attention kernel runs a tiled loop for pieces of 64 tokens or more
  (`GGML_FA_TILE_Q`) and a row-at-a-time loop below that, and the two round differently;
- the repacked quantized matrix multiplication takes a piece's tokens four at a time and
  the three or fewer left over at its end one at a time, which rounds differently too.

So a piece that starts or ends between two of llama.cpp's own cuts (multiples of `n_batch`
from the start) must start and end on a multiple of the granule (4 here) and be 64 tokens
or more long: then every token is computed exactly as in llama.cpp's own pieces. A token may
be reused from a cache only below such a cut, and whatever is left is cut into long
pieces on the granule, except a last piece that llama.cpp's own cut leaves short, which is
evaluated exactly as llama.cpp would.

Other backends (Metal, CUDA, other CPUs) cut their kernels elsewhere: the decoder checks the
rule with `PROBE` on the machine it runs on before it reuses a single cell, with the
granules of `GRANULES` in turn, and evaluates every prompt in full where none holds.

Where the cells lie matters as well: the attention of a token depends on which cells hold
the tokens it sees and on how far the used cells reach (the decoding kernel splits the cells
between threads by count). A judgment therefore always runs with its own prompt in cells
0, 1, 2, … and nothing beyond them, as in an empty context: the one head kept in the
context is a prefix of the prompt being judged, in cells 0 to its length. Other heads wait
outside the context, as snapshots of the context's whole state (a sequence's own snapshot
would leave out the cells a sliding-window layer no longer sees, and put the rest back in
other cells), in memory bounded by a budget, least recently used first out.
"""

from __future__ import annotations

import ctypes
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Pieces at least this long, cut on a granule, evaluate alike (on the x86 CPU build; see
# the module's docstring and `PROBE`).
LONG_PIECE = 64
# The granules tried in turn on the machine a model runs on, finest first: cuts on a
# multiple of the first that holds keep the floats (4 on this x86 build).
GRANULES = (4, 32, 64)
# Tokens of the probe that checks the rule: one piece against pieces cut on a granule.
PROBE = 3 * LONG_PIECE


@dataclass(frozen=True)
class PieceRule:
    """Where a prompt of a given length may be cut, for llama.cpp's `n_batch` (a multiple of
    `granule`)."""

    n_batch: int
    long: int = LONG_PIECE
    granule: int = GRANULES[0]

    def _down(self, position: int) -> int:
        return position // self.granule * self.granule

    def long_end(self, length: int) -> int:
        """Where the prompt's long pieces end: its length, or the start of a short last
        piece (which is evaluated as llama.cpp evaluates it, and never reused)."""
        last = (length - 1) // self.n_batch * self.n_batch if length else 0
        return last if length - last < self.long else length

    def cut(self, shared: int, length: int) -> int:
        """How many of `shared` leading tokens a prompt of `length` takes from a cache: a
        multiple of the granule, leaving a long piece (or none) before the short one."""
        end = self.long_end(length)
        cut = self._down(min(shared, end, max(0, length - self.long)))
        if 0 < end - cut < self.long:  # what is left before the short piece must be long
            cut = self._down(max(0, end - self.long))
        return cut

    def next_end(self, start: int, length: int, room: int) -> int:
        """The end of the piece to evaluate next from `start` (0 or a cut on the granule)
        with `room` tokens of batch; `start` itself when the room is too small for a piece
        that keeps the rule."""
        end = self.long_end(length)
        if start >= end:  # the short last piece, whole
            return length if length - start <= room else start
        left = end - start
        take = min(left, room, self.n_batch)
        if take < left:  # a cut between llama.cpp's own: on the granule
            take = self._down(start + take) - start
        if 0 < left - take < self.long:  # and leaving a long piece
            take = self._down(end - self.long) - start
        if take < min(left, self.long):
            return start
        return start + take


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens `a` and `b` share."""
    n = 0
    for mine, theirs in zip(a, b, strict=False):
        if mine != theirs:
            break
        n += 1
    return n


@dataclass
class CacheStats:
    """What the prefix cache did: prompts, tokens reused and evaluated, memory."""

    prompts: int = 0
    prompt_tokens: int = 0
    reused_tokens: int = 0  # taken from a head in the context or a snapshot
    hits: int = 0  # prompts that reused at least one token
    snapshots: int = 0  # heads saved outside the context
    restores: int = 0  # snapshots put back
    evictions: int = 0
    bytes: int = 0  # snapshots held now
    peak_bytes: int = 0
    rule: str = "not checked yet"
    evaluation_seconds: float = 0.0  # in llama_decode calls that evaluated prompt tokens
    heads_lost: int = 0  # heads dropped after side-by-side judgments took a cell of theirs

    @property
    def evaluated_tokens(self) -> int:
        """Prompt tokens evaluated (the rest came from the cache)."""
        return self.prompt_tokens - self.reused_tokens

    @property
    def hit_rate(self) -> float:
        """The share of prompt tokens that came from the cache."""
        return self.reused_tokens / self.prompt_tokens if self.prompt_tokens else 0.0

    def line(self) -> str:
        """One line for --verbose and the bench."""
        return (
            f"prefix cache: {self.hits}/{self.prompts} prompts reused a head, "
            f"{self.reused_tokens}/{self.prompt_tokens} prompt tokens "
            f"({self.hit_rate:.0%}) came from it, {self.evaluated_tokens} evaluated in "
            f"{self.evaluation_seconds:.1f} s; {self.snapshots} heads saved, "
            f"{self.restores} restored, {self.evictions} evicted; "
            f"{self.bytes / 2**20:.1f} MiB held, peak {self.peak_bytes / 2**20:.1f} MiB; "
            f"rule: {self.rule}"
        )


@dataclass
class Snapshot:
    """A head kept outside the context: its tokens and the context's whole state."""

    tokens: tuple[int, ...]
    data: Any  # a ctypes byte array
    size: int


class Snapshots:
    """Heads saved outside the context, within `budget` bytes, least recently used out."""

    def __init__(self, budget: int, stats: CacheStats) -> None:
        self.budget = budget
        self.stats = stats
        self._entries: OrderedDict[tuple[int, ...], Snapshot] = OrderedDict()

    def best(self, tokens: Sequence[int]) -> tuple[Snapshot | None, int]:
        """The snapshot that shares the most leading tokens with `tokens`, and how many."""
        found, most = None, 0
        for entry in self._entries.values():
            n = common_prefix(entry.tokens, tokens)
            if n > most:
                found, most = entry, n
        return found, most

    def covers(self, tokens: Sequence[int]) -> bool:
        """Whether a snapshot already holds `tokens` (or more after them)."""
        return self.covering(tokens) is not None

    def covering(self, tokens: Sequence[int]) -> Snapshot | None:
        """A snapshot that holds `tokens` (or more after them), if one does."""
        n, key = len(tokens), tuple(tokens)
        return next((e for e in self._entries.values() if e.tokens[:n] == key), None)

    def fits(self, size: int) -> bool:
        """Whether a snapshot of `size` bytes can be kept at all."""
        return 0 < size <= self.budget

    def make_room(self, tokens: Sequence[int], size: int) -> None:
        """Before a snapshot of `size` bytes is made for `tokens`, drop those it will
        replace, then the least recently used until it fits: the snapshots never hold more
        than the budget, not even while the new one is being copied out."""
        self._drop_prefixes(tuple(tokens))
        while self._entries and self.stats.bytes + size > self.budget:
            self._drop(next(iter(self._entries)))
            self.stats.evictions += 1

    def add(self, tokens: Sequence[int], data: Any, size: int) -> None:
        """Keep a snapshot; drop those it extends, then the least recently used over budget."""
        key = tuple(tokens)
        self._drop_prefixes(key)
        self._entries[key] = Snapshot(key, data, size)
        self.stats.snapshots += 1
        self.stats.bytes += size
        while self.stats.bytes > self.budget and len(self._entries) > 1:
            self._drop(next(iter(self._entries)))
            self.stats.evictions += 1
        self.stats.peak_bytes = max(self.stats.peak_bytes, self.stats.bytes)

    def touch(self, entry: Snapshot) -> None:
        """Mark `entry` as just used."""
        self._entries.move_to_end(entry.tokens)

    def clear(self) -> None:
        """Drop every snapshot."""
        for key in list(self._entries):
            self._drop(key)

    def _drop_prefixes(self, key: tuple[int, ...]) -> None:
        """Drop the snapshots `key` extends (a snapshot of `key` replaces them)."""
        for other in [k for k in self._entries if key[: len(k)] == k]:
            self._drop(other)

    def _drop(self, key: tuple[int, ...]) -> None:
        entry = self._entries.pop(key)
        self.stats.bytes -= entry.size


def save_state(llama_cpp: Any, ctx: Any) -> tuple[Any, int]:
    """The context's whole state (its KV cells included) as a byte array and its size."""
    size = llama_cpp.llama_state_get_size(ctx)
    data = (ctypes.c_uint8 * size)()
    written = llama_cpp.llama_state_get_data(ctx, data, size)
    return data, written


def load_state(llama_cpp: Any, ctx: Any, data: Any, size: int) -> bool:
    """Put a saved whole state back: the cells go to where they were, from cell 0."""
    return bool(llama_cpp.llama_state_set_data(ctx, data, size) == size)
