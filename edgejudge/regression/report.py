"""A diff as people and machines read it: the table's rows (named as the gates and the
`--json` keys are), the JSON document, and the Markdown summary for a CI step or a pull
request. Pure: the CLI prints what these return."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from edgejudge.regression.compare import Diff, GateResult, MetricDiff, Quantity, Worse
from edgejudge.regression.statistics import Test

# Feedback shown of a worse row in the Markdown summary (the JSON has it whole).
FEEDBACK_CHARS = 160
MARKDOWN_WORST = 5


# How each quantity is written: a change signed, a count whole, a share and a p-value plain.
_STYLE = {"better": "{:.0f}", "worse": "{:.0f}", "worse_share": "{:.3f}", "p_worse": "{:.3g}"}


def quantity_cell(name: str, quantity: Quantity | None) -> str:
    """`-0.500 [-0.800, -0.200]`; a count as it is; `—` (and why) where undefined."""
    if quantity is None:
        return ""
    if quantity.value is None:
        return f"— ({quantity.why})" if quantity.why else "—"
    style = _STYLE.get(name, "{:+.3f}")
    value = style.format(quantity.value)
    if quantity.low is None or quantity.high is None:
        return value
    return f"{value} [{style.format(quantity.low)}, {style.format(quantity.high)}]"


def _plain(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def table_rows(diff: Diff) -> list[tuple[str, list[str]]]:
    """The table: a row per quantity (its gate name where it has one), a column per metric."""
    metrics = diff.metrics
    rows: list[tuple[str, list[str]]] = [
        ("kind", [m.kind for m in metrics]),
        ("judge", [_judge(m) for m in metrics]),
        ("rows", [str(_rows(m)) for m in metrics]),
        ("errors (base / new)", [f"{m.errors[0]} / {m.errors[1]}" for m in metrics]),
        ("only in base / new", [f"{len(m.only_base)} / {len(m.only_new)}" for m in metrics]),
        ("base mean", [_plain(m.scores.base_mean if m.scores else None) for m in metrics]),
        ("new mean", [_plain(m.scores.new_mean if m.scores else None) for m in metrics]),
        (
            "base pass rate",
            [_plain(m.labels.base_pass_rate if m.labels else None) for m in metrics],
        ),
        (
            "new pass rate",
            [_plain(m.labels.new_pass_rate if m.labels else None) for m in metrics],
        ),
        (
            "base win rate (A)",
            [_plain(m.pairs.base_win_rate if m.pairs else None) for m in metrics],
        ),
        (
            "new win rate (A)",
            [_plain(m.pairs.new_win_rate if m.pairs else None) for m in metrics],
        ),
    ]
    named = [m.quantities() for m in metrics]
    for name in ("mean_change", "expected_change", "pass_rate_change", "win_rate_change",
                 "better", "worse", "worse_share", "p_worse"):  # fmt: skip
        cells = [quantity_cell(name, q.get(name)) for q in named]
        rows.append((name, cells))
    rows.append(("points changed", [_steps(m) for m in metrics]))
    rows.append(("test", [_test(_test_of(m)) for m in metrics]))
    return [(name, cells) for name, cells in rows if any(cells) and any(c != "—" for c in cells)]


def rich_table(diff: Diff) -> Any:
    """The table as a rich `Table` (the CLI prints it; the TUI shows it)."""
    from rich.table import Table

    table = Table(title=f"diff · {diff.base} → {diff.new} · value [95% CI]", title_justify="left")
    table.add_column("quantity")
    for metric in diff.metrics:
        table.add_column(metric.metric, justify="right")
    for name, cells in table_rows(diff):
        table.add_row(name, *cells)
    return table


def _rows(found: MetricDiff) -> int:
    if found.pairs is not None:
        return found.pairs.n
    if found.labels is not None:
        return found.labels.n
    return found.scores.n if found.scores is not None else 0


def _judge(found: MetricDiff) -> str:
    base, new = found.models
    return str(base) if base == new else f"{base} → {new}"


def _steps(found: MetricDiff) -> str:
    if found.scores is None:
        return ""
    return ", ".join(f"{step:+g}: {count}" for step, count in found.scores.by_points.items())


def _test_of(found: MetricDiff) -> Test | None:
    if found.labels is not None:
        return found.labels.mcnemar
    return found.scores.wilcoxon if found.scores is not None else None


def _test(test: Test | None) -> str:
    if test is None:
        return ""
    if test.p is None:
        return f"{test.name}: — ({test.why})"
    return f"{test.name} ({test.method}): p = {test.p:.3g}, {test.n} rows"


def to_json(diff: Diff, gates: Sequence[GateResult] = ()) -> dict[str, Any]:
    """The whole diff as one JSON-ready document."""
    metrics = {}
    for found in diff.metrics:
        test = _test_of(found)
        entry: dict[str, Any] = {
            "kind": found.kind,
            "models": {"base": found.models[0], "new": found.models[1]},
            "rows": _rows(found),
            "errors": {"base": found.errors[0], "new": found.errors[1]},
            "only_in_base": found.only_base,
            "only_in_new": found.only_new,
        }
        if found.scores is not None:
            entry["base_mean"], entry["new_mean"] = found.scores.base_mean, found.scores.new_mean
            entry["same"] = found.scores.same
            entry["points_changed"] = {f"{k:+g}": v for k, v in found.scores.by_points.items()}
        if found.labels is not None:
            entry["base_pass_rate"] = found.labels.base_pass_rate
            entry["new_pass_rate"] = found.labels.new_pass_rate
        if found.pairs is not None:
            entry["base_win_rate"] = found.pairs.base_win_rate
            entry["new_win_rate"] = found.pairs.new_win_rate
        entry.update({name: q.fields() for name, q in found.quantities().items()})
        entry["test"] = test.fields() if test is not None else None
        entry["worst"] = [w.fields() for w in found.worst]
        metrics[found.metric] = entry
    return {
        "base": str(diff.base),
        "new": str(diff.new),
        "metrics": metrics,
        "gates": [
            {
                "gate": g.gate.text,
                "metric": g.metric,
                "quantity": g.gate.name,
                "value": g.quantity.of(g.gate.bound),
                "failed": g.failed,
            }  # fmt: skip
            for g in gates
        ],
    }


def markdown(diff: Diff, gates: Sequence[GateResult] = ()) -> str:
    """A summary fit for a CI step summary or a pull-request comment: the table, the gates,
    and each metric's worst rows (at most `MARKDOWN_WORST`)."""
    names = [m.metric for m in diff.metrics]
    lines = [f"### edgejudge diff: `{diff.base.name}` → `{diff.new.name}`", ""]
    lines.append("| | " + " | ".join(f"`{n}`" for n in names) + " |")
    lines.append("|---|" + "---|" * len(names))
    for name, cells in table_rows(diff):
        lines.append(f"| {name} | " + " | ".join(_md(c) for c in cells) + " |")
    if gates:
        lines += ["", "**Gates**", ""]
        lines += [f"- {'❌' if g.failed else '✅'} {_md(g.line())}" for g in gates]
    for found in diff.metrics:
        if not found.worst:
            continue
        lines += ["", f"**Got worse: `{found.metric}`** (largest drop first)", ""]
        changed = any(w.new_inputs for w in found.worst)
        head = "| id | base | new | base feedback | new feedback |"
        lines += [head + (" changed in NEW |" if changed else ""),
                  "|---|---|---|---|---|" + ("---|" if changed else "")]  # fmt: skip
        lines += [_worse_line(w, changed) for w in found.worst[:MARKDOWN_WORST]]
    return "\n".join(lines) + "\n"


def _worse_line(row: Worse, changed: bool) -> str:
    line = (
        f"| {_md(row.label)} | {_md(str(row.base))} | {_md(str(row.new))} | "
        f"{_md(one_line(row.base_feedback))} | {_md(one_line(row.new_feedback))} |"
    )
    if changed:
        said = "; ".join(f"{k}: {one_line(as_text(v))}" for k, v in (row.new_inputs or {}).items())
        line += f" {_md(said)} |"
    return line


def as_text(value: Any) -> str:
    """An input's value as text: text as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def one_line(text: str, most: int = FEEDBACK_CHARS) -> str:
    """`text` on one line (whitespace runs as one space), cut at `most` characters with `…`."""
    flat = " ".join(text.split())
    return flat if len(flat) <= most else flat[: most - 1] + "…"


def _md(text: str) -> str:
    """Text safe in a Markdown table cell: pipes and markup characters escaped."""
    out = text.replace("\\", "\\\\")
    for char in "|*_`<>[]":
        out = out.replace(char, "\\" + char)
    return out.replace("\n", " ")


def junit(diff: Diff, gates: Sequence[GateResult]) -> str:
    """The gates as a JUnit XML document, one test case per (gate, metric), so any CI lists
    them: a failed gate a `failure` with the value measured, a gate on a quantity the data
    leaves undefined `skipped` with why; with no gates, one passing case per metric."""
    from xml.etree import ElementTree

    suites = ElementTree.Element("testsuites")
    suite = ElementTree.SubElement(suites, "testsuite", name="edgejudge diff")
    cases = 0
    failed = skipped = 0
    for result in gates:
        case = ElementTree.SubElement(
            suite,
            "testcase",
            classname=f"edgejudge.diff.{result.metric}",
            name=result.gate.text,
            time="0",
        )
        cases += 1
        if result.quantity.of(result.gate.bound) is None:
            skipped += 1
            ElementTree.SubElement(case, "skipped", message=result.line())
        elif result.failed:
            failed += 1
            failure = ElementTree.SubElement(case, "failure", message=result.line(), type="gate")
            failure.text = f"{diff.base} -> {diff.new}: {result.line()}"
    if not gates:
        for found in diff.metrics:
            ElementTree.SubElement(suite, "testcase", classname="edgejudge.diff",
                                   name=found.metric, time="0")  # fmt: skip
            cases += 1
    counts = {"tests": cases, "failures": failed, "errors": 0, "skipped": skipped}
    for element in (suites, suite):
        element.attrib.update({key: str(value) for key, value in counts.items()})
    suite.set("time", "0")
    ElementTree.indent(suites)
    text: str = ElementTree.tostring(suites, encoding="unicode", xml_declaration=True)
    return text + "\n"
