"""Two runs of the same judge over the same inputs, compared row by row: `edgejudge diff`.

`diff(base, new)` reads two journals (what `edgejudge batch` wrote), joins their verdicts
by (id, metric[, turn]) and, for each metric, measures how NEW moved from BASE
(`regression.statistics`): a score metric's mean change, expected-score change, better / same /
worse rows and Wilcoxon's test; a label metric's (PASS/FAIL, Yes/No) pass-rate change and
McNemar's test. Rows in one run only are counted and listed; error rows, in either run, are
counted apart and left out of the statistics. The rows that got worse come largest drop
first, each with both scores and both feedbacks.

A different judge is not a regression: each metric's rows must name the same model in both
runs and, where the rows say who judged them (`judge`: `Judge.identity()`, written by batch),
the same family, model sha256, metric definition and settings (token budget, sampling,
grammar), in both runs and throughout each; else a `JudgeMismatch` (exit 2) names what
differs, unless `allow_mismatch`.

Every quantity a gate can name (`regression.gates.QUANTITIES`) is in `MetricDiff.quantities()`
under that name, with its interval and the rows it stands on: the table, `--json` and
`--fail-if` read the same numbers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from edgejudge.errors import InputError
from edgejudge.judging.journal import Done, read_journal
from edgejudge.judging.records import ERROR_KEY, JUDGE_KEY, TURN_KEY, UNNAMED
from edgejudge.judging.rows import RowSource, id_key, turn_key
from edgejudge.meta_eval.statistics import Estimate
from edgejudge.regression.gates import Gate
from edgejudge.regression.statistics import (
    STANDING,
    LabelChange,
    PairChange,
    ScoreChange,
    label_change,
    pair_change,
    score_change,
)

# The labels that pass (the other of each pair fails): Selene's Yes/No, Root Judge's PASS/FAIL.
PASSING = frozenset({"PASS", "Yes"})
TOP = 5


class JudgeMismatch(InputError):
    """The two runs were not judged by the same judge: not a regression to measure."""


@dataclass(frozen=True)
class Quantity:
    """A named quantity's value, its interval where it has one, and its rows."""

    value: float | None
    low: float | None = None
    high: float | None = None
    n: int = 0
    why: str | None = None

    def of(self, bound: str | None) -> float | None:
        """The value, or one end of the interval (`low` / `high`)."""
        return self.value if bound is None else getattr(self, bound)

    def fields(self) -> dict[str, Any]:
        found: dict[str, Any] = {"value": self.value, "n": self.n}
        if self.low is not None or self.high is not None:
            found.update(low=self.low, high=self.high)
        if self.why:
            found["why"] = self.why
        return found


def _estimate(found: Estimate) -> Quantity:
    return Quantity(found.value, found.low, found.high, found.n)


@dataclass(frozen=True)
class Worse:
    """A row that got worse: its id (and turn), both decisions and both feedbacks."""

    id: Any
    turn: int | None
    base: Any
    new: Any
    change: float | None
    base_feedback: str
    new_feedback: str
    # With the inputs given: the row BASE judged, and the fields NEW's row has otherwise.
    inputs: dict[str, Any] | None = None
    new_inputs: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        """The row as people read it: `7`, or `7 #2` for an assistant turn."""
        return str(self.id) if self.turn is None else f"{self.id} #{self.turn}"

    @property
    def key(self) -> str:
        """The row's key, as its input row and journal lines have it."""
        return turn_key(id_key(self.id), self.turn)

    def fields(self) -> dict[str, Any]:
        found = {"id": self.id, "base": self.base, "new": self.new, "change": self.change,
                 "base_feedback": self.base_feedback,
                 "new_feedback": self.new_feedback}  # fmt: skip
        if self.inputs is not None:
            found["inputs"] = self.inputs
            found["new_inputs"] = self.new_inputs or {}
        return found if self.turn is None else {**found, TURN_KEY: self.turn}


@dataclass
class MetricDiff:
    """One metric's comparison (see the module's docstring)."""

    metric: str
    models: tuple[str | None, str | None]
    joined: int
    scores: ScoreChange | None = None
    expected: ScoreChange | None = None
    labels: LabelChange | None = None
    pairs: PairChange | None = None
    errors: tuple[int, int] = (0, 0)
    only_base: list[Any] = field(default_factory=list)
    only_new: list[Any] = field(default_factory=list)
    worst: list[Worse] = field(default_factory=list)
    # How many compared rows had each decision (score, label or pair verdict), BASE and NEW.
    counts: tuple[dict[Any, int], dict[Any, int]] = ({}, {})

    @property
    def kind(self) -> str:
        if self.pairs is not None:
            return "pairwise"
        return "label" if self.labels is not None else "score"

    def quantities(self) -> dict[str, Quantity]:
        """Every gate quantity this metric has, by its name (`regression.gates.QUANTITIES`)."""
        found: dict[str, Quantity] = {}
        if self.pairs is not None:
            pairs = self.pairs
            found["win_rate_change"] = _estimate(pairs.win_rate_change)
            found["better"] = Quantity(pairs.better, n=pairs.n)
            found["worse"] = Quantity(pairs.worse, n=pairs.n)
            found["worse_share"] = Quantity(pairs.worse / pairs.n if pairs.n else None, n=pairs.n)
            return found
        if self.labels is not None:
            labels = self.labels
            found["pass_rate_change"] = _estimate(labels.pass_rate_change)
            found["better"] = Quantity(labels.failed_to_passed, n=labels.n)
            found["worse"] = Quantity(labels.passed_to_failed, n=labels.n)
            share = labels.passed_to_failed / labels.n if labels.n else None
            found["worse_share"] = Quantity(share, n=labels.n)
            test = labels.mcnemar
            found["p_worse"] = Quantity(test.p_worse, n=test.n, why=test.why)
            return found
        if self.scores is not None:
            scores = self.scores
            found["mean_change"] = _estimate(scores.mean_change)
            if self.expected is not None:
                found["expected_change"] = _estimate(self.expected.mean_change)
            found["better"] = Quantity(scores.better, n=scores.n)
            found["worse"] = Quantity(scores.worse, n=scores.n)
            found["worse_share"] = _estimate(scores.worse_share)
            if scores.wilcoxon is not None:
                test = scores.wilcoxon
                found["p_worse"] = Quantity(test.p_worse, n=test.n, why=test.why)
        return found


@dataclass(frozen=True)
class GateResult:
    """A gate on one metric: the value it read, and whether it failed."""

    gate: Gate
    metric: str
    quantity: Quantity
    failed: bool

    def line(self) -> str:
        """`FAILED faithfulness mean_change < -0.2: -0.50 [-0.80, -0.20], 40 rows`."""
        value = self.quantity.of(self.gate.bound)
        word = "FAILED" if self.failed else "passed"
        if value is None:
            measured = f"undefined ({self.quantity.why or 'no data'})"
        else:
            measured = f"{value:.4g}"
            q = self.quantity
            if self.gate.bound is None and q.low is not None and q.high is not None:
                measured += f" [{q.low:.4g}, {q.high:.4g}]"
        return f"{word} {self.metric}: {self.gate.text}: {measured}, {self.quantity.n} rows"


@dataclass
class Diff:
    """Two runs compared: each metric's `MetricDiff`."""

    base: Path
    new: Path
    metrics: list[MetricDiff]

    def check(self, gates: Sequence[Gate]) -> list[GateResult]:
        """Each gate on each metric it applies to; an `InputError` for a gate that applies
        to none (a metric not in the runs, a quantity no metric has)."""
        results = []
        for gate in gates:
            applied = False
            for found in self.metrics:
                if gate.metric is not None and gate.metric != found.metric:
                    continue
                quantity = found.quantities().get(gate.quantity)
                if quantity is None:
                    if gate.metric is not None:
                        raise InputError(
                            f"--fail-if {gate.text!r}: {found.metric} is a {found.kind} metric "
                            f"and has no {gate.quantity}; it has " + ", ".join(found.quantities())
                        )
                    continue
                applied = True
                value = quantity.of(gate.bound)
                failed = value is not None and gate.fails(value)
                results.append(GateResult(gate, found.metric, quantity, failed))
            if not applied:
                names = ", ".join(m.metric for m in self.metrics)
                raise InputError(
                    f"--fail-if {gate.text!r} applies to no metric of these runs ({names})"
                )
        return results


def diff(
    base: Path,
    new: Path,
    metrics: Sequence[str] = (),
    *,
    allow_mismatch: bool = False,
    top: int = TOP,
    inputs: tuple[RowSource, RowSource] | None = None,
) -> Diff:
    """Compare the journals `base` and `new` (see the module's docstring); `metrics` limits
    it to those; `top` is how many rows that got worse each metric lists; `inputs`, the
    files BASE and NEW judged (the same one twice, or each its own), give each of those
    rows its inputs and, where NEW's differ (another response), NEW's."""
    old, now = read_journal(base), read_journal(new)
    names = list(dict.fromkeys(_metric(key) for key in [*old, *now]))
    if metrics:
        missing = [m for m in metrics if m not in names]
        if missing:
            raise InputError(
                f"no verdicts of {', '.join(missing)} in these runs (they hold {', '.join(names)})"
            )
        names = list(metrics)
    found = []
    for name in names:
        mine_old = {k: r for (k, m), r in old.items() if (m or UNNAMED) == name}
        mine_new = {k: r for (k, m), r in now.items() if (m or UNNAMED) == name}
        found.append(_metric_diff(name, mine_old, mine_new, allow_mismatch, top))
    if not any(m.joined for m in found):
        held = [", ".join(sorted({_metric(k) for k in run})) for run in (old, now)]
        raise InputError(
            f"{base} and {new} share no (id, metric): nothing to compare (BASE holds "
            f"{held[0]}; NEW holds {held[1]}: are they runs of the same inputs?)"
        )
    if inputs is not None:
        _with_inputs(found, inputs)
    return Diff(base, new, found)


def _with_inputs(found: list[MetricDiff], sources: tuple[RowSource, RowSource]) -> None:
    """Fill each worse row's inputs, read from the sources a row at a time (only the rows
    listed are kept)."""
    wanted = {row.key for metric in found for row in metric.worst}
    if not wanted:
        return
    read = [
        {
            row.key: {k: v for k, v in row.data.items() if k != source.id_column}
            for row in source.rows()
            if row.key in wanted and isinstance(row.data, dict)
        }
        for source in sources
    ]
    for metric in found:
        rows = []
        for row in metric.worst:
            old, now = read[0].get(row.key), read[1].get(row.key)
            mine = old if isinstance(old, dict) else {}
            theirs = now if isinstance(now, dict) else {}
            changed = {k: v for k, v in theirs.items() if mine.get(k) != v}
            rows.append(replace(row, inputs=mine, new_inputs=changed))
        metric.worst = rows


def _metric(key: Done) -> str:
    return key[1] or UNNAMED


def _metric_diff(
    name: str,
    old: dict[str, dict[str, Any]],
    new: dict[str, dict[str, Any]],
    allow_mismatch: bool,
    top: int,
) -> MetricDiff:
    models = (_model(old), _model(new))
    if old and new and models[0] != models[1] and not allow_mismatch:
        raise JudgeMismatch(
            f"{name}: the runs were judged by different models ({models[0]} in BASE, "
            f"{models[1]} in NEW): a different judge is not a regression; give "
            "--allow-mismatch to compare them anyway"
        )
    if not allow_mismatch:
        _same_judge(name, old, new)
    shared = [key for key in old if key in new]
    found = MetricDiff(
        name,
        models,
        joined=len(shared),
        only_base=[old[k]["id"] for k in old if k not in new],
        only_new=[new[k]["id"] for k in new if k not in old],
    )
    judged = [k for k in shared if ERROR_KEY not in old[k] and ERROR_KEY not in new[k]]
    found.errors = (
        sum(ERROR_KEY in old[k] for k in shared),
        sum(ERROR_KEY in new[k] for k in shared),
    )
    if not judged:
        return found
    if any(isinstance(old[k].get("orders"), list) for k in judged):  # pairwise verdicts
        paired = [k for k in judged if old[k].get("verdict") in STANDING
                  and new[k].get("verdict") in STANDING]  # fmt: skip
        base_verdicts = [str(old[k]["verdict"]) for k in paired]
        new_verdicts = [str(new[k]["verdict"]) for k in paired]
        found.pairs = pair_change(base_verdicts, new_verdicts)
        found.counts = _counts(base_verdicts, new_verdicts, order=tuple(STANDING))
        drops = sorted(
            ((k, STANDING[new[k]["verdict"]] - STANDING[old[k]["verdict"]]) for k in paired),
            key=lambda item: item[1],
        )
        found.worst = [_worse(old[k], new[k], "verdict", change) for k, change in drops[:top]
                       if change < 0]  # fmt: skip
        return found
    if any("label" in old[k] or "label" in new[k] for k in judged):
        base_pass = [old[k].get("label") in PASSING for k in judged]
        new_pass = [new[k].get("label") in PASSING for k in judged]
        found.labels = label_change(base_pass, new_pass)
        found.counts = _counts([old[k].get("label") for k in judged],
                               [new[k].get("label") for k in judged])  # fmt: skip
        drops = [(k, -1.0) for k, a, b in zip(judged, base_pass, new_pass, strict=True) if a > b]
        found.worst = [_worse(old[k], new[k], "label", change) for k, change in drops[:top]]
        return found
    scored = [k for k in judged if _number(old[k].get("score")) and _number(new[k].get("score"))]
    found.scores = score_change(
        [old[k]["score"] for k in scored], [new[k]["score"] for k in scored]
    )
    found.counts = _counts([old[k]["score"] for k in scored], [new[k]["score"] for k in scored])
    expected = [k for k in scored if _number(old[k].get("expected_score"))
                and _number(new[k].get("expected_score"))]  # fmt: skip
    if expected:
        found.expected = score_change(
            [old[k]["expected_score"] for k in expected],
            [new[k]["expected_score"] for k in expected],
        )
    drops = sorted(
        ((k, float(new[k]["score"]) - float(old[k]["score"])) for k in scored),
        key=lambda item: item[1],
    )
    found.worst = [_worse(old[k], new[k], "score", change) for k, change in drops[:top]
                   if change < 0]  # fmt: skip
    return found


def _judges(records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The different `judge` identities a run's verdict rows carry, in the order met."""
    found: dict[str, dict[str, Any]] = {}
    for record in records.values():
        judge = record.get(JUDGE_KEY)
        if isinstance(judge, dict):
            found.setdefault(json.dumps(judge, sort_keys=True), judge)
    return list(found.values())


def _same_judge(name: str, old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> None:
    """A `JudgeMismatch` where the rows' judges differ: within a run (a resume with other
    settings), or between the runs (where both say)."""
    said = {"BASE": _judges(old), "NEW": _judges(new)}
    for run, judges in said.items():
        if len(judges) > 1:
            raise JudgeMismatch(
                f"{name}: {run}'s rows were judged by {len(judges)} different judges "
                f"({_differences(judges[0], judges[1], 'one', 'another')}): compare runs of "
                "one judge, or give --allow-mismatch"
            )
    if said["BASE"] and said["NEW"] and said["BASE"][0] != said["NEW"][0]:
        differs = _differences(said["BASE"][0], said["NEW"][0], "BASE", "NEW")
        raise JudgeMismatch(
            f"{name}: the runs were judged by different judges ({differs}): a different "
            "judge is not a regression; give --allow-mismatch to compare them anyway"
        )


def _differences(a: dict[str, Any], b: dict[str, Any], one: str, other: str) -> str:
    """`max_tokens 48 in BASE, 6 in NEW; grammar ...` for each key whose value differs."""
    keys = [k for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)]
    return "; ".join(f"{k} {a.get(k)} in {one}, {b.get(k)} in {other}" for k in keys)


def _worse(old: dict[str, Any], new: dict[str, Any], kind: str, change: float) -> Worse:
    turn = old.get(TURN_KEY)
    return Worse(
        id=old["id"],
        turn=turn if isinstance(turn, int) else None,
        base=old.get(kind),
        new=new.get(kind),
        change=change,
        base_feedback=_feedback(old),
        new_feedback=_feedback(new),
    )


def _counts(
    base: Sequence[Any], new: Sequence[Any], order: tuple[Any, ...] = ()
) -> tuple[dict[Any, int], dict[Any, int]]:
    """Each decision's count in each run, over the same values in the same order (`order`
    first, then the rest sorted)."""
    values = [*order, *sorted({*base, *new} - set(order), key=_by_value)]
    return (
        {v: sum(1 for b in base if b == v) for v in values},
        {v: sum(1 for n in new if n == v) for v in values},
    )


def _by_value(value: Any) -> tuple[int, float, str]:
    """Numbers in order first (a 0-10 scale's 10 after its 9), then text."""
    if _number(value):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def _feedback(record: dict[str, Any]) -> str:
    """A verdict's feedback; a pair's, its first order's."""
    orders = record.get("orders")
    if isinstance(orders, list) and orders and isinstance(orders[0], dict):
        return str(orders[0].get("feedback", ""))
    return str(record.get("feedback", ""))


def _model(records: dict[str, dict[str, Any]]) -> str | None:
    """The model a metric's rows name (the first that names one)."""
    return next((str(r["model"]) for r in records.values() if r.get("model")), None)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
