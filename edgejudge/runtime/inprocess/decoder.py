"""The in-process decoding loop: llama.cpp's native samplers, several sequences per batch.

One worker thread owns the llama.cpp context. Each `generate` call becomes a sequence with
its own KV cells; every step decodes one token of every running sequence, plus a piece of a
waiting prompt, in one `llama_decode`.

A prompt starts from the longest head of it already evaluated (prefix.py): the head kept in
the context (the last prompt's, in cells 0, 1, 2, …) or a snapshot of one kept outside it.
Its cells are shared (`llama_memory_seq_cp` tags them; in the unified KV cache nothing is
copied), and the rest is evaluated in pieces cut where the floats stay those of the prompt
evaluated alone, so no verdict depends on what was judged before.

Sampling is llama.cpp's own sampler chain, so no step walks the vocabulary in Python; the
grammar is checked on the token picked first (samplers.py).

A generation asked to be kept keeps its sequence id and KV cells after it finishes, until
released: `logits_after` then evaluates other tokens at a point of it, on the generation's
own cells, so their probabilities are exactly what the generation saw there (see kept.py).
It does so in the kept sequence itself, after removing its cells from that point on: the
attention of a token also depends on how many cells the context holds beyond the ones it
sees (the CPU's flash-attention kernel sums in half precision, in chunks that follow the
cache's size), so a copy beside the intact sequence would not see exactly the same floats.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgejudge.errors import BrokenModelError, GenerationError
from edgejudge.runtime.base import Finished, Sampling
from edgejudge.runtime.inprocess.heads import Heads
from edgejudge.runtime.inprocess.kept import KeptSequence, Vocabulary
from edgejudge.runtime.inprocess.openmp import release_team
from edgejudge.runtime.inprocess.prefix import CacheStats
from edgejudge.runtime.inprocess.samplers import Picker, Samplers
from edgejudge.system.memory import DEFAULT_KV_TYPE

# KV cells a kept generation holds beyond its budget, for the tokens a branch evaluates.
BRANCH_ROOM = 32
# --kv-type's names (system.memory.KV_TYPES) as llama.cpp's ggml types
KV_GGML_TYPES = {"f16": "GGML_TYPE_F16", "q8_0": "GGML_TYPE_Q8_0"}


@dataclass
class _Request:
    """One generation: its prompt, limits, and where its pieces go."""

    tokens: list[int]
    grammar: str | None
    max_tokens: int
    sampling: Sampling
    keep: bool = False
    out: queue.SimpleQueue[bytes | Finished | BaseException] = field(
        default_factory=queue.SimpleQueue
    )
    cancelled: threading.Event = field(default_factory=threading.Event)
    taken: bool = False  # the caller received its Finished (and with it, a kept sequence)


@dataclass
class _Branch:
    """Tokens to evaluate one at a time after the first `start` cells of a kept sequence."""

    sequence: _Sequence
    start: int
    tokens: list[int]
    out: queue.SimpleQueue[np.ndarray | BaseException] = field(default_factory=queue.SimpleQueue)


@dataclass
class _Sequence:
    """A request while it holds a sequence id and KV cells."""

    request: _Request
    seq: int
    reserve: int  # KV cells kept for it: its own prompt tokens and its token budget
    done: int = 0  # prompt tokens already in the KV cache (the head it reused included)
    shared: int = 0  # prompt tokens it took from the head
    count: int = 0  # tokens generated
    last: int = -1  # the token to decode next, once the prompt is in
    picker: Picker | None = None  # its samplers
    generated: list[int] = field(default_factory=list)
    cells: int = -1  # once kept and evaluated again: how many of its cells are still its own

    @property
    def prefilling(self) -> bool:
        return self.done < len(self.request.tokens)


class Decoder:
    """Runs generations for one llama.cpp model, up to `slots` at once in shared batches."""

    def __init__(
        self,
        llama_cpp: Any,
        model: Any,
        *,
        n_ctx: int,
        n_batch: int,
        n_threads: int,
        slots: int,
        cache_bytes: int,
        kv_type: str = DEFAULT_KV_TYPE,
    ) -> None:
        self._lc = lc = llama_cpp
        self._vocab = lc.llama_model_get_vocab(model)
        self.n_ctx = n_ctx
        self.n_batch = n_batch
        self.slots = slots
        params = lc.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = params.n_ubatch = n_batch
        params.n_seq_max = slots + 2  # and the head, and its guard (heads.py)
        params.n_threads = params.n_threads_batch = n_threads
        # llama.cpp's own default (on wherever the backend has it). Attention then skips
        # the cells other sequences hold instead of multiplying them by a zero mask, which
        # keeps a prompt evaluated beside other judgments as fast as one evaluated alone.
        params.flash_attn_type = lc.LLAMA_FLASH_ATTN_TYPE_AUTO
        params.swa_full = True
        params.kv_unified = True  # one cell pool: sequences share the head's cells
        params.no_perf = True
        # The KV cache's type (--kv-type): llama.cpp's default f16, or q8_0 (quantised
        # values need flash attention, which AUTO turns on wherever the backend has it).
        params.type_k = params.type_v = getattr(lc, KV_GGML_TYPES[kv_type])
        self._ctx = lc.llama_init_from_model(model, params)
        if not self._ctx:
            raise GenerationError(f"llama.cpp could not create a context of {n_ctx} tokens")
        self.n_ctx = lc.llama_n_ctx(self._ctx)
        self._memory = lc.llama_get_memory(self._ctx)
        self._batch = lc.llama_batch_init(n_batch, 0, 1)
        self._n_vocab = lc.llama_vocab_n_tokens(self._vocab)
        self._samplers = Samplers(lc, self._vocab)
        self._pending: deque[_Request] = deque()
        self._running: list[_Sequence] = []
        self._kept: list[_Sequence] = []  # finished, cells kept until released
        self._branches: deque[_Branch] = deque()
        self._releases: list[_Sequence] = []
        self.vocabulary = Vocabulary(lc, self._vocab)
        self._heads = Heads(lc, self._ctx, seq=slots, n_batch=n_batch, budget=cache_bytes,
                            decode=self._decode)  # fmt: skip
        self._mixed = False  # sequences have run side by side since the cache was laid out
        self._check_numbers()
        self._wake = threading.Condition()
        self._stopping = False
        self._worker = threading.Thread(target=self._loop, name="edgejudge-llama", daemon=True)
        self._worker.start()

    # -- the callers' side ----------------------------------------------------------------

    @property
    def stats(self) -> CacheStats:
        """What the prefix cache did (heads.py)."""
        return self._heads.stats

    def generate(
        self,
        tokens: Sequence[int],
        *,
        grammar: str | None,
        max_tokens: int,
        sampling: Sampling,
        keep: bool = False,
    ) -> Iterator[bytes | Finished]:
        """Yield each generated token's bytes, then one `Finished`; with `keep`, its `kept`
        holds the sequence (its cells) until that is closed."""
        if not tokens:
            raise GenerationError("nothing to generate from: the prompt has no tokens")
        if len(tokens) + max_tokens > self.n_ctx:
            raise GenerationError(
                f"{len(tokens)} prompt tokens and {max_tokens} to generate do not fit in "
                f"the context of {self.n_ctx} tokens"
            )
        request = _Request(list(tokens), grammar, max_tokens, sampling, keep)
        with self._wake:
            if self._stopping:
                raise GenerationError("the model is closed")
            self._pending.append(request)
            self._wake.notify()
        try:
            while True:
                item = request.out.get()
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, Finished):
                    request.taken = True
                    yield item
                    return
                yield item
        finally:
            # A no-op once finished and taken; otherwise its cells are freed (a kept
            # sequence whose Finished never reached the caller too).
            request.cancelled.set()
            with self._wake:
                self._wake.notify()

    def logits_after(self, kept: _Sequence, at: int, path: Sequence[int]) -> np.ndarray:
        """The logits after a kept generation's prompt, its first `at` generated tokens, and
        `path`: the token before the point is evaluated again on the generation's own cells,
        then `path`, one token at a time as generation does. The generation's cells from the
        point on are given up: a later call can go back to an earlier point, not further."""
        prompt = kept.request.tokens
        if not 0 <= at <= len(kept.generated):
            raise GenerationError(f"no point {at} in a generation of {len(kept.generated)}")
        if len(path) >= BRANCH_ROOM:
            raise GenerationError(f"a branch of {len(path)} tokens is longer than the room kept")
        tokens = [*prompt, *kept.generated]
        start = len(prompt) + at - 1  # at 0: the prompt's last token, evaluated alone
        branch = _Branch(kept, start, [tokens[start], *path])
        with self._wake:
            if self._stopping or kept not in self._kept:
                raise GenerationError("the kept generation is gone")
            self._branches.append(branch)
            self._wake.notify()
        item = branch.out.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def release(self, kept: _Sequence) -> None:
        """Free a kept generation's sequence and cells."""
        with self._wake:
            self._releases.append(kept)
            self._wake.notify()

    def close(self) -> None:
        """Stop the worker, fail what is still waiting, and free the context."""
        with self._wake:
            if self._stopping:
                return
            self._stopping = True
            self._wake.notify()
        self._worker.join()
        lc = self._lc
        for sequence in self._running:
            self._free_samplers(sequence)
        self._samplers.close()
        self._heads.close()
        lc.llama_batch_free(self._batch)
        lc.llama_free(self._ctx)
        self._ctx = None

    # -- the worker -----------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._wake:
                if not self._stopping and not self._has_work():
                    release_team()  # an idle OpenMP team would slow other judges (openmp.py)
                while not self._stopping and not self._has_work():
                    self._wake.wait()
                if self._stopping:
                    break
            try:
                self._step()
            except Exception as exc:  # llama.cpp failed: every running sequence fails with it
                error = exc if isinstance(exc, GenerationError) else GenerationError(str(exc))
                for sequence in list(self._running):
                    self._finish(sequence, error)
        error = GenerationError("the model was closed while generating")
        for sequence in list(self._running):
            self._finish(sequence, error)
        while self._pending:
            self._pending.popleft().out.put(error)
        while self._branches:
            self._branches.popleft().out.put(error)

    def _check_numbers(self) -> None:
        """Evaluate one token and refuse a model whose scores are not numbers (NaN weights):
        llama.cpp's grammar sampler would abort the process on them."""
        lc = self._lc
        token = lc.llama_vocab_bos(self._vocab)
        try:
            self._decode([(token if token >= 0 else 0, 0, 0, True)])
            _finite(self._logits(0))
        finally:
            lc.llama_memory_seq_rm(self._memory, 0, -1, -1)

    def _logits(self, index: int) -> np.ndarray:
        """The scores at batch position `index` of the last decode, in place (not a copy)."""
        pointer = self._lc.llama_get_logits_ith(self._ctx, index)
        return np.ctypeslib.as_array(pointer, shape=(self._n_vocab,))

    def _has_work(self) -> bool:
        return bool(self._running or self._pending or self._branches or self._releases)

    def _step(self) -> None:
        for sequence in [s for s in self._running if s.request.cancelled.is_set()]:
            self._finish(sequence, None)
        if self._branches:
            self._evaluate_branch(self._branches.popleft())
        with self._wake:
            self._pending = deque(r for r in self._pending if not r.cancelled.is_set())
        self._admit()
        batch: list[tuple[int, int, int, bool]] = []  # token, position, sequence, wants logits
        outputs: list[tuple[_Sequence, int]] = []
        prompted = False  # whether the batch evaluates prompt tokens
        # A waiting prompt goes first, in pieces cut where its floats stay those of the
        # prompt evaluated alone (prefix.py).
        room = self.n_batch - sum(1 for s in self._running if s.last >= 0)
        for sequence in self._running:
            if not sequence.prefilling:
                continue
            tokens = sequence.request.tokens
            start = sequence.done
            end = self._heads.rule.next_end(start, len(tokens), room - len(batch))
            for position in range(start, end):
                batch.append((tokens[position], position, sequence.seq, False))
            prompted = prompted or end > start
            sequence.done = end
            if end == len(tokens):  # the last prompt token's logits give the first pick
                batch[-1] = (*batch[-1][:3], True)
                outputs.append((sequence, len(batch) - 1))
        for sequence in self._running:
            if sequence.last >= 0:
                position = len(sequence.request.tokens) + sequence.count - 1
                batch.append((sequence.last, position, sequence.seq, True))
                outputs.append((sequence, len(batch) - 1))
        if not batch:
            return
        started = time.perf_counter()
        self._decode(batch)
        if prompted:
            self._heads.stats.evaluation_seconds += time.perf_counter() - started
        for sequence, index in outputs:
            self._sample(sequence, index)

    def _settle_kept(self) -> int:
        """Free the kept sequences released, or whose Finished never reached the caller.
        Returns how many requests were waiting then: their callers' releases are all done
        (a caller gives back its last generation before it asks for the next)."""
        with self._wake:
            released, self._releases = self._releases, []
            waiting = len(self._pending)
        for sequence in self._kept:
            request = sequence.request
            if request.cancelled.is_set() and not request.taken:
                released.append(sequence)
        for sequence in released:
            if sequence in self._kept:
                self._kept.remove(sequence)
                self._retire(sequence, promote=True)
        return waiting

    def _evaluate_branch(self, branch: _Branch) -> None:
        lc, sequence = self._lc, branch.sequence
        try:
            if sequence not in self._kept:
                raise GenerationError("the kept generation was released")
            if 0 <= sequence.cells < branch.start:
                raise GenerationError("that point of the kept generation was given up")
            lc.llama_memory_seq_rm(self._memory, sequence.seq, branch.start, -1)
            sequence.cells = branch.start
            for offset, token in enumerate(branch.tokens):
                self._decode([(token, branch.start + offset, sequence.seq, True)])
            branch.out.put(self._logits(0).copy())
        except Exception as exc:  # this branch fails; generation goes on
            branch.out.put(exc if isinstance(exc, GenerationError) else GenerationError(str(exc)))
        finally:
            lc.llama_memory_seq_rm(self._memory, sequence.seq, branch.start, -1)

    def _decode(self, batch: list[tuple[int, int, int, bool]]) -> None:
        b = self._batch
        for i, (token, position, seq, logits) in enumerate(batch):
            b.token[i] = token
            b.pos[i] = position
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = logits
        b.n_tokens = len(batch)
        status = self._lc.llama_decode(self._ctx, b)
        if status != 0:
            raise GenerationError(f"llama_decode failed (status {status})")

    def _sample(self, sequence: _Sequence, index: int) -> None:
        assert sequence.picker is not None
        if sequence.count == 0:  # a prompt's first scores: numbers, or a broken model
            try:
                _finite(self._logits(index))
            except BrokenModelError as exc:
                self._finish(sequence, exc)
                return
        token = sequence.picker.pick(self._ctx, index)
        if self._lc.llama_vocab_is_eog(self._vocab, token):
            self._finish(sequence, Finished(sequence.count, "eos"))
            return
        sequence.count += 1
        sequence.generated.append(token)
        sequence.request.out.put(self._piece(token))
        if sequence.count >= sequence.request.max_tokens:
            self._finish(sequence, Finished(sequence.count, "length"))
            return
        sequence.last = token

    def _piece(self, token: int) -> bytes:
        return self.vocabulary.piece(token)

    # -- sequences and cells --------------------------------------------------------------

    def _admit(self) -> None:
        """Give waiting requests a sequence while ids and KV cells last.

        Only requests whose callers' earlier generations are given back are admitted: a
        kept sequence still holding its cells would move where the new one's cells go, and
        with them the floats of its attention (see the module's docstring).
        """
        admissible = self._settle_kept()
        if self._mixed and not self._running and not self._kept:
            # Where a new sequence's cells go depends on where freed cells lie, and after
            # sequences ran side by side that depends on the order they finished in; so do
            # the floats of its attention. The context is laid out again as a fresh one
            # is, the head in cells 0, 1, …: a judgment after a batch then gets the verdict
            # it gets alone.
            self._heads.relay()
            self._mixed = False
        while (
            admissible > 0 and self._pending and len(self._running) + len(self._kept) < self.slots
        ):
            request = self._pending[0]
            idle = not self._running and not self._kept
            shared = self._heads.reuse(request.tokens, idle)
            reserve = len(request.tokens) - shared + request.max_tokens
            if request.keep:  # what a branch evaluates, where the context has room for it
                reserve += min(BRANCH_ROOM, self.n_ctx - len(request.tokens) - request.max_tokens)
            held = self._running + self._kept
            free = self.n_ctx - len(self._heads.tokens) - sum(s.reserve for s in held)
            if reserve > free:
                if held or not self._heads.tokens:
                    return  # it waits for cells
                self._heads.trim(0)  # alone and still too big: the head gives its cells up
                continue
            self._pending.popleft()
            admissible -= 1
            self._mixed = self._mixed or bool(held)
            used = {s.seq for s in held}
            seq = next(i for i in range(self.slots) if i not in used)
            if shared:
                self._lc.llama_memory_seq_cp(self._memory, self._heads.seq, seq, 0, shared)
            sequence = _Sequence(request, seq, reserve, done=shared, shared=shared)
            self._heads.count(len(request.tokens), shared)
            self._running.append(sequence)
            try:
                self._make_samplers(sequence)
            except GenerationError as exc:  # this request fails; the others go on
                self._finish(sequence, exc)

    def _finish(self, sequence: _Sequence, outcome: Finished | BaseException | None) -> None:
        self._free_samplers(sequence)
        self._running.remove(sequence)
        if isinstance(outcome, Finished) and sequence.request.keep:
            self._kept.append(sequence)  # its cells stay until released
            kept = KeptSequence(self, sequence, tuple(sequence.generated))
            outcome = Finished(outcome.completion_tokens, outcome.stop_reason, kept)
        else:
            self._retire(sequence, promote=isinstance(outcome, Finished))
        if outcome is not None:
            sequence.request.out.put(outcome)

    def _retire(self, sequence: _Sequence, *, promote: bool) -> None:
        """Free a sequence's cells; those of its prompt become the head where they can (a
        finished prompt that ran alone: heads.py)."""
        if promote and not self._mixed and not self._running and not self._kept:
            cells = sequence.cells if sequence.cells >= 0 else len(sequence.request.tokens)
            self._heads.promote(sequence.seq, sequence.request.tokens, sequence.shared, cells)
        self._lc.llama_memory_seq_rm(self._memory, sequence.seq, -1, -1)

    def _make_samplers(self, sequence: _Sequence) -> None:
        request = sequence.request
        sequence.picker = self._samplers.picker(request.sampling, request.grammar)

    def _free_samplers(self, sequence: _Sequence) -> None:
        if sequence.picker is not None:
            sequence.picker.free()
            sequence.picker = None


def _finite(logits: np.ndarray) -> None:
    """`BrokenModelError` if a step's scores hold NaN."""
    if np.isnan(logits).any():
        raise BrokenModelError(
            "the model computes NaN (not a number) for its next-token scores: its weights "
            "are broken; download it again"
        )
