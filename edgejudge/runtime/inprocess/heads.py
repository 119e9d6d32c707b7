"""The head kept in the in-process context, and the snapshots of heads kept outside it.

The decoder (decoder.py) asks `Heads` how much of a prompt it may take from cells already
evaluated (`reuse`), and hands back a finished prompt's cells (`promote`). Which cells may
be reused and where a prompt is cut is prefix.py's rule; this class keeps to it and owns the
llama.cpp calls that move cells: the head in cells 0, 1, … of its own sequence, trimmed,
saved as a snapshot of the whole context, or put back from one.

The head's cells are tagged with a second sequence, the guard, that nothing evaluates in:
llama.cpp lets a new token take a sliding-window layer's cell that its one sequence no
longer sees, and drops that sequence's earlier cells there with it. While judgments run side
by side, one of them would take the head's first cells that way, and a later prompt cut
shorter than the head would miss them. A cell two sequences hold is never taken.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from edgejudge.runtime.inprocess.prefix import (
    GRANULES,
    PROBE,
    CacheStats,
    PieceRule,
    Snapshots,
    common_prefix,
    load_state,
    save_state,
)

Decode = Callable[[list[tuple[int, int, int, bool]]], None]


class Heads:
    """The prompt head in the context (sequence `seq`, its cells also tagged `seq + 1`, the
    guard) and the snapshots of others."""

    def __init__(
        self, llama_cpp: Any, ctx: Any, *, seq: int, n_batch: int, budget: int, decode: Decode
    ) -> None:
        self._lc = llama_cpp
        self._ctx = ctx
        self._memory = llama_cpp.llama_get_memory(ctx)
        self._n_vocab = llama_cpp.llama_vocab_n_tokens(
            llama_cpp.llama_model_get_vocab(llama_cpp.llama_get_model(ctx))
        )
        self._decode = decode
        self.seq = seq
        self.guard = seq + 1
        self.rule = PieceRule(n_batch)
        self.stats = CacheStats()
        # Whether the rule holds on this machine: None until checked, and False with no
        # memory for the cache (every prompt is then evaluated in full).
        self._holds: bool | None = None if budget > 0 else False
        if not budget:
            self.stats.rule = "off"
        self._snapshots = Snapshots(budget, self.stats)
        self.tokens: list[int] = []  # the head: its tokens are in cells 0, 1, …

    def reuse(self, tokens: Sequence[int], idle: bool) -> int:
        """How many leading tokens of `tokens` come from the head, which is made ready:
        when nothing else runs (`idle`), the best head there is (the one in the context or
        a snapshot's) is put in cells 0, 1, … and cut to exactly what the prompt takes."""
        if idle and self._holds is None and self.tokens:
            self._check_rule()
        if not self._holds:
            if idle:
                self.trim(0)
            return 0
        length = len(tokens)
        mine = common_prefix(self.tokens, tokens)
        if not idle:  # the head stays as it is: the others use it
            return self.rule.cut(mine, length)
        entry, theirs = self._snapshots.best(tokens)
        if entry is not None and self.rule.cut(theirs, length) > self.rule.cut(mine, length):
            self._save()
            if load_state(self._lc, self._ctx, entry.data, entry.size):
                self.tokens, mine = list(entry.tokens), theirs
                self._snapshots.touch(entry)
                self.stats.restores += 1
            else:  # the context refused it: start from an empty one
                self._lc.llama_memory_clear(self._memory, False)
                self.tokens, mine = [], 0
        # Let go of it: the trim below may drop it from the snapshots to make room, and a
        # reference kept here would keep its memory (a gigabyte at Flow-Judge's size).
        entry = None
        shared = self.rule.cut(mine, length)
        self.trim(shared)
        return shared

    def count(self, tokens: int, shared: int) -> None:
        """Record a prompt of `tokens` that took `shared` from the head."""
        stats = self.stats
        stats.prompts += 1
        stats.prompt_tokens += tokens
        stats.reused_tokens += shared
        stats.hits += bool(shared)

    def trim(self, length: int) -> None:
        """Keep the head's first `length` tokens in the context (the rest saved outside it
        first, where they are worth it and not saved yet; nothing else may run)."""
        if length >= len(self.tokens):
            return
        if len(self.tokens) - length >= self.rule.long:
            self._save()
        for seq in (self.seq, self.guard):
            self._lc.llama_memory_seq_rm(self._memory, seq, length, -1)
        del self.tokens[length:]

    def promote(self, seq: int, tokens: Sequence[int], shared: int, cells: int) -> None:
        """Make a finished prompt's cells the head: it ran alone from the head (`shared`
        tokens of it), and its own cells hold its first `cells` positions."""
        end = min(self.rule.long_end(len(tokens)), cells)
        head = len(self.tokens)
        if self._holds is not False and head == shared < end:
            for into in (self.seq, self.guard):
                self._lc.llama_memory_seq_cp(self._memory, seq, into, head, end)
            self.tokens = list(tokens[:end])

    def relay(self) -> None:
        """Lay the context out again as a fresh one: the head alone, from cell 0 (dropped if
        a cell of it was taken after all: see the module's docstring)."""
        if self.tokens and self._lc.llama_memory_seq_pos_min(self._memory, self.seq) != 0:
            self.stats.heads_lost += 1
            self.tokens = []
        if self.tokens and self._holds:
            # Through a snapshot where the budget has room for one (made room for first,
            # and kept after): a copy beside the cache would add a head's worth of memory
            # for a moment (a gigabyte at Flow-Judge's size), over the budget.
            head = len(self.tokens)
            self._save()
            entry = self._snapshots.covering(self.tokens)
            if entry is not None:
                if load_state(self._lc, self._ctx, entry.data, entry.size):
                    self._snapshots.touch(entry)
                    self.tokens = list(entry.tokens)
                    self.trim(head)
                    return
            else:
                data, size = save_state(self._lc, self._ctx)
                if load_state(self._lc, self._ctx, data, size):
                    return
        self._lc.llama_memory_clear(self._memory, False)
        self.tokens = []

    def close(self) -> None:
        """Drop the snapshots."""
        self._snapshots.clear()

    def _save(self) -> None:
        """Keep a snapshot of the context holding just the head (nothing else may run)."""
        head = self.tokens
        if not head or not self._holds or self._snapshots.covers(head):
            return
        size = self._lc.llama_state_get_size(self._ctx)
        if not self._snapshots.fits(size):
            return
        self._snapshots.make_room(head, size)
        data, written = save_state(self._lc, self._ctx)
        self._snapshots.add(head, data, written)

    def _check_rule(self) -> None:
        """Find on this machine the finest granule on which a prompt cut into long pieces
        gets the floats it gets in one piece (prefix.py), or that none does; the head is
        saved first, and the context left empty."""
        self._holds = True  # for _save
        self._save()
        n_batch, long = self.rule.n_batch, self.rule.long
        tokens = [(i * 7919 + 13) % self._n_vocab for i in range(PROBE)]
        whole = self._probe(tokens, [], 0)
        found = None
        for granule in GRANULES:
            if n_batch % granule or n_batch < PROBE:
                continue
            cuts = sorted({long, long + granule, PROBE - long - granule, PROBE - long})
            if all(self._probe(tokens, [cut], 0) == whole for cut in cuts) and all(
                self._probe(tokens, [], cut) == whole for cut in (long + granule, PROBE - long)
            ):
                found = granule
                break
        self._lc.llama_memory_clear(self._memory, False)
        self.tokens = []
        self._holds = found is not None
        if found is not None:
            self.rule = PieceRule(n_batch, long, found)
            self.stats.rule = (
                f"pieces of {long}+ tokens cut on multiples of {found} evaluate alike here"
            )
        else:
            self.stats.rule = "pieces evaluate differently here: every prompt is evaluated in full"

    def _probe(self, tokens: list[int], cuts: list[int], reused: int) -> bytes:
        """The last token's logits for `tokens` evaluated from an empty context in pieces
        ending at `cuts`; with `reused`, evaluated whole first and again from there."""
        lc, end = self._lc, len(tokens)
        lc.llama_memory_clear(self._memory, False)
        if reused:
            self._decode([(tokens[p], p, 0, False) for p in range(end)])
            lc.llama_memory_seq_rm(self._memory, 0, reused, -1)
        bounds = [reused, *cuts, end]
        for start, stop in zip(bounds, bounds[1:], strict=False):
            self._decode([(tokens[p], p, 0, p == end - 1) for p in range(start, stop)])
        pointer = lc.llama_get_logits_ith(self._ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(self._n_vocab,)).tobytes()
