"""A scripted runtime: the judge pipeline without a model, a judgment in microseconds.

Passed to `Judge(None, metric, runtime=FakeRuntime(...))` like any runtime (as simonw/llm's
tests register a `MockModel`), so the pipeline, close-out, cancel, ordering and the restart
scheduler run exactly as they do on llama.cpp; only the model's words are made up. A token
is one character: a prompt's tokens are its code points, and an answer is generated one
character at a time, so `max_tokens` cuts it exactly where a test says.

It stands in for llama.cpp only where the model is not what a test is about; the judge path
itself is proved on the real demo model in real llama.cpp (tests/test_judge_model.py ...).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence

from edgejudge.core import Message
from edgejudge.core.probabilities import END, Candidate, NextTokens
from edgejudge.errors import ServerError, ServerGoneError
from edgejudge.runtime.base import Chunk, Finished, Prompt, Sampling, TokenPrompts, token_ids

# What the "model" answers: (the whole prompt as text, the grammar or None) -> the answer.
Answer = Callable[[str, str | None], str]
# The "model's" next-character probabilities after a text it generated ("" is ending).
NextChars = Callable[[str], dict[str, float]]


class FakeKept:
    """A kept scripted generation: its tokens are its characters."""

    tops: tuple[int, ...] = (0,)

    def __init__(self, text: str, next_chars: NextChars) -> None:
        self.text = text
        self.tokens = tuple(ord(c) for c in text)
        self.next_chars = next_chars
        self.asked: list[str] = []
        self.closed = False

    def piece(self, index: int) -> bytes:
        """One character's bytes."""
        return self.text[index].encode("utf-8")

    def next(
        self,
        at: int,
        path: Sequence[int],
        wanted: frozenset[bytes],
        *,
        end: bool,
        top: int,
    ) -> NextTokens:
        """The scripted probabilities of the wanted characters after the point and path."""
        before = self.text[:at] + "".join(chr(t) for t in path)
        self.asked.append(before)
        chances = self.next_chars(before)
        found = [
            Candidate(ord(c), c.encode("utf-8"), p)
            for c, p in chances.items()
            if c and c.encode("utf-8") in wanted
        ]
        if end and "" in chances:
            found.append(Candidate(0, END, chances[""]))
        return NextTokens(tuple(found))

    def close(self) -> None:
        """Nothing to free."""
        self.closed = True


class FakeRuntime(TokenPrompts):
    """A runtime whose answers come from `answer`; it can die and be restarted on cue."""

    model_name = "fake"
    enforces_grammar = True

    def __init__(
        self,
        answer: Answer | str,
        *,
        context_length: int = 8192,
        slots: int = 1,
        can_restart: bool = False,
        die_on_calls: Sequence[int] = (),
        next_chars: NextChars | None = None,
    ) -> None:
        """`die_on_calls`: the 1-based generate calls at which "the server" dies; every
        generation then fails with `ServerGoneError` until `restart`. `next_chars` scripts
        the probabilities a kept generation reports (none are reported without it)."""
        self.answer: Answer = answer if callable(answer) else (lambda _prompt, _grammar: answer)
        self.context_length = context_length
        self.slots = slots
        self.can_restart = can_restart
        self.die_on_calls = set(die_on_calls)
        self.next_chars = next_chars
        self.reports_probabilities = next_chars is not None
        self.kept: list[FakeKept] = []
        self.prompts: list[str] = []  # every generation's prompt, in the order they started
        self.prefix_cache = None
        self.restarts = 0
        self.closed = False
        self._down = threading.Event()
        self._lock = threading.Lock()

    # -- tokens -----------------------------------------------------------------------------

    def chat_tokens(self, messages: Sequence[Message] | str) -> list[int]:
        """A stand-in chat template around the messages, as code points."""
        turns = [Message("user", messages)] if isinstance(messages, str) else messages
        text = "".join(f"<|{m.role}|>{m.content}" for m in turns) + "<|assistant|>"
        return [ord(c) for c in text]

    def text_tokens(self, text: str) -> list[int]:
        """Plain text as code points."""
        return [ord(c) for c in text]

    # -- generating -------------------------------------------------------------------------

    def generate(
        self,
        tokens: Prompt | Sequence[int],
        *,
        grammar: str | None,
        max_tokens: int,
        sampling: Sampling,
        keep: bool = False,
    ) -> Iterator[Chunk]:
        """The scripted answer one character per token, cut at `max_tokens`."""
        prompt = "".join(chr(t) for t in token_ids(tokens))
        with self._lock:
            self.prompts.append(prompt)
            if len(self.prompts) in self.die_on_calls:
                self._down.set()
        text = self.answer(prompt, grammar)
        for char in text[:max_tokens]:
            if self._down.is_set():
                raise ServerGoneError("the fake server died")
            yield char
        if self._down.is_set():
            raise ServerGoneError("the fake server died")
        cut = len(text) > max_tokens
        kept = None
        if keep and self.next_chars is not None:
            kept = FakeKept(text[:max_tokens], self.next_chars)
            self.kept.append(kept)
        yield Finished(min(len(text), max_tokens), "length" if cut else "eos", kept)

    # -- capabilities -----------------------------------------------------------------------

    def kill(self) -> None:
        """The server dies now: generations in flight and new ones fail until `restart`."""
        self._down.set()

    def restart(self) -> None:
        """Come back after dying (only where `can_restart`)."""
        if not self.can_restart:
            raise ServerError("the fake server cannot be restarted")
        self.restarts += 1
        self._down.clear()

    def close(self) -> None:
        """Nothing to free."""
        self.closed = True
