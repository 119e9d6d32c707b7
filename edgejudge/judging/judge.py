"""The Python API: a `Judge` is a model, a metric and a runtime, used as a context manager.

It opens the runtime (runtime_choice.py), holds the runtime's slots and the cancel flag, and
hands each judgment to the pipeline (pipeline.py) and many of them to the scheduler
(scheduler.py).

from edgejudge import Judge
with Judge(model="demo", metric="response-faithfulness-5point") as judge:
    result = judge.evaluate({"query": "…", "context": "…", "response": "…"})
    print(result.score, result.feedback)

With a pairwise metric a judge compares two responses, in both orders (pairs.py):

with Judge(model="demo-instruct", metric="pairwise-helpfulness", family="prometheus") as judge:
    pair = judge.compare({"query": "…", "response_a": "…", "response_b": "…"})
    print(pair.verdict, pair.probability_a)
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from edgejudge.constants import DEFAULT_MAX_TOKENS
from edgejudge.core import EvalInput, JudgeFormat, Message, Metric, get_format
from edgejudge.core.formats import DEFAULT_FAMILY, Bound, bind
from edgejudge.core.metrics import AnyMetric, PairwiseMetric
from edgejudge.core.pairs import PairInput, coerce_pair
from edgejudge.errors import EdgeJudgeError, MetricError, ParseError
from edgejudge.io.metric_files import resolve_any_metric
from edgejudge.judging.choices import SAMPLINGS, MetricArg, resolve_metrics, sampling_for
from edgejudge.judging.pairs import PairResult
from edgejudge.judging.pipeline import Pipeline
from edgejudge.judging.result import JudgeResult
from edgejudge.judging.runtime_choice import as_options, checked, located, open_located
from edgejudge.judging.scheduler import as_completed, in_order
from edgejudge.models.resolve import ResolvedModel, identify
from edgejudge.runtime.base import Runtime, Sampling
from edgejudge.runtime.options import RuntimeName, RuntimeOptions
from edgejudge.system.memory import DEFAULT_KV_TYPE


def final(pieces: Iterable[str | JudgeResult]) -> JudgeResult:
    """The result a judgment's stream ends with (its feedback text passed over)."""
    for piece in pieces:
        if isinstance(piece, JudgeResult):
            return piece
    raise ParseError("the judge produced no result", "")  # pragma: no cover


def outcome(judge_one: Callable[[Any], JudgeResult], item: Any) -> JudgeResult | EdgeJudgeError:
    """`judge_one(item)`, or the error in its place: an error given as the item, or one
    raised judging it (the scheduler's attempts never raise)."""
    if isinstance(item, EdgeJudgeError):
        return item
    try:
        return judge_one(item)
    except EdgeJudgeError as exc:
        return exc


class _Gate:
    """Room for `slots` judgments at once, and the cancel flag."""

    def __init__(self, slots: int) -> None:
        self.slots = threading.BoundedSemaphore(slots)
        self.lock = threading.Lock()
        self.active = 0
        self.cancel = threading.Event()


@dataclass(frozen=True)
class _Loaded:
    """What every metric's judge on one loaded model shares: the runtime and its slots, the
    format, the model, and the settings of every judgment."""

    runtime: Runtime
    format: JudgeFormat
    model: ResolvedModel | None
    max_tokens: int
    sampling: Sampling
    sampling_note: str
    gate: _Gate


class Judge:
    """A judge model applying one metric, or several to each input. Use as a context
    manager to free the model."""

    judges: dict[str, Judge]  # each metric's judge, by name (this one, for one metric)
    use_grammar: bool  # whether answers are forced by the verdict grammar
    probabilities: bool  # whether the judge's probability for each decision value is measured

    def __init__(
        self,
        model: str | os.PathLike[str] | None,
        metric: MetricArg | Sequence[MetricArg],
        *,
        runtime: RuntimeOptions | RuntimeName | Runtime | None = None,
        family: str | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float = 0.0,
        seed: int = 0,
        grammar: bool = True,
        sampling: str = "greedy",
        probabilities: bool = True,
        download: bool = False,
        **deprecated: Any,
    ) -> None:
        """Open `model` (a catalog name or a file) to judge with `metric`: one metric, or a
        list of single-answer metrics the model's family can express, each input then
        judged on each (`evaluate_metrics`, `tasks_as_completed`; `for_metric` gives the
        judge of one of them, on the same loaded model).

        `runtime` says where the model runs: a `RuntimeOptions` (which runtime, its slots,
        context, threads, GPU layers, prefix cache, servers to use and how: see its fields),
        "inprocess" or "server" (those options at their defaults), a `Runtime` object already
        open (the judge then does not close it), or None: a llamafile runs as a server, a GGUF
        file in-process. `RuntimeOptions.slots` is how many judgments `evaluate_many` runs at
        once; `RuntimeOptions.server_url` a server someone else runs, or a list of them
        serving the same model (`model` may then be None). The runtime options once given as
        keyword arguments here (`n_threads=`, `slots=`, `server_url=`, ...) still work, with
        a `DeprecationWarning`, for one release.

        A catalog model that is not on disk is downloaded only when `download` is True;
        otherwise `ModelNotFoundError` says how to get it. `family` overrides the catalog's
        judge format (prompt, grammar and parser).

        `sampling` is "greedy" (the default: `temperature`, 0 unless given) or "authors":
        the family's published settings (`sampling_note` says which, or that the family
        publishes none and greedy is used).

        A pairwise metric (`pairwise-helpfulness`, or one of your own with `kind =
        "pairwise"`) makes a judge that compares two responses (`compare`, `compare_many`)
        with its family's pairwise prompt (Prometheus 2, Selene); other families have none,
        and `FamilyError` names those that do.

        `probabilities`: measure the judge's own probability for every value its decision
        could take (`result.probabilities`, `expected_score`, `confidence`), on runtimes
        that report them (in-process and llama.cpp servers); it costs a few token
        evaluations per judgment.
        """
        if max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {', '.join(SAMPLINGS)}, not {sampling!r}")
        options = as_options(runtime, deprecated)
        # The model named, resolved once (a runtime given open is what it is).
        resolved: ResolvedModel | None = None
        if options is not None and model is not None:
            resolved = identify(model, family=family, remote=bool(options.server_url))
        judge_format = get_format(resolved.family if resolved else family or DEFAULT_FAMILY)
        # Every metric is bound, so checked against the family, before the (slow) load.
        bound = [bind(judge_format, one) for one in resolve_metrics(metric)]
        settings, note = sampling_for(judge_format, sampling, temperature=temperature, seed=seed)
        if options is not None:
            options = checked(options)
            resolved = located(resolved, options, download=download)
            runtime = open_located(resolved, options)
        assert runtime is not None and not isinstance(runtime, str | RuntimeOptions)
        gate = _Gate(max(1, int(runtime.slots)))
        loaded = _Loaded(
            runtime=runtime,
            format=judge_format,
            model=resolved,
            max_tokens=max_tokens,
            sampling=settings,
            sampling_note=note,
            gate=gate,
        )
        self._take(loaded, bound[0], owns_runtime=options is not None)
        self.use_grammar = grammar  # each metric's judge may change its own
        self.probabilities = probabilities
        if len(bound) > 1:  # one judge of its own for each, this one among none of them
            self.judges = {one.metric.name: self._view(one) for one in bound}

    def _take(self, loaded: _Loaded, bound: Bound, *, owns_runtime: bool) -> None:
        """Become the judge of `bound`'s metric on `loaded`."""
        self._loaded = loaded
        self.bound = bound
        self._grammar = bound.grammar(loaded.max_tokens)
        self._owns_runtime = owns_runtime
        self.judges = {bound.metric.name: self}

    def _view(self, bound: Bound) -> Judge:
        """The judge of `bound`'s metric on this judge's loaded model: a light view that
        shares its runtime, slots and cancel flag, and never closes the model."""
        view = Judge.__new__(Judge)
        view._take(self._loaded, bound, owns_runtime=False)
        view.use_grammar, view.probabilities = self.use_grammar, self.probabilities
        return view

    # -- what every metric's judge shares ---------------------------------------------

    @property
    def runtime(self) -> Runtime:
        """The runtime carrying the model (shared by every metric's judge)."""
        return self._loaded.runtime

    @property
    def format(self) -> JudgeFormat:
        """The judge family's format: prompt, grammar, parser."""
        return self._loaded.format

    @property
    def model(self) -> ResolvedModel | None:
        """The model named, resolved and located (None for a runtime given open)."""
        return self._loaded.model

    @property
    def max_tokens(self) -> int:
        """The token budget of every judgment."""
        return self._loaded.max_tokens

    @property
    def sampling(self) -> Sampling:
        """The sampler settings of every judgment."""
        return self._loaded.sampling

    @property
    def sampling_note(self) -> str:
        """What the sampler settings are, in words."""
        return self._loaded.sampling_note

    @property
    def metric(self) -> AnyMetric:
        """The metric this judge applies."""
        return self.bound.metric

    def identity(self) -> dict[str, Any]:
        """Who judged, in what makes two runs' verdicts comparable (a journal's rows carry
        it; `edgejudge diff` refuses runs whose judges differ): the family, the model
        file's sha256 where the catalog gives it, a digest of the metric's definition (its
        rubric edited is another judge), the token budget, the sampler settings and whether
        the grammar binds the answer, and a KV cache type other than f16 (`--kv-type
        q8_0` changes the computation). The runtime is not part of it: a greedy verdict is
        the same in-process and on a server."""
        model = self.model
        sha = model.entry.sha256 if model is not None and model.entry is not None else None
        digest = hashlib.sha256(self.metric.model_dump_json().encode("utf-8")).hexdigest()
        sampling = self.sampling
        kv_type = getattr(self.runtime, "kv_type", None)
        kv = {"kv_type": kv_type} if kv_type not in (None, DEFAULT_KV_TYPE) else {}
        return {
            "family": self.format.family,
            "model_sha256": sha,
            "metric_digest": digest[:16],
            "max_tokens": self.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "repeat_penalty": sampling.repeat_penalty,
            "seed": sampling.seed,
            "grammar": self.use_grammar,
            **kv,
        }

    @property
    def pairwise(self) -> bool:
        """Whether this judge compares two responses (its metric is pairwise)."""
        return self.bound.pairwise

    @property
    def slots(self) -> int:
        """How many judgments the runtime takes at once (a server's parallel slots)."""
        return max(1, int(self.runtime.slots))

    def with_metric(self, metric: AnyMetric | str | os.PathLike[str]) -> Judge:
        """A judge applying `metric` on this judge's loaded model, without reloading it.

        It shares the model, its slots and `cancel`; closing it leaves the model open.
        """
        return self._view(bind(self.format, resolve_any_metric(metric)))

    def with_metrics(self, metrics: Sequence[MetricArg]) -> Judge:
        """A judge applying `metrics` (one, or several single-answer ones) on this judge's
        loaded model, as `with_metric` does for one."""
        bound = [bind(self.format, one) for one in resolve_metrics(list(metrics))]
        first = self._view(bound[0])
        if len(bound) > 1:
            first.judges = {one.metric.name: self._view(one) for one in bound}
        return first

    def cancel(self) -> None:
        """Stop the judgments now generating (from another thread); they raise `Cancelled`.

        Has no effect when nothing is generating.
        """
        gate = self._loaded.gate
        with gate.lock:
            if gate.active:
                gate.cancel.set()

    # -- what would be sent -------------------------------------------------------------

    def prompt(self, item: EvalInput | PairInput | dict[str, Any]) -> str:
        """The exact user message the judge is given for `item` (a pair: in the order given)."""
        return self._one().render_prompt(item)

    def messages(self, item: EvalInput | PairInput | dict[str, Any]) -> list[Message]:
        """Every message the judge is given for `item`: a system prompt where the family
        has one, then the user message; the runtime applies the model's chat template. A
        pair's messages show its responses in the order given."""
        return self._one().messages(item)

    @property
    def metrics(self) -> tuple[AnyMetric, ...]:
        """The metrics this judge applies, in the order given."""
        return tuple(judge.metric for judge in self.judges.values())

    def for_metric(self, name: str) -> Judge:
        """The judge of one of this judge's metrics (same model, same slots)."""
        if name not in self.judges:
            raise MetricError(f"this judge has no metric {name!r}: it has {', '.join(self.judges)}")
        return self.judges[name]

    def _one(self) -> Bound:
        """The one metric this judge applies, bound; `MetricError` if it applies several."""
        if len(self.judges) > 1:
            raise MetricError(
                f"this judge applies {len(self.judges)} metrics ({', '.join(self.judges)}): "
                "use evaluate_metrics() or tasks_as_completed(), or for_metric(name)"
            )
        return self.bound

    def _single_metric(self) -> Metric:
        metric = self._one().metric
        if isinstance(metric, PairwiseMetric):
            raise MetricError(
                f"metric {metric.name!r} compares two responses: use compare() or compare_many()"
            )
        return metric

    def _pair_metric(self) -> PairwiseMetric:
        if not isinstance(self.metric, PairwiseMetric):
            raise MetricError(
                f"metric {self.metric.name!r} scores one response: use evaluate(), or a "
                "pairwise metric (edgejudge metrics list shows them)"
            )
        return self.metric

    @property
    def grammar(self) -> str:
        """The GBNF grammar that forces this metric's verdict format."""
        return self._grammar

    # -- judging ------------------------------------------------------------------------

    def stream(self, item: EvalInput | dict[str, Any]) -> Iterator[str | JudgeResult]:
        """Yield the feedback text as it is generated, then the `JudgeResult`."""
        self._single_metric()
        yield from self._run(self.messages(item))

    def _run(self, messages: list[Message]) -> Iterator[str | JudgeResult]:
        """One judgment of `messages` in one of the runtime's slots."""
        with self._judging():
            yield from self.pipeline.run(messages, self._loaded.gate.cancel.is_set)

    @property
    def pipeline(self) -> Pipeline:
        """What one judgment runs through (judging/pipeline.py), with this judge's settings."""
        return Pipeline(
            runtime=self.runtime,
            answer=self.bound,
            metric=self.metric.name,
            grammar=self._grammar if self.use_grammar else None,
            max_tokens=self.max_tokens,
            sampling=self.sampling,
            probabilities=self.probabilities,
        )

    @contextmanager
    def _judging(self) -> Iterator[None]:
        """Hold one of the runtime's slots while a judgment runs."""
        gate = self._loaded.gate
        with gate.slots:
            with gate.lock:
                if not gate.active:
                    gate.cancel.clear()  # a cancel ends what was running, not what comes next
                gate.active += 1
            try:
                yield
            finally:
                with gate.lock:
                    gate.active -= 1

    def evaluate(self, item: EvalInput | dict[str, Any]) -> JudgeResult:
        """Judge one input and return the verdict."""
        return final(self.stream(item))

    def evaluate_many(
        self, items: Iterable[EvalInput | dict[str, Any]], *, return_exceptions: bool = False
    ) -> Iterator[JudgeResult | EdgeJudgeError]:
        """Judge inputs and yield the verdicts in input order.

        A server runtime with N slots keeps N judgments in flight. With
        `return_exceptions=True` a row that fails yields its `EdgeJudgeError` in its place
        and the rest go on; otherwise the first failure is raised.
        """
        yield from in_order(self.evaluate_as_completed(items), return_exceptions)

    def evaluate_frame(
        self,
        frame: Any,
        *,
        map: Mapping[str, str] | None = None,  # noqa: A002 - the CLI's --map
        progress: bool | None = None,
    ) -> Any:
        """Judge each row of a pandas DataFrame or a pyarrow Table on this judge's metrics;
        a copy with the verdict columns added, in row order (`METRIC.score`,
        `METRIC.feedback`, `METRIC.error`...). `map` reads a field from a column of another
        name ({"query": "question"}); a progress bar shows where stderr is a terminal or in
        a notebook (`progress` forces it on or off). See `judging/frames.py`."""
        from edgejudge.judging.frames import evaluate_frame

        return evaluate_frame(self, frame, map=map, progress=progress)

    def evaluate_as_completed(
        self, items: Iterable[EvalInput | dict[str, Any] | EdgeJudgeError]
    ) -> Generator[tuple[int, JudgeResult | EdgeJudgeError], None, None]:
        """Judge inputs with up to `slots` in flight; yield `(index, verdict or error)` as
        each finishes. An `EdgeJudgeError` given in place of an input is that row's outcome.

        If a server edgejudge started dies, it is restarted once and the judgments that were
        in flight are tried again. If it dies again, those become `ServerGoneError` outcomes
        and then `ServerError` is raised: rows not yet started are left for a rerun.
        `Cancelled` (from `cancel`) is raised once the judgments in flight have stopped.
        """
        yield from as_completed(
            items, self._attempt, slots=self.slots, runtime=self.runtime, cancel=self.cancel
        )

    def evaluate_metrics(self, item: EvalInput | dict[str, Any]) -> dict[str, JudgeResult]:
        """Judge one input on each of this judge's metrics, one after another: their
        prompts share the input's text, which the in-process runtime evaluates once."""
        return {name: judge.evaluate(item) for name, judge in self.judges.items()}

    def tasks_as_completed(
        self, tasks: Iterable[tuple[EvalInput | dict[str, Any] | EdgeJudgeError, str]]
    ) -> Generator[tuple[int, JudgeResult | EdgeJudgeError], None, None]:
        """Judge `(input, metric name)` pairs as `evaluate_as_completed` judges inputs:
        up to `slots` in flight, `(index, verdict or error)` as each finishes. Give an
        input's metrics one after another to have their shared head evaluated once."""
        yield from as_completed(
            tasks, self._attempt_task, slots=self.slots, runtime=self.runtime, cancel=self.cancel
        )

    def _attempt_task(self, task: tuple[Any, str]) -> Any:
        item, name = task
        return outcome(self.for_metric(name).evaluate, item)

    # -- pairwise -----------------------------------------------------------------------

    def compare(self, pair: PairInput | dict[str, Any], *, swap: bool = True) -> PairResult:
        """Judge which of a pair's two responses is better: in both orders (the two side by
        side where the runtime has the slots), or as given alone with `swap=False`."""
        for _, outcome in self.compare_as_completed([pair], swap=swap):
            if isinstance(outcome, EdgeJudgeError):
                raise outcome
            return outcome
        raise ParseError("the judge produced no result", "")  # pragma: no cover

    def compare_many(
        self,
        pairs: Iterable[PairInput | dict[str, Any]],
        *,
        swap: bool = True,
        return_exceptions: bool = False,
    ) -> Iterator[PairResult | EdgeJudgeError]:
        """Judge pairs and yield their verdicts in input order (as `evaluate_many`)."""
        yield from in_order(self.compare_as_completed(pairs, swap=swap), return_exceptions)

    def compare_as_completed(
        self,
        pairs: Iterable[PairInput | dict[str, Any] | EdgeJudgeError],
        *,
        swap: bool = True,
    ) -> Generator[tuple[int, PairResult | EdgeJudgeError], None, None]:
        """Judge pairs, each order a judgment of its own, up to `slots` in flight; yield
        `(index, verdict or error)` as each pair's orders are all in. A pair that does not
        fit the metric, or an order that fails, makes the pair's outcome that error. Server
        restarts and `Cancelled` behave as in `evaluate_as_completed`."""
        metric = self._pair_metric()
        jobs: list[tuple[int, int]] = []  # (pair index, order) of each judgment started
        expected: dict[int, int] = {}

        def orders() -> Iterator[PairInput | EdgeJudgeError]:
            for index, item in enumerate(pairs):
                try:
                    if isinstance(item, EdgeJudgeError):
                        raise item
                    pair = coerce_pair(item, metric)
                except EdgeJudgeError as exc:
                    expected[index] = 1
                    jobs.append((index, 0))
                    yield exc
                    continue
                shown = [pair, pair.swapped()] if swap else [pair]
                expected[index] = len(shown)
                for order, given in enumerate(shown):
                    jobs.append((index, order))
                    yield given

        arrived: dict[int, dict[int, JudgeResult | EdgeJudgeError]] = {}
        outcomes = as_completed(
            orders(),
            self._attempt_order,
            slots=self.slots,
            runtime=self.runtime,
            cancel=self.cancel,
        )
        try:
            for job, outcome in outcomes:
                index, order = jobs[job]
                got = arrived.setdefault(index, {})
                got[order] = outcome
                if len(got) < expected[index]:
                    continue
                del arrived[index]
                yield index, self._pairoutcome(got)
        finally:
            outcomes.close()

    def _pairoutcome(self, got: dict[int, JudgeResult | EdgeJudgeError]) -> Any:
        """A pair's verdict from its orders' judgments, or the first order's error."""
        results: list[JudgeResult] = []
        for order in sorted(got):
            outcome = got[order]
            if isinstance(outcome, EdgeJudgeError):
                return outcome
            results.append(outcome)
        return PairResult(
            first=results[0],
            second=results[1] if len(results) > 1 else None,
            model=results[0].model,
            metric=self.metric.name,
        )

    def _attempt_order(self, item: PairInput | EdgeJudgeError) -> Any:
        """One order of a pair, judged; its error in its place."""
        return outcome(lambda order: final(self._run(self.bound.messages(order))), item)

    def _attempt(self, item: EvalInput | dict[str, Any] | EdgeJudgeError) -> Any:
        return outcome(self.evaluate, item)

    # -- lifetime -----------------------------------------------------------------------

    def close(self) -> None:
        """Free the model, if this judge loaded it (a runtime passed in stays open)."""
        if self._owns_runtime:
            self.runtime.close()

    def __enter__(self) -> Judge:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
