"""A kept in-process generation: the next-token probabilities at any point of it.

`Decoder.logits_after` evaluates the tokens on the generation's own KV cells; this module
turns the logits into probabilities (softmax over the whole vocabulary, temperature 1) and
finds every token whose bytes are wanted, through an index of the vocabulary's pieces that
is built once per model, the first time it is needed (~0.5 s for 262k tokens).
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from edgejudge.core.probabilities import END, Candidate, NextTokens


class Vocabulary:
    """Token pieces (their bytes) and end-of-generation tokens, for one model."""

    def __init__(self, llama_cpp: Any, vocab: Any) -> None:
        self._lc = llama_cpp
        self._vocab = vocab
        self._lock = threading.Lock()
        self._index: dict[bytes, list[int]] | None = None
        self._eog: list[int] = []

    def piece(self, token: int) -> bytes:
        """The bytes `token` stands for (nothing for a control token)."""
        buffer = ctypes.create_string_buffer(64)
        n = self._lc.llama_token_to_piece(self._vocab, token, buffer, len(buffer), 0, False)
        if n < 0:
            buffer = ctypes.create_string_buffer(-n)
            n = self._lc.llama_token_to_piece(self._vocab, token, buffer, len(buffer), 0, False)
        return buffer.raw[:n]

    def tokens_for(self, piece: bytes) -> list[int]:
        """Every token whose bytes are `piece` (a digit may have a byte token beside it)."""
        return self._built().get(piece, [])

    def end_tokens(self) -> list[int]:
        """The tokens that end a generation (end of turn, end of text)."""
        self._built()
        return self._eog

    def _built(self) -> dict[bytes, list[int]]:
        with self._lock:
            if self._index is None:
                lc, vocab = self._lc, self._vocab
                index: dict[bytes, list[int]] = {}
                for token in range(lc.llama_vocab_n_tokens(vocab)):
                    index.setdefault(self.piece(token), []).append(token)
                    if lc.llama_vocab_is_eog(vocab, token):
                        self._eog.append(token)
                self._index = index
            return self._index


class _Decoder(Protocol):
    vocabulary: Vocabulary

    def logits_after(self, kept: Any, at: int, path: Sequence[int]) -> np.ndarray: ...

    def release(self, kept: Any) -> None: ...


class KeptSequence:
    """A finished in-process generation, kept: see `edgejudge.runtime.base.Kept`."""

    tops: tuple[int, ...] = (0,)  # every token asked for is found: one search is enough

    def __init__(self, decoder: _Decoder, sequence: Any, tokens: tuple[int, ...]) -> None:
        self._decoder = decoder
        self._sequence = sequence
        self.tokens = tokens
        self._closed = False

    def piece(self, index: int) -> bytes:
        """The bytes of generated token `index`."""
        return self._decoder.vocabulary.piece(self.tokens[index])

    def next(
        self,
        at: int,
        path: Sequence[int],
        wanted: frozenset[bytes],
        *,
        end: bool,
        top: int,
    ) -> NextTokens:
        """Every token with wanted bytes (and every end token when `end`), with the model's
        probability for it after `at` generated tokens and `path`."""
        logits = self._decoder.logits_after(self._sequence, at, path).astype(np.float64)
        logits -= logits.max()
        np.exp(logits, out=logits)
        probabilities = logits / logits.sum()
        vocabulary = self._decoder.vocabulary
        found = [
            Candidate(token, piece, float(probabilities[token]))
            for piece in sorted(wanted)
            for token in vocabulary.tokens_for(piece)
        ]
        if end:
            found += [
                Candidate(token, END, float(probabilities[token]))
                for token in vocabulary.end_tokens()
            ]
        return NextTokens(tuple(found))

    def close(self) -> None:
        """Free the generation's sequence and cells."""
        if not self._closed:
            self._closed = True
            self._decoder.release(self._sequence)
