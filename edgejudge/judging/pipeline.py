"""The verdict pipeline: one judgment, from the messages a format wrote to a `JudgeResult`.

    messages -> the runtime's chat tokens -> (room in the context?) -> generate under the
    format's grammar, streaming the feedback -> an answer cut by the token budget is closed
    out and only its decision generated -> the format's strict parser -> the probability of
    every value the decision could take, on the generation kept for it -> JudgeResult

Every step asks the answer (`Answer`: a format bound to its metric, or a pairwise format)
or the runtime (`Runtime`) through their protocols, so a new family or a new runtime
changes nothing here. Prompts that share a head share its evaluation inside the runtime
(the in-process prefix cache), which changes nothing here either.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from edgejudge.core import Message, Verdict
from edgejudge.core.formats.base import Answer
from edgejudge.errors import Cancelled, ContextOverflowError
from edgejudge.judging.probabilities import decision_distribution
from edgejudge.judging.result import JudgeResult
from edgejudge.runtime.base import Finished, Kept, Prompt, Runtime, Sampling


@dataclass(frozen=True)
class Pipeline:
    """How one judge turns messages into a verdict: its runtime, the answer it parses (a
    format bound to a metric), the metric's name, and its budget.

    `grammar` is the verdict grammar, or None to generate unconstrained (the close-out then
    does not apply: there is no guarantee the answer has the shape to close).
    `probabilities`: measure the judge's probability for every value of its decision, where
    the runtime `reports_probabilities`.
    """

    runtime: Runtime
    answer: Answer
    metric: str
    grammar: str | None
    max_tokens: int
    sampling: Sampling
    probabilities: bool = False

    def run(
        self, messages: list[Message], cancelled: Callable[[], bool]
    ) -> Iterator[str | JudgeResult]:
        """Yield the feedback text as it is generated, then the `JudgeResult`.

        `cancelled` is asked after every chunk; when it says so, `Cancelled` is raised.
        """
        started = time.perf_counter()
        prompt = self.runtime.prompt(messages)
        needed = self.max_tokens + self.answer.close_out_reserve
        size = prompt.size
        if size is not None and size + needed > self.runtime.context_length:
            raise ContextOverflowError(size, needed, self.runtime.context_length)
        feedback = self.answer.feedback_stream()
        keep = self.probabilities and self.runtime.reports_probabilities
        raw, count, reason = "", 0, "eos"
        kept: Kept | None = None
        written = 0  # where the text of the kept generation starts in `raw`
        try:
            for chunk in self.runtime.generate(
                prompt,
                grammar=self.grammar,
                max_tokens=self.max_tokens,
                sampling=self.sampling,
                keep=keep,
            ):
                if isinstance(chunk, Finished):
                    count, reason, kept = chunk.completion_tokens, chunk.stop_reason, chunk.kept
                    size = size if size is not None else chunk.prompt_tokens
                    continue
                if cancelled():
                    raise Cancelled("the judgment was cancelled")
                raw += chunk
                text = feedback.feed(chunk)
                if text:
                    yield text
            truncated = False
            enforced = self.grammar is not None and self.runtime.enforces_grammar
            if reason == "length" and enforced:
                closed = self.answer.close_out(raw)
                going_on = self.runtime.continued(prompt, closed[0]) if closed else None
                if closed is not None and going_on is not None:
                    answer, truncated = closed
                    feedback.feed(answer[len(raw) :] if answer.startswith(raw) else "")
                    if kept is not None:
                        kept.close()
                    tail, extra, kept = self._decide(going_on, answer, keep)
                    raw, count, written = answer + tail, count + extra, len(answer)
            verdict = self.answer.parse(raw)
            if kept is not None:
                verdict = self._measured(verdict, raw, written, kept)
        finally:
            if kept is not None:
                kept.close()
        yield JudgeResult(
            verdict=verdict,
            raw=raw,
            prompt_tokens=size if size is not None else 0,
            completion_tokens=count,
            seconds=time.perf_counter() - started,
            model=self.runtime.model_name,
            metric=self.metric,
            truncated=truncated,
            enforced=enforced,
        )

    def _decide(self, prompt: Prompt, written: str, keep: bool) -> tuple[str, int, Kept | None]:
        """Generate only the decision after an answer closed early (`prompt` goes on from
        `written`); returns text, tokens and the generation kept (with `keep`)."""
        text, count, kept = "", 0, None
        for chunk in self.runtime.generate(
            prompt,
            grammar=self.answer.tail_grammar(written),
            max_tokens=self.answer.close_out_reserve,
            sampling=self.sampling,
            keep=keep,
        ):
            if isinstance(chunk, Finished):
                count, kept = chunk.completion_tokens, chunk.kept
            else:
                text += chunk
        return text, count, kept

    def _measured(self, verdict: Verdict, raw: str, written: int, kept: Kept) -> Verdict:
        """The verdict with the judge's distribution over its decision's values."""
        try:
            distribution = decision_distribution(self.answer, raw, written, kept)
        except ValueError:  # the runtime reported no probability for any value
            distribution = None
        return replace(verdict, distribution=distribution)
