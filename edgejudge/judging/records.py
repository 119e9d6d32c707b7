"""The lines a batch's output holds: a verdict, a pair's verdict or an error, each with its
row's id (and its metric); and the columns a table of them gets, one group per metric
(the export's and `evaluate_frame`'s)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from edgejudge.core.inputs import ID_KEY
from edgejudge.judging.pairs import PairResult
from edgejudge.judging.result import JudgeResult

ERROR_KEY = "error"
METRIC_KEY = "metric"
# The assistant turn a `--per-turn` line judged (1-based).
TURN_KEY = "turn"
# A verdict row written before rows named their metric is filed under this name.
UNNAMED = "verdict"
# Who judged a verdict row (`Judge.identity`): family, model sha256, metric digest, settings.
JUDGE_KEY = "judge"
# A metric's columns in this order first, then the others in the order the verdicts have.
_FIRST = (
    "score",
    "label",
    "choice",
    "verdict",
    "winner",
    "feedback",
    "expected_score",
    "confidence",
    "probabilities",
    "error",
    "error_type",
)
# The keys that join a verdict to its row, not repeated in each metric's group.
_JOIN_KEYS = (ID_KEY, METRIC_KEY, TURN_KEY)


def result_row(
    row_id: Any,
    result: JudgeResult,
    turn: int | None = None,
    judge: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The output line for a verdict (of one assistant turn, with `turn`; `judge`: who
    judged it, `Judge.identity()`)."""
    return {ID_KEY: row_id, **_turn(turn), **result.to_dict(), **_judge(judge)}


def pair_row(
    row_id: Any,
    result: PairResult,
    names: tuple[str, str] | None,
    judge: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The output line for a pairwise verdict (`winner` names a system, given `names`)."""
    return {ID_KEY: row_id, **result.to_dict(names), **_judge(judge)}


def _judge(judge: dict[str, Any] | None) -> dict[str, Any]:
    return {} if judge is None else {JUDGE_KEY: judge}


def error_row(
    row_id: Any, error: BaseException, metric: str | None = None, turn: int | None = None
) -> dict[str, Any]:
    """The output line for a row that failed (on `metric`, where named; of one assistant
    turn, with `turn`)."""
    record = {ERROR_KEY: str(error), "error_type": type(error).__name__}
    named = {} if metric is None else {METRIC_KEY: metric}
    return {ID_KEY: row_id, **_turn(turn), **named, **record}


def _turn(turn: int | None) -> dict[str, int]:
    return {} if turn is None else {TURN_KEY: turn}


def column_groups(records: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    """Each metric the verdict rows name (in the order met; `UNNAMED` for rows that name
    none) and its keys, in the order a table of them has: decision, feedback, expected
    score, confidence, probabilities, error, then the rest as the rows have them."""
    keys: dict[str, dict[str, None]] = {}
    for record in records:
        metric = record.get(METRIC_KEY)
        found = keys.setdefault(metric if isinstance(metric, str) else UNNAMED, {})
        found.update(dict.fromkeys(k for k in record if k not in _JOIN_KEYS))
    return {name: _ordered(list(found)) for name, found in keys.items()}


def _ordered(found: list[str]) -> list[str]:
    first = [k for k in _FIRST if k in found]
    return first + [k for k in found if k not in first]


def verdict_types() -> dict[str, Any]:
    """The Arrow type of each verdict key that is not text."""
    import pyarrow as pa

    numbers = dict.fromkeys(("score", "prompt_tokens", "completion_tokens"), pa.int64())
    reals = dict.fromkeys(("expected_score", "confidence", "seconds", "p_a_better"), pa.float64())
    flags = dict.fromkeys(("truncated", "enforced", "consistent"), pa.bool_())
    return {**numbers, **reals, **flags}
