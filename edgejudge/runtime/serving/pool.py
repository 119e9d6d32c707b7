"""Several servers as one runtime: one batch spread over one llama-server per machine (or
several engines), each judgment sent to the server with the fewest in flight.

The servers must serve the same model (checked by name), so a prompt built by the first is
the same prompt on every one; the pool's slots are the sum of theirs, and a capability
holds for the pool only where it holds for every server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from edgejudge.core.formats.base import Message
from edgejudge.errors import ServerError
from edgejudge.runtime.base import Chunk, Prompt, Runtime, Sampling


class Pool:
    """Runtimes that serve the same model, used as one (see the module's docstring)."""

    prefix_cache = None
    can_restart = False

    def __init__(self, runtimes: Sequence[Runtime], served: Sequence[str]) -> None:
        if not runtimes:
            raise ValueError("a pool needs at least one runtime")
        if len(set(served)) > 1:
            for runtime in runtimes:
                runtime.close()
            raise ServerError(
                "the servers serve different models (" + ", ".join(served) + "); "
                "one batch needs the same model on every server"
            )
        self.runtimes = list(runtimes)
        self.model_name = runtimes[0].model_name
        self.context_length = min(r.context_length for r in runtimes)
        self.slots = sum(max(1, int(r.slots)) for r in runtimes)
        self.reports_probabilities = all(r.reports_probabilities for r in runtimes)
        self.enforces_grammar = all(r.enforces_grammar for r in runtimes)
        self._busy = [0] * len(runtimes)
        self._lock = threading.Lock()

    def prompt(self, messages: Sequence[Message]) -> Prompt:
        """The first server's prompt (the same model everywhere)."""
        return self.runtimes[0].prompt(messages)

    def continued(self, prompt: Prompt, text: str) -> Prompt | None:
        """The first server's continuation."""
        return self.runtimes[0].continued(prompt, text)

    def generate(
        self,
        prompt: Prompt,
        *,
        grammar: str | None,
        max_tokens: int,
        sampling: Sampling,
        keep: bool = False,
    ) -> Iterator[Chunk]:
        """Generate on the server with the fewest judgments in flight (per its slots)."""
        with self._lock:
            index = min(
                range(len(self.runtimes)),
                key=lambda i: (self._busy[i] / max(1, int(self.runtimes[i].slots)), i),
            )
            self._busy[index] += 1
        try:
            yield from self.runtimes[index].generate(
                prompt, grammar=grammar, max_tokens=max_tokens, sampling=sampling, keep=keep
            )
        finally:
            with self._lock:
                self._busy[index] -= 1

    def restart(self) -> None:
        """Not ours to restart."""
        raise ServerError("cannot restart servers edgejudge did not start")

    def close(self) -> None:
        """Close every server's runtime."""
        for runtime in self.runtimes:
            runtime.close()
