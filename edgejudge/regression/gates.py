"""`--fail-if`: the gates a CI job sets on a diff, parsed (never evaluated as code).

A gate is one comparison of a named quantity with a number:

    [METRIC.]QUANTITY[.low|.high] OP NUMBER

* QUANTITY is one of `QUANTITIES` (the same words as the `--json` keys and the table's
  rows): `mean_change`, `expected_change`, `better`, `worse`, `worse_share`,
  `pass_rate_change`, `win_rate_change` (pairwise journals), `p_worse`;
* `.low` / `.high` take an end of its 95% interval instead of its value (for the
  quantities that have one);
* METRIC limits the gate to one metric; without it, the gate applies to every metric that
  has the quantity (a score metric has no pass rate; a label metric no mean score);
* OP is `<`, `<=`, `>` or `>=`; NUMBER a decimal, e.g. `-0.2`, `0.05`, `3`.

The gate fails when the comparison holds: `mean_change < -0.2` fails a run whose mean score
fell by more than 0.2. A quantity the data leaves undefined (a p-value where no row changed)
cannot fail a gate; the report says so.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from edgejudge.errors import InputError

# Each quantity and whether it has an interval (`.low` / `.high`).
QUANTITIES: dict[str, bool] = {
    "mean_change": True,
    "expected_change": True,
    "better": False,
    "worse": False,
    "worse_share": True,
    "pass_rate_change": True,
    "win_rate_change": True,
    "p_worse": False,
}
BOUNDS = ("low", "high")
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_GATE = re.compile(r"\s*(?P<left>[^<>=\s]+)\s*(?P<op><=|>=|<|>)\s*(?P<number>\S+)\s*")
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)")
_FORM = "[METRIC.]QUANTITY[.low|.high] < NUMBER (or <=, >, >=)"


@dataclass(frozen=True)
class Gate:
    """One parsed gate: `metric` None for every metric; `bound` None for the value."""

    text: str
    quantity: str
    op: str
    threshold: float
    metric: str | None = None
    bound: str | None = None

    def fails(self, value: float) -> bool:
        """Whether `value` (the quantity measured) fails this gate."""
        return OPERATORS[self.op](value, self.threshold)

    @property
    def name(self) -> str:
        """The quantity as written: `faithfulness.mean_change.low`."""
        return ".".join(p for p in (self.metric, self.quantity, self.bound) if p)


def parse_gate(text: str) -> Gate:
    """A `--fail-if` expression as a `Gate`; an `InputError` saying what was expected."""
    match = _GATE.fullmatch(text)
    if match is None:
        raise InputError(f"--fail-if {text!r} is not a gate: write {_FORM}")
    number = match["number"]
    if not _NUMBER.fullmatch(number):
        raise InputError(f"--fail-if {text!r}: {number!r} is not a number")
    parts = match["left"].split(".")
    bound = parts.pop() if len(parts) > 1 and parts[-1] in BOUNDS else None
    quantity = parts.pop()
    metric = ".".join(parts) or None
    if quantity not in QUANTITIES:
        known = ", ".join(QUANTITIES)
        raise InputError(f"--fail-if {text!r}: no quantity {quantity!r}; the quantities: {known}")
    if bound is not None and not QUANTITIES[quantity]:
        raise InputError(
            f"--fail-if {text!r}: {quantity} has no interval, so no .{bound}; give it bare"
        )
    return Gate(text.strip(), quantity, match["op"], float(number), metric, bound)
