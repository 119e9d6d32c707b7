"""The one small protocol every runtime implements.

A runtime turns a user message into prompt tokens (through the model's own chat template)
and generates text for tokens under an optional GBNF grammar. It knows nothing of judges,
metrics or verdicts; `edgejudge.judging` does that on top of any runtime.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from edgejudge.core.formats.base import Message
from edgejudge.core.probabilities import END, Candidate, NextTokens
from edgejudge.runtime.numerics import REPEAT_PENALTY, TOP_P

if TYPE_CHECKING:
    from edgejudge.runtime.inprocess.prefix import CacheStats


@dataclass(frozen=True)
class Sampling:
    """How to pick tokens. Temperature 0 is greedy and deterministic (top_p and the repeat
    penalty then do nothing)."""

    temperature: float = 0.0
    seed: int = 0
    top_p: float = TOP_P
    repeat_penalty: float = REPEAT_PENALTY  # 1.0: none; over the last REPEAT_LAST_N tokens


@dataclass(frozen=True)
class Prompt:
    """What a runtime generates after: the judge's messages, and any answer text already
    written that the generation continues (the close-out of an answer cut by its budget).

    A runtime that builds prompts itself (llama.cpp, in-process or a server's native API)
    puts the prompt's `tokens` here, through the model's chat template; a serving engine
    that applies the template on its side leaves them None, and `size` says how many
    tokens the engine counted, where it can say before generating.
    """

    messages: tuple[Message, ...]
    written: str = ""
    tokens: tuple[int, ...] | None = None
    counted: int | None = None

    @property
    def size(self) -> int | None:
        """The prompt's length in tokens, where known before generating."""
        return len(self.tokens) if self.tokens is not None else self.counted


def token_ids(prompt: Prompt | Sequence[int]) -> Sequence[int]:
    """The tokens of a prompt a token runtime built (or plain token ids, as tests pass)."""
    if isinstance(prompt, Prompt):
        if prompt.tokens is None:
            raise ValueError("this prompt has no tokens: another runtime built it")
        return prompt.tokens
    return prompt


class TokenPrompts:
    """`prompt` and `continued` for a runtime that makes tokens itself (`chat_tokens`,
    `text_tokens`): both llama.cpp runtimes."""

    def chat_tokens(self, messages: Sequence[Message] | str) -> list[int]:
        """The prompt tokens for `messages`, through the model's chat template."""
        raise NotImplementedError

    def text_tokens(self, text: str) -> list[int]:
        """Tokens for plain text appended to a prompt (special-token text stays text)."""
        raise NotImplementedError

    def prompt(self, messages: Sequence[Message]) -> Prompt:
        """The prompt for `messages`, as tokens."""
        return Prompt(tuple(messages), tokens=tuple(self.chat_tokens(messages)))

    def continued(self, prompt: Prompt, text: str) -> Prompt:
        """`prompt` followed by answer text already written."""
        return replace(
            prompt,
            written=prompt.written + text,
            tokens=(*token_ids(prompt), *self.text_tokens(text)),
        )


class Kept(Protocol):
    """A finished generation kept so that what else the model could have written can be
    scored: the next-token probabilities at any point of it, along any path of tokens.

    In-process the generation's own KV cells are kept, so the probabilities at a point of
    the answer are exactly those the generation saw there; a server keeps them in its slot
    and its prompt cache. `close` gives them back.
    """

    tokens: tuple[int, ...]  # the tokens generated
    # The `top` values an oracle that sees only the likeliest tokens is asked with in turn
    # while a value is missing; (0,) for one that finds every token asked for.
    tops: tuple[int, ...]

    def piece(self, index: int) -> bytes:
        """The bytes of generated token `index`."""
        ...

    def next(
        self,
        at: int,
        path: Sequence[int],
        wanted: frozenset[bytes],
        *,
        end: bool,
        top: int,
    ) -> NextTokens:
        """After the first `at` generated tokens and then `path`: the probability of every
        token whose bytes are in `wanted` (and of ending the generation, when `end`)."""
        ...

    def close(self) -> None:
        """Give back what was kept."""
        ...


def listed_next(
    listed: Iterable[tuple[int, bytes, float]],
    wanted: frozenset[bytes],
    *,
    end: bool,
    top: int,
    ends: frozenset[bytes] = frozenset({b""}),
) -> NextTokens:
    """`Kept.next` from a server's list of its likeliest next tokens, each (token, bytes,
    log-probability): the wanted ones, and those in `ends` as the end of the generation when
    `end`; the most a token not listed can have is the least listed probability where the
    list is full (`top` long), else 0."""
    found: list[Candidate] = []
    least = math.inf
    count = 0
    for token, piece, logprob in listed:
        count += 1
        least = min(least, logprob)
        if piece in ends:
            if end:
                found.append(Candidate(token, END, math.exp(logprob)))
        elif piece in wanted:
            found.append(Candidate(token, piece, math.exp(logprob)))
    return NextTokens(tuple(found), math.exp(least) if count and count >= top else 0.0)


@dataclass(frozen=True)
class Finished:
    """The last item a generation yields: how many tokens it made and why it stopped, and
    the generation itself when it was asked to be kept (and the runtime can)."""

    completion_tokens: int
    stop_reason: str  # "eos": the model (or grammar) ended it; "length": the budget ran out
    kept: Kept | None = None
    prompt_tokens: int | None = None  # as an engine counted them, where the prompt had none


Chunk = str | Finished


class Runtime(Protocol):
    """Generates text from a loaded model.

    What a runtime may offer beyond generating is declared, not discovered: `slots` (how
    many generations it takes at once), `prefix_cache` (what its prompt-head cache did, where
    it has one), `can_restart` (whether `restart` can bring back a server
    that died) and `reports_probabilities` (whether `generate(keep=True)` keeps the
    generation for scoring what else it could have written), `enforces_grammar` (whether
    the grammar given to `generate` binds the answer: False for an engine with no grammar
    field, whose answers are then only parsed). A runtime without a capability still has
    the method, which raises (`restart`), or the argument,
    which it ignores (`keep`, `grammar`).
    """

    model_name: str
    context_length: int

    @property
    def slots(self) -> int:
        """How many generations it takes at once (a batch in-process, a server's slots)."""
        ...

    @property
    def prefix_cache(self) -> CacheStats | None:
        """What its cache of evaluated prompt heads did; None where it keeps none."""
        ...

    @property
    def can_restart(self) -> bool:
        """Whether `restart` can bring the runtime back after it died (a server we started)."""
        ...

    @property
    def reports_probabilities(self) -> bool:
        """Whether `generate(keep=True)` ends with a `Finished` whose `kept` scores tokens."""
        ...

    @property
    def enforces_grammar(self) -> bool:
        """Whether the grammar `generate` is given binds what it writes."""
        ...

    def restart(self) -> None:
        """Start again after dying mid-generation (only where `can_restart`)."""
        ...

    def prompt(self, messages: Sequence[Message]) -> Prompt:
        """The prompt for `messages` (a system prompt, the user turn) through the model's
        chat template: its markup as special tokens, every content as plain text (where the
        runtime builds the tokens; an engine applies the template on its side)."""
        ...

    def continued(self, prompt: Prompt, text: str) -> Prompt | None:
        """`prompt` with answer text already written after it, for the generation to go on
        from; None where the runtime cannot continue an answer."""
        ...

    def generate(
        self,
        prompt: Prompt,
        *,
        grammar: str | None,
        max_tokens: int,
        sampling: Sampling,
        keep: bool = False,
    ) -> Iterator[Chunk]:
        """Yield text pieces as they are generated, then one `Finished` (carrying the kept
        generation when `keep` and the runtime `reports_probabilities`; the caller closes
        it)."""
        ...

    def close(self) -> None:
        """Free the model."""
        ...
