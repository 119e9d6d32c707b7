"""The head kept in the in-process context, and the snapshots of heads kept outside it.

The engine (engine.py) asks `Heads` how much of a prompt it may take from cells already
evaluated (`reuse`), and hands back a finished prompt's cells (`promote`). Which cells may
be reused and where a prompt is cut is prefix.py's rule; this class keeps to it and owns the
llama.cpp calls that move cells: the head in cells 0, 1, … of its own sequence, trimmed,
saved as a snapshot of the whole context, or put back from one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from edgejudge.runtime.prefix import (
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
    """The prompt head in the context (sequence `seq`) and the snapshots of others."""

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
        self._lc.llama_memory_seq_rm(self._memory, self.seq, length, -1)
        del self.tokens[length:]

    def promote(self, seq: int, tokens: Sequence[int], shared: int, cells: int) -> None:
        """Make a finished prompt's cells the head: it ran alone from the head (`shared`
        tokens of it), and its own cells hold its first `cells` positions."""
        end = min(self.rule.long_end(len(tokens)), cells)
        head = len(self.tokens)
        if self._holds is not False and head == shared < end:
            self._lc.llama_memory_seq_cp(self._memory, seq, self.seq, head, end)
            self.tokens = list(tokens[:end])

    def relay(self) -> None:
        """Lay the context out again as a fresh one: the head alone, from cell 0."""
        if self.tokens and self._holds:
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
        data, written = save_state(self._lc, self._ctx)
        self._snapshots.add(head, data, written)

    def _check_rule(self) -> None:
        """Check on this machine that a prompt cut into long pieces gets the floats it gets
        in one piece (prefix.py); the head is saved first, and the context left empty."""
        self._holds = True  # for _save
        self._save()
        lc = self._lc
        tokens = [(i * 7919 + 13) % self._n_vocab for i in range(PROBE)]
        long = self.rule.long
        results = []
        for cuts in ((0, PROBE), (0, long, PROBE), (0, 2 * long, PROBE)):
            lc.llama_memory_clear(self._memory, False)
            for start, end in zip(cuts, cuts[1:], strict=False):
                self._decode([(tokens[p], p, 0, p == PROBE - 1) for p in range(start, end)])
            pointer = lc.llama_get_logits_ith(self._ctx, -1)
            results.append(np.ctypeslib.as_array(pointer, shape=(self._n_vocab,)).tobytes())
        lc.llama_memory_clear(self._memory, False)
        self.tokens = []
        self._holds = results[0] == results[1] == results[2]
        self.stats.rule = (
            f"pieces of {long}+ tokens evaluate alike here"
            if self._holds
            else "pieces evaluate differently here: every prompt is evaluated in full"
        )
