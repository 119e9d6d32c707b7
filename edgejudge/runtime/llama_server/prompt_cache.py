"""When a llama.cpp server edgejudge started may reuse its prompt cache (`cache_prompt`).

llama-server keeps a slot's last prompt and answer in its cells; with `cache_prompt` a new
request reuses the longest prefix it shares with them and evaluates the rest in pieces of
`n_batch` counted from there. prefix.py's rule says when that leaves the floats of the
prompt evaluated alone: every cell reused was a prompt token evaluated in a long piece, the
reuse ends on the granule, and every piece evaluated now is long, as the in-process engine
keeps it. The server cuts where it cuts, so `SlotCache` asks for the cache only when the
server's own cut keeps the rule, and otherwise has the prompt evaluated in full. The
granule is this x86 build's (prefix.py); the in-process engine checks its own.

It applies only to a server edgejudge started with one slot (every request goes to the one
slot, whose contents are known here) and without llama-server's memory cache of other
prompts (`--cache-ram 0`), which would put back cells of prompts this class never saw.
"""

from __future__ import annotations

from collections.abc import Sequence

from edgejudge.runtime.inprocess.prefix import CacheStats, PieceRule, common_prefix


class SlotCache:
    """What one server slot's cells hold, and whether a prompt may reuse them."""

    def __init__(self, n_batch: int, *, enabled: bool) -> None:
        self.rule = PieceRule(n_batch)
        self.enabled = enabled
        self.stats = CacheStats(
            rule="the server's cut is checked on each prompt" if enabled else "off"
        )
        self._prompt: list[int] = []  # the slot's last prompt (its answer follows it)
        self._valid = 0  # its first tokens evaluated as prompt, in long pieces

    def reuse(self, tokens: Sequence[int]) -> bool:
        """Whether to send `tokens` with `cache_prompt`: the server will reuse exactly the
        valid head it shares with them and evaluate the rest in long pieces."""
        if not self.enabled:
            return False
        shared = common_prefix(self._prompt, tokens)
        length = len(tokens)
        # Nothing shared; cells evaluated in a short piece; or the whole last prompt, whose
        # answer's cells (and its last token, evaluated again for the probabilities) the
        # server would reuse too.
        if shared == 0 or shared > self._valid or shared in (len(self._prompt), length):
            return False
        if shared % self.rule.granule:
            return False  # the server's pieces would start between two groups of tokens
        if self.rule.long_end(length) != length:
            return False  # evaluated alone, its last piece is short: only a cold cut gives it
        last = (length - shared) % self.rule.n_batch or self.rule.n_batch
        return last >= self.rule.long

    def after(self, tokens: Sequence[int], reused: bool, evaluated: int | None) -> None:
        """Record a finished request: its prompt, whether it reused the cache, and how many
        prompt tokens the server says it evaluated."""
        self._prompt = list(tokens)
        self._valid = len(tokens) if reused else self.rule.long_end(len(tokens))
        stats = self.stats
        stats.prompts += 1
        stats.prompt_tokens += len(tokens)
        if evaluated is not None and evaluated < len(tokens):
            stats.reused_tokens += len(tokens) - evaluated
            stats.hits += 1
