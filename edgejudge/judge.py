"""The Python API: a `Judge` is a model, a metric and a runtime, used as a context manager.

from edgejudge import Judge
with Judge(model="demo", metric="response-faithfulness-5point") as judge:
    result = judge.evaluate({"query": "…", "context": "…", "response": "…"})
    print(result.score, result.feedback)
"""

from __future__ import annotations

import copy
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from edgejudge.core import EvalInput, JudgeFormat, Metric, coerce_input, get_format
from edgejudge.errors import (
    Cancelled,
    ContextOverflowError,
    EdgeJudgeError,
    ModelLoadError,
    ParseError,
)
from edgejudge.metric_files import resolve_metric
from edgejudge.runtime.base import Finished, Runtime, Sampling
from edgejudge.store import resolve_model

DEFAULT_MAX_TOKENS = 512
DEFAULT_FAMILY = "flow-judge"
# Room kept in the context for finishing an answer stopped by the token budget: the score
# and `</score>` after the closed feedback are a few tokens in any vocabulary we ship.
CLOSE_OUT_RESERVE = 16
# Characters the grammar allows in the feedback per token of budget; generous on purpose,
# since the token budget (not this) is meant to be what ends an over-long feedback.
CHARS_PER_TOKEN_BOUND = 8


def verdict_grammar(judge_format: JudgeFormat, metric: Metric, max_tokens: int) -> str:
    """The grammar for `metric`'s verdicts, its feedback bound sized to the token budget."""
    return judge_format.grammar(metric, max_feedback_chars=max_tokens * CHARS_PER_TOKEN_BOUND)


@dataclass(frozen=True)
class JudgeResult:
    """One verdict and how it was reached."""

    feedback: str
    score: int
    raw: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    model: str
    metric: str
    truncated: bool = False  # the feedback hit the token budget and was closed early

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)


class Judge:
    """A judge model applying one metric. Use as a context manager to free the model."""

    def __init__(
        self,
        model: str | os.PathLike[str],
        metric: Metric | str | os.PathLike[str],
        *,
        runtime: Runtime | None = None,
        family: str | None = None,
        context_length: int | None = None,
        n_gpu_layers: int | None = None,
        n_threads: int | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float = 0.0,
        seed: int = 0,
        grammar: bool = True,
        verbose: bool = False,
        download: bool = False,
    ) -> None:
        """Open `model` (a catalog name or a .gguf path) to judge with `metric`.

        A catalog model that is not on disk is downloaded only when `download` is True;
        otherwise `ModelNotFoundError` says how to get it. `family` overrides the catalog's
        judge format (prompt, grammar and parser).
        """
        if max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        self.metric = resolve_metric(metric)
        self._owns_runtime = runtime is None
        local = None if runtime is not None else resolve_model(model, download=download)
        entry = local.entry if local else None
        if local and entry and entry.kind == "llamafile":
            raise ModelLoadError(
                f"{entry.name!r} is a llamafile executable, which the in-process runtime "
                f"cannot load; use a GGUF build of the same model (e.g. flow-judge-v0.1)",
                str(local.path),
            )
        # The format is checked before the (slow) model load.
        self.format = get_format(family or (entry.family if entry else DEFAULT_FAMILY))
        if local is not None:
            from edgejudge.runtime.llama_cpp import LlamaCppRuntime

            runtime = LlamaCppRuntime(
                local.path,
                context_length=context_length or (entry.context_length if entry else None),
                n_gpu_layers=n_gpu_layers,
                n_threads=n_threads,
                model_name=local.name,
                verbose=verbose,
            )
        assert runtime is not None
        self.runtime = runtime
        self.max_tokens = max_tokens
        self.sampling = Sampling(temperature=temperature, seed=seed)
        self.use_grammar = grammar
        self._grammar = verdict_grammar(self.format, self.metric, max_tokens)
        self._lock = threading.Lock()
        self._cancel = threading.Event()

    def with_metric(self, metric: Metric | str | os.PathLike[str]) -> Judge:
        """A judge applying `metric` on this judge's loaded model, without reloading it.

        It shares the model, its lock and `cancel`; closing it leaves the model open.
        """
        other = copy.copy(self)
        other.metric = resolve_metric(metric)
        other._grammar = verdict_grammar(self.format, other.metric, self.max_tokens)
        other._owns_runtime = False
        return other

    def cancel(self) -> None:
        """Stop the judgment now generating (from another thread); it raises `Cancelled`.

        Has no effect when nothing is generating.
        """
        if self._lock.locked():
            self._cancel.set()

    # -- what would be sent -------------------------------------------------------------

    def prompt(self, item: EvalInput | dict[str, Any]) -> str:
        """The exact user message the judge is given for `item`."""
        return self.format.render_prompt(self.metric, coerce_input(item, self.metric))

    @property
    def grammar(self) -> str:
        """The GBNF grammar that forces this metric's verdict format."""
        return self._grammar

    # -- judging ------------------------------------------------------------------------

    def stream(self, item: EvalInput | dict[str, Any]) -> Iterator[str | JudgeResult]:
        """Yield the feedback text as it is generated, then the `JudgeResult`."""
        message = self.prompt(item)
        with self._lock:
            self._cancel.clear()
            started = time.perf_counter()
            tokens = self.runtime.chat_tokens(message)
            needed = self.max_tokens + CLOSE_OUT_RESERVE
            if len(tokens) + needed > self.runtime.context_length:
                raise ContextOverflowError(len(tokens), needed, self.runtime.context_length)
            feedback = self.format.feedback_stream()
            raw, count, reason = "", 0, "eos"
            for chunk in self.runtime.generate(
                tokens,
                grammar=self.grammar if self.use_grammar else None,
                max_tokens=self.max_tokens,
                sampling=self.sampling,
            ):
                if isinstance(chunk, Finished):
                    count, reason = chunk.completion_tokens, chunk.stop_reason
                    continue
                if self._cancel.is_set():
                    raise Cancelled("the judgment was cancelled")
                raw += chunk
                text = feedback.feed(chunk)
                if text:
                    yield text
            truncated = False
            if reason == "length" and self.use_grammar:
                closed = self.format.close_out(raw)
                if closed is not None:
                    answer, truncated = closed
                    feedback.feed(answer[len(raw) :] if answer.startswith(raw) else "")
                    tail, extra = self._finish(tokens, answer)
                    raw, count = answer + tail, count + extra
            verdict = self.format.parse(raw, self.metric)
            yield JudgeResult(
                feedback=verdict.feedback,
                score=verdict.score,
                raw=raw,
                prompt_tokens=len(tokens),
                completion_tokens=count,
                seconds=time.perf_counter() - started,
                model=self.runtime.model_name,
                metric=self.metric.name,
                truncated=truncated,
            )

    def _finish(self, prompt: list[int], written: str) -> tuple[str, int]:
        """Generate only the score after an answer closed early; returns text and tokens."""
        tokens = prompt + self.runtime.text_tokens(written)
        text, count = "", 0
        for chunk in self.runtime.generate(
            tokens,
            grammar=self.format.tail_grammar(self.metric),
            max_tokens=CLOSE_OUT_RESERVE,
            sampling=self.sampling,
        ):
            if isinstance(chunk, Finished):
                count = chunk.completion_tokens
            else:
                text += chunk
        return text, count

    def evaluate(self, item: EvalInput | dict[str, Any]) -> JudgeResult:
        """Judge one input and return the verdict."""
        for piece in self.stream(item):
            if isinstance(piece, JudgeResult):
                return piece
        raise ParseError("the judge produced no result", "")  # pragma: no cover

    def evaluate_many(
        self, items: Iterable[EvalInput | dict[str, Any]], *, return_exceptions: bool = False
    ) -> Iterator[JudgeResult | EdgeJudgeError]:
        """Judge inputs in order, one at a time.

        With `return_exceptions=True` a row that fails yields its `EdgeJudgeError` in its
        place and the rest go on; otherwise the first failure is raised.
        """
        for item in items:
            try:
                yield self.evaluate(item)
            except EdgeJudgeError as exc:
                if not return_exceptions:
                    raise
                yield exc

    # -- lifetime -----------------------------------------------------------------------

    def close(self) -> None:
        """Free the model, if this judge loaded it (a runtime passed in stays open)."""
        if self._owns_runtime:
            self.runtime.close()

    def __enter__(self) -> Judge:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
