"""edgejudge as the judge in a pytest suite (the `edgejudge` plugin, `pip install
'edgejudge[pytest]'`).

    def test_answer_is_faithful(judge):
        judge.assert_verdict(
            {"query": q, "context": c, "response": my_app(q, c)},
            metric="response-faithfulness-5point", at_least=4,
        )

    pytest --edgejudge-model flow-judge-v0.1 --edgejudge-metric response-faithfulness-5point

Options come from the command line or the ini file (`edgejudge_model = ...` under
`[pytest]` / `[tool.pytest.ini_options]`). The model loads once per session, the first time
a test asks for a judgment: a run that judges nothing loads nothing, and `-p no:edgejudge`
does not even import this module. `assert_verdict` fails with the score, the rubric row it
matched and the judge's feedback; `judge.evaluate_many` runs a test's judgments in the
runtime's slots. At the end, the terminal summary has one line per judgment (test, metric,
decision, seconds) and the mean score per metric. Decoding is greedy, so a rerun gives the
same verdicts.

Gating a suite on a stored run: `--edgejudge-journal FILE` records this run's verdicts as a
journal (one line per judgment, its id the test's node id and the judgment's number in it,
`tests/test_app.py::test_faithful#1`, with who judged); `--edgejudge-baseline FILE` compares
this run with such a journal at the end, as `edgejudge diff BASELINE THIS_RUN` does, and
fails the session when a `--edgejudge-fail-if EXPR` gate (repeatable; the ini's
`edgejudge_fail_if` lines) fails. The diff's table and each gate's line are in the summary.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from edgejudge.constants import PYTEST_CONTEXT, PYTEST_MAX_TOKENS

if TYPE_CHECKING:
    from edgejudge.core.metrics import AnyMetric
    from edgejudge.judging.judge import Judge
    from edgejudge.judging.pairs import PairResult
    from edgejudge.judging.result import JudgeResult

# (name, help, type): each is the option --edgejudge-NAME and the ini key edgejudge_NAME.
OPTIONS: tuple[tuple[str, str, type], ...] = (
    ("model", "the judge model: a catalog name or a GGUF/llamafile path", str),
    ("metric", "the metric assert_verdict uses when a test names none", str),
    ("family", "the judge format, where the catalog does not say", str),
    ("max-tokens", "the judge's token budget per answer (default 256)", int),
    ("runtime", "inprocess or server (default: by the model file)", str),
    ("server-url", "a llama.cpp server or serving engine to judge through", str),
    ("slots", "judgments run at once by judge.evaluate_many", int),
    ("ctx", "context length (default: the model's, at most 8192)", int),
    ("threads", "CPU threads (default: physical cores)", int),
    ("journal", "write this run's verdicts to this journal (for a later --edgejudge-baseline)",
     str),
    ("baseline", "a journal of an earlier run (--edgejudge-journal): compare this run with it "
     "and fail the session when a --edgejudge-fail-if gate fails", str),
)  # fmt: skip
FAIL_IF = "a gate on the diff with --edgejudge-baseline, as `edgejudge diff --fail-if` (repeatable)"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("edgejudge", "edgejudge: a local LLM judge")
    for name, help_text, _ in OPTIONS:
        group.addoption(f"--edgejudge-{name}", dest=f"edgejudge_{name.replace('-', '_')}",
                        metavar=name.upper().replace("-", "_"), help=help_text)  # fmt: skip
        parser.addini(f"edgejudge_{name.replace('-', '_')}", help_text, default=None)
    group.addoption("--edgejudge-fail-if", dest="edgejudge_fail_if", action="append",
                    default=[], metavar="EXPR", help=FAIL_IF)  # fmt: skip
    parser.addini("edgejudge_fail_if", FAIL_IF, type="linelist", default=[])


def pytest_configure(config: pytest.Config) -> None:
    given = config.getoption("edgejudge_fail_if", None) or []
    gates = [*given, *config.getini("edgejudge_fail_if")]
    if gates:  # a gate that does not parse stops the run before any test
        from edgejudge.errors import InputError
        from edgejudge.regression.gates import parse_gate

        try:
            for text in gates:
                parse_gate(text)
        except InputError as exc:
            raise pytest.UsageError(f"edgejudge: {exc}") from None
    config.stash[_SESSION] = JudgeSession(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(_SESSION, None)
    if session is not None:
        session.close()


def pytest_runtest_setup(item: pytest.Item) -> None:
    item.config.stash[_SESSION].test = item.nodeid


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    judge_session = session.config.stash[_SESSION]
    if judge_session.against_baseline() and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    judge_session = config.stash[_SESSION]
    lines = judge_session.summary()
    if lines:
        terminalreporter.write_sep("=", "edgejudge")
        for line in lines:
            terminalreporter.write_line(line)
    if judge_session.diff_lines:
        terminalreporter.write_sep("=", "edgejudge diff against the baseline")
        for line in judge_session.diff_lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def judge(request: pytest.FixtureRequest) -> JudgeSession:
    """The session's judge: `assert_verdict`, `evaluate`, `evaluate_many`, `compare`. Its
    model loads at the first judgment and stays for the session."""
    return request.config.stash[_SESSION]


@dataclass(frozen=True)
class Judged:
    """One judgment a test made, for the terminal summary."""

    test: str
    metric: str
    decision: int | str
    seconds: float


@dataclass
class JudgeSession:
    """The session's judge model, opened on first use, with one judge per metric asked for
    (all on the one loaded model) and what was judged."""

    config: pytest.Config
    test: str = ""
    judged: list[Judged] = field(default_factory=list)
    # This run's verdicts as journal lines (for --edgejudge-journal / --edgejudge-baseline),
    # how many judgments each test has made, and what the diff against the baseline said.
    records: list[dict[str, Any]] = field(default_factory=list)
    per_test: dict[str, int] = field(default_factory=dict)
    diff_lines: list[str] = field(default_factory=list)
    _base: Judge | None = None
    _judges: dict[str, Judge] = field(default_factory=dict)

    def option(self, name: str) -> Any:
        """A --edgejudge-NAME option, else the ini's edgejudge_NAME, typed; None if unset."""
        key = f"edgejudge_{name.replace('-', '_')}"
        value = self.config.getoption(key, None)
        if value is None:
            value = self.config.getini(key) or None
        kind = next(kind for option, _, kind in OPTIONS if option == name)
        if value is None or kind is str:
            return value
        try:
            return kind(value)
        except ValueError:
            raise pytest.UsageError(f"edgejudge_{name}: {value!r} is not a number") from None

    def for_metric(self, metric: str | os.PathLike[str] | AnyMetric | None = None) -> Judge:
        """The judge for `metric` (default: the configured metric), loading the model at
        the first call."""
        chosen = metric if metric is not None else self.option("metric")
        if chosen is None:
            raise pytest.UsageError(
                "edgejudge: no metric: pass metric=... or set --edgejudge-metric "
                "(edgejudge_metric in the ini)"
            )
        from edgejudge.io.metric_files import resolve_any_metric

        resolved = resolve_any_metric(chosen)
        if resolved.name not in self._judges:
            if self._base is None:
                self._base = self._open(resolved)
                self._judges[resolved.name] = self._base
            else:
                self._judges[resolved.name] = self._base.with_metric(resolved)
        return self._judges[resolved.name]

    def _open(self, metric: AnyMetric) -> Judge:
        from edgejudge.judging.judge import Judge
        from edgejudge.runtime.options import RuntimeOptions

        model, server = self.option("model"), self.option("server-url")
        if model is None and server is None:
            raise pytest.UsageError(
                "edgejudge: no judge model: pass --edgejudge-model NAME_OR_PATH (or set "
                "edgejudge_model in the ini, or --edgejudge-server-url)"
            )
        from edgejudge.errors import EdgeJudgeError

        try:
            options = RuntimeOptions(
                runtime=self.option("runtime"),
                server_url=server,
                slots=self.option("slots"),
                context_length=self.option("ctx") or (None if server else PYTEST_CONTEXT),
                n_threads=self.option("threads"),
            )
            return Judge(
                model,
                metric,
                max_tokens=self.option("max-tokens") or PYTEST_MAX_TOKENS,
                family=self.option("family"),
                runtime=options,
            )
        except EdgeJudgeError as exc:  # a missing or broken model: its message says it all
            problem = str(exc)
        pytest.fail(f"edgejudge: {problem}", pytrace=False)  # outside: no chained exception

    # -- judging --------------------------------------------------------------------------

    def evaluate(self, case: Any, *, metric: Any = None) -> JudgeResult:
        """Judge one answer (a dict of the metric's inputs, or an `EvalInput`)."""
        _fail_if_unreadable(case)
        chosen = self.for_metric(metric)
        result = chosen.evaluate(case)
        self._record(result.metric, result.decision, result.seconds)
        self._keep(chosen, result)
        return result

    def evaluate_many(self, cases: Iterable[Any], *, metric: Any = None) -> list[JudgeResult]:
        """Judge several answers in the runtime's slots; results in input order."""
        from edgejudge.judging.result import JudgeResult

        results = []
        chosen = self.for_metric(metric)
        for result in chosen.evaluate_many(list(cases)):
            assert isinstance(result, JudgeResult)  # without return_exceptions, errors raise
            self._record(result.metric, result.decision, result.seconds)
            self._keep(chosen, result)
            results.append(result)
        return results

    def compare(self, pair: Any, *, metric: Any = None) -> PairResult:
        """Judge a pair (`response_a`, `response_b`) with a pairwise metric, both orders."""
        _fail_if_unreadable(pair)
        chosen = self.for_metric(metric)
        result = chosen.compare(pair)
        self._record(result.metric, result.verdict, result.seconds)
        self._keep(chosen, result)
        return result

    def assert_verdict(
        self,
        case: Any,
        *,
        metric: Any = None,
        at_least: int | None = None,
        at_most: int | None = None,
        label: str | None = None,
        choice: str | None = None,
    ) -> JudgeResult | PairResult:
        """Judge `case` and fail the test unless the verdict meets the condition: a score
        `at_least` / `at_most` (numeric rubrics), a `label` (two-row rubrics: PASS, Yes...;
        matched without case), or a pairwise `choice` (A, B or tie). Returns the result."""
        bounds = at_least is not None or at_most is not None
        if bounds + (label is not None) + (choice is not None) != 1:
            raise pytest.UsageError(
                "assert_verdict: give one condition: at_least/at_most, label or choice"
            )
        chosen = self.for_metric(metric)
        if chosen.pairwise:
            if choice is None:
                raise pytest.UsageError(f"{chosen.metric.name} compares pairs: use choice=")
            pair = self.compare(case, metric=chosen.metric)
            if pair.verdict.lower() != choice.lower():
                pytest.fail(_pair_message(pair, choice), pytrace=False)
            return pair
        if choice is not None:
            raise pytest.UsageError(f"{chosen.metric.name} judges one answer: no choice=")
        wanted_label = _label(label, chosen.metric) if label is not None else None
        result = self.evaluate(case, metric=chosen.metric)
        failed = (
            (at_least is not None and (result.score is None or result.score < at_least))
            or (at_most is not None and (result.score is None or result.score > at_most))
            or (label is not None and not _same(result.decision, wanted_label))
        )
        if failed:
            wanted = (
                f"label {label}"
                if label is not None
                else " and ".join(
                    f"{word} {bound}"
                    for word, bound in (("at least", at_least), ("at most", at_most))
                    if bound is not None
                )
            )
            pytest.fail(_message(result, chosen.metric, wanted), pytrace=False)
        return result

    def _record(self, metric: str, decision: int | str, seconds: float) -> None:
        self.judged.append(Judged(self.test, metric, decision, seconds))

    def _keep(self, judge: Judge, result: JudgeResult | PairResult) -> None:
        """This judgment as a journal line, its id the test's and its number in it."""
        if self.option("journal") is None and self.option("baseline") is None:
            return
        from edgejudge.judging.records import pair_row, result_row
        from edgejudge.judging.result import JudgeResult

        number = self.per_test[self.test] = self.per_test.get(self.test, 0) + 1
        row_id = f"{self.test}#{number}"
        if isinstance(result, JudgeResult):
            self.records.append(result_row(row_id, result, judge=judge.identity()))
        else:
            self.records.append(pair_row(row_id, result, None, judge.identity()))

    def against_baseline(self) -> bool:
        """Write the journal, and with a baseline compare this run with it: True when a
        gate failed (the session then fails). The diff's lines go to the summary."""
        import json
        import tempfile

        from edgejudge.errors import EdgeJudgeError
        from edgejudge.io.atomic import write_text_atomic

        journal, baseline = self.option("journal"), self.option("baseline")
        if journal is None and baseline is None:
            return False
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in self.records)
        with tempfile.TemporaryDirectory(prefix="edgejudge-") as folder:
            path = Path(journal) if journal is not None else Path(folder) / "this-run.jsonl"
            write_text_atomic(path, text)
            if baseline is None:
                return False
            try:
                return self._compare(Path(baseline), path)
            except EdgeJudgeError as exc:
                self.diff_lines.append(f"edgejudge: error: {exc}")
                return True

    def _compare(self, baseline: Path, this_run: Path) -> bool:
        from edgejudge.regression.compare import diff
        from edgejudge.regression.gates import parse_gate
        from edgejudge.regression.report import table_rows

        given = self.config.getoption("edgejudge_fail_if", None) or []
        gates = [parse_gate(text) for text in [*given, *self.config.getini("edgejudge_fail_if")]]
        found = diff(baseline, this_run)
        results = found.check(gates)
        names = [m.metric for m in found.metrics]
        self.diff_lines.append(f"{baseline} -> this run · " + " | ".join(names))
        self.diff_lines += [f"{name}: " + " | ".join(cells) for name, cells in table_rows(found)]
        self.diff_lines += [f"gate {result.line()}" for result in results]
        return any(result.failed for result in results)

    # -- the end --------------------------------------------------------------------------

    def summary(self) -> list[str]:
        """One line per judgment, then the mean score of each metric with scores."""
        if not self.judged:
            return []
        lines = [f"{j.test}  {j.metric}  {j.decision}  {j.seconds:.1f} s" for j in self.judged]
        by_metric: dict[str, list[Judged]] = {}
        for one in self.judged:
            by_metric.setdefault(one.metric, []).append(one)
        for metric, judged in by_metric.items():
            scores = [j.decision for j in judged if isinstance(j.decision, int)]
            seconds = sum(j.seconds for j in judged)
            mean = f"mean score {sum(scores) / len(scores):.2f}, " if scores else ""
            lines.append(f"{metric}: {len(judged)} judged, {mean}{seconds:.1f} s in all")
        return lines

    def close(self) -> None:
        """Free the model (at the end of the session)."""
        if self._base is not None:
            self._base.close()
            self._base = None
        self._judges.clear()


def cases(
    path: str | os.PathLike[str],
    metric: Any,
    *,
    map: dict[str, str] | None = None,  # noqa: A002 - the CLI's --map
    format: str | None = None,  # noqa: A002 - the CLI's --format
    split: str | None = None,
    id_column: str | None = None,
) -> list[Any]:
    """Each row of a data file (JSONL, JSON, CSV/TSV, Parquet, a dataset folder: as `edgejudge
    batch` reads it) as a `pytest.param` of the metric's fields, its id as the test id, for
    `@pytest.mark.parametrize("case", cases("answers.csv", METRIC, map={...}))`. A row that
    cannot be an input (an empty field, a CSV line with the wrong number of fields) is a
    param whose test fails with the row's problem; the other rows run."""
    from pathlib import Path

    from edgejudge.io.metric_files import resolve_any_metric
    from edgejudge.judging.rows import read_rows

    chosen = resolve_any_metric(metric)
    rows = read_rows(Path(path), fmt=format, split=split, mapping=map, id_column=id_column)
    return [pytest.param(row.input_for(chosen), id=str(row.id)) for row in rows]


def _fail_if_unreadable(case: Any) -> None:
    """A row `cases` could not read fails its test with the row's problem."""
    from edgejudge.errors import EdgeJudgeError

    if isinstance(case, EdgeJudgeError):
        pytest.fail(f"edgejudge: this row cannot be judged: {case}", pytrace=False)


def _label(label: str, metric: AnyMetric) -> int | str:
    """The decision `label` stands for: PASS, yes, true or the higher score is a two-row
    rubric's higher row (edgejudge.meta_eval.labels); a UsageError if it fits none."""
    from edgejudge.meta_eval.labels import LabelError, read_label

    try:
        return read_label(label, metric)
    except LabelError as exc:
        raise pytest.UsageError(f"assert_verdict: {exc} for {metric.name}") from None


def _same(decision: int | str, wanted: int | str | None) -> bool:
    if isinstance(decision, str) and isinstance(wanted, str):
        return decision.lower() == wanted.lower()
    return decision == wanted


def _message(result: JudgeResult, metric: AnyMetric, wanted: str) -> str:
    from edgejudge.meta_eval.labels import LabelError, read_label

    row = ""
    rubric = getattr(metric, "rubric", ())
    try:
        score = result.score if result.score is not None else read_label(result.decision, metric)
    except LabelError:
        score = None
    for item in rubric:
        if item.score == score:
            row = f"\n  rubric {item.score}: {item.description}"
    return (
        f"edgejudge: {metric.name} gave {result.decision}, wanted {wanted}{row}\n"
        f"  feedback: {result.feedback}"
    )


def _pair_message(pair: PairResult, choice: str) -> str:
    orders = "; ".join(
        f"order {index + 1} preferred {pick}: {result.feedback}"
        for index, (pick, result) in enumerate(zip(pair.preferred, pair.results, strict=True))
    )
    return f"edgejudge: {pair.metric} chose {pair.verdict}, wanted {choice}\n  {orders}"


_SESSION = pytest.StashKey[JudgeSession]()
