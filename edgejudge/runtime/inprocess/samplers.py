"""llama.cpp's native sampler chains for the decoder, and the grammar checked the cheap way.

The grammar is checked the way llama.cpp's common sampler does it: sample first, check only
the chosen token against the grammar, and apply the grammar to the whole vocabulary only
when that token is rejected. Under greedy decoding this picks exactly the token that
masking first would, at a fraction of the cost (the mask is 262,144 checks per step for
gemma-3).
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Any

import numpy as np

from edgejudge.errors import GenerationError
from edgejudge.runtime.base import Sampling
from edgejudge.runtime.numerics import MIN_P, REPEAT_LAST_N, TOP_K

# When the grammar rejects the greedy pick, these many likeliest tokens are checked before
# the whole vocabulary is.
BEST_FIRST = 1024
_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])


class Samplers:
    """Makes each sequence's `Picker`; keeps every grammar parsed once, for all of them."""

    def __init__(self, llama_cpp: Any, vocab: Any) -> None:
        self._lc = lc = llama_cpp
        self._vocab = vocab
        self.n_vocab = lc.llama_vocab_n_tokens(vocab)
        assert ctypes.sizeof(lc.llama_token_data) == _TOKEN_DATA.itemsize
        self._best = (lc.llama_token_data * BEST_FIRST)()
        self._best_array = lc.llama_token_data_array(
            data=self._best, size=BEST_FIRST, selected=-1, sorted=False
        )
        self._best_view = np.frombuffer(self._best, dtype=_TOKEN_DATA)  # the same memory
        self._grammars: dict[str, Any] = {}  # parsed once per text, cloned per sequence

    def picker(self, sampling: Sampling, grammar: str | None) -> Picker:
        """The samplers for one sequence (`GenerationError` if llama.cpp refuses the
        grammar)."""
        picker = Picker(self, sampling)
        picker.fast = self._chain(sampling, None)
        if grammar is not None:
            try:
                parsed = self._parsed(grammar)
            except GenerationError:
                picker.free()
                raise
            picker.grammar = self._lc.llama_sampler_clone(parsed)
            picker.full = self._chain(sampling, picker.grammar)
        return picker

    def allowed(self, grammar: Any, tokens: Sequence[int] | np.ndarray) -> np.ndarray:
        """Which of `tokens` the grammar admits next (its state is left as it is)."""
        view = self._best_view[: len(tokens)]
        view["id"], view["logit"], view["p"] = tokens, 0.0, 0.0
        self._best_array.size, self._best_array.selected = len(tokens), -1
        self._lc.llama_sampler_apply(grammar, ctypes.byref(self._best_array))
        return np.isfinite(view["logit"])

    def close(self) -> None:
        """Free the parsed grammars."""
        for sampler in self._grammars.values():
            self._lc.llama_sampler_free(sampler)
        self._grammars.clear()

    def _chain(self, sampling: Sampling, grammar: Any) -> Any:
        lc = self._lc
        chain = lc.llama_sampler_chain_init(lc.llama_sampler_chain_default_params())
        parts = [grammar] if grammar is not None else []
        if sampling.temperature <= 0:
            parts.append(lc.llama_sampler_init_greedy())
        else:
            if sampling.repeat_penalty != 1.0:
                parts.append(
                    # llama-cpp-python 0.3's llama.h still takes the vocabulary size first.
                    lc.llama_sampler_init_penalties(
                        self.n_vocab, REPEAT_LAST_N, sampling.repeat_penalty, 0.0, 0.0
                    )
                )
            parts += [
                lc.llama_sampler_init_top_k(TOP_K),
                lc.llama_sampler_init_top_p(sampling.top_p, 1),
                lc.llama_sampler_init_min_p(MIN_P, 1),
                lc.llama_sampler_init_temp(sampling.temperature),
                lc.llama_sampler_init_dist(sampling.seed),
            ]
        for part in parts:
            lc.llama_sampler_chain_add(chain, part)  # the chain owns and frees its parts
        return chain

    def _parsed(self, grammar: str) -> Any:
        if grammar not in self._grammars:
            sampler = self._lc.llama_sampler_init_grammar(
                self._vocab, grammar.encode("utf-8"), b"root"
            )
            if not sampler:
                raise GenerationError("llama.cpp rejected the grammar")
            self._grammars[grammar] = sampler
        return self._grammars[grammar]


class Picker:
    """One sequence's samplers: the chain without the grammar, and the same chain after the
    grammar for picks the grammar rejects."""

    def __init__(self, samplers: Samplers, sampling: Sampling) -> None:
        self._samplers = samplers
        self._lc = samplers._lc
        self._greedy = sampling.temperature <= 0
        self.fast: Any = None
        self.full: Any = None
        self.grammar: Any = None  # the grammar sampler inside `full`

    def pick(self, ctx: Any, index: int) -> int:
        """The next token from the logits at `index`, accepted by the grammar."""
        lc = self._lc
        token: int = lc.llama_sampler_sample(self.fast, ctx, index)
        grammar = self.grammar
        if grammar is None:
            return token
        if self._samplers.allowed(grammar, [token])[0]:
            lc.llama_sampler_accept(grammar, token)
            return token
        token = self._best_allowed(ctx, index)
        if token < 0:  # mask the whole vocabulary, then pick (this accepts it)
            return int(lc.llama_sampler_sample(self.full, ctx, index))
        lc.llama_sampler_accept(grammar, token)
        return token

    def _best_allowed(self, ctx: Any, index: int) -> int:
        """Under greedy decoding, the likeliest token the grammar admits, found among the
        BEST_FIRST likeliest; -1 if none of them is admitted (or sampling is not greedy).

        The likeliest admitted token is what masking the whole vocabulary and then taking
        the maximum would give, for a fraction of the checks.
        """
        if not self._greedy:
            return -1
        pointer = self._lc.llama_get_logits_ith(ctx, index)
        logits = np.ctypeslib.as_array(pointer, shape=(self._samplers.n_vocab,))
        best = np.argpartition(logits, -BEST_FIRST)[-BEST_FIRST:]
        best = best[np.lexsort((best, -logits[best]))]  # likeliest first; ties: lower id
        allowed = np.flatnonzero(self._samplers.allowed(self.grammar, best))
        return int(best[allowed[0]]) if len(allowed) else -1

    def free(self) -> None:
        """Free the chains (each owns its grammar sampler)."""
        for chain in (self.fast, self.full):
            if chain:
                self._lc.llama_sampler_free(chain)
        self.fast = self.full = self.grammar = None
