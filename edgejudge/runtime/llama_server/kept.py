"""A kept server generation: next-token probabilities from a llama.cpp server's `n_probs`.

After a generation, the server's slot holds its prompt and generated tokens in its cache. A
request for the prompt, the first tokens of the answer and a path, with `cache_prompt`, goes
to the slot whose cache shares the most with it (llama-server's choice), which is that slot
while it is idle, and evaluates only what differs: the last token again, on the generation's
own cells, then the path. (Pinning the request to the slot with `id_slot` would guarantee
it, but llama-server 0.3.36 can leave a pinned request waiting forever when its slot is
taken by another: seen with four slots.) Where another judgment took the slot meanwhile,
the prompt is evaluated again elsewhere and the floats may differ slightly. The answer's
first token's `top_logprobs` (the model's own probabilities, before any sampler) list the
likeliest tokens with their ids and bytes.

The server lists only the `top` likeliest tokens, so a value may be missing: the search asks
again with a larger `top` (`tops`) while a missing value could matter, and reports the
distribution as incomplete if it still cannot find it. A token the server lists with no
bytes is taken as one that ends the generation (the server writes control tokens as nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from edgejudge.core.probabilities import NextTokens
from edgejudge.errors import GenerationError
from edgejudge.runtime.base import listed_next

# How many likeliest tokens to ask for, in turn, while a value is missing.
TOPS = (64, 1024, 16384)


class _Server(Protocol):
    def post(self, path: str, body: dict[str, Any]) -> Any: ...


class KeptSlot:
    """A finished server generation, kept in its slot: see `edgejudge.runtime.base.Kept`."""

    tops: tuple[int, ...] = TOPS

    def __init__(self, server: _Server, prompt: list[int], tokens: tuple[int, ...]) -> None:
        self._server = server
        self._prompt = prompt
        self.tokens = tokens

    def piece(self, index: int) -> bytes:
        """The bytes of generated token `index` (`/detokenize`)."""
        body = self._server.post("/detokenize", {"tokens": [self.tokens[index]]})
        return str(body.get("content", "")).encode("utf-8")

    def next(
        self,
        at: int,
        path: Sequence[int],
        wanted: frozenset[bytes],
        *,
        end: bool,
        top: int,
    ) -> NextTokens:
        """The wanted tokens among the server's `top` likeliest after `at` generated tokens
        and `path`, and the most a token it did not list can have."""
        body = self._server.post(
            "/completion",
            {
                "prompt": [*self._prompt, *self.tokens[:at], *path],
                "n_predict": 1,
                "n_probs": top,
                "temperature": 0,
                "cache_prompt": True,  # the generation's own cells, in its slot
            },
        )
        listed = _top_logprobs(body)
        entries = ((int(e["id"]), bytes(e.get("bytes") or []), float(e["logprob"])) for e in listed)
        return listed_next(entries, wanted, end=end, top=top)

    def close(self) -> None:
        """Nothing to give back: the slot's cache is the server's to manage."""


def _top_logprobs(body: Any) -> list[dict[str, Any]]:
    """The `top_logprobs` of a one-token completion's first token."""
    try:
        listed = list(body["completion_probabilities"][0]["top_logprobs"])
        for entry in listed:
            int(entry["id"]), float(entry["logprob"])
        return listed
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise GenerationError(f"the server reported no token probabilities ({exc})") from None
