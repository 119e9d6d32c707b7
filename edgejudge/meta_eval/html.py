"""A meta-evaluation as one self-contained HTML page: the statistics table, and for each
judge a heat map of its confusion matrix, its score against the human label, and (with
probabilities) a calibration curve.

Everything is in the page: the styles, the charts as inline SVG drawn here, and one small
script (the switch that shows or hides the intervals). Nothing is fetched when it is viewed,
so it works offline and can be mailed as it is.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgejudge import __version__
from edgejudge.io.atomic import write_text_atomic
from edgejudge.meta_eval.evaluation import (
    Calibration,
    Confusion,
    Estimate,
    JudgeAgreement,
    MetaEvaluation,
    Skipped,
)
from edgejudge.meta_eval.report import cell, title

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #1d2330; background: #fff; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { margin-top: 2em; font-size: 1.2em; }
section.metric > h2 { font-size: 1.35em; border-bottom: 1px solid #ccc; } h3 { font-size: 1.1em; }
.about { color: #5b6474; }
table.stats { border-collapse: collapse; margin: 1em 0; }
table.stats th, table.stats td { padding: .3em .7em; border-bottom: 1px solid #e3e6ec;
       text-align: right; white-space: nowrap; }
table.stats th:first-child, table.stats td:first-child { text-align: left; }
table.stats .baseline { color: #7b8394; }
.ci { color: #7b8394; font-size: .85em; display: block; }
.wide { overflow-x: auto; }
table.stats thead th { white-space: normal; max-width: 10em; vertical-align: bottom; }
body.no-ci .ci { display: none; }
.charts { display: flex; flex-wrap: wrap; gap: 1.5em; }
figure.chart { margin: 0; max-width: 340px; }
figure.chart figcaption { color: #5b6474; font-size: .9em; }
svg text { font: 11px system-ui, sans-serif; fill: #1d2330; }
ul.left-out { color: #8a5a00; }
"""

SCRIPT = """
document.getElementById("show-ci").addEventListener("change", function (event) {
  document.body.classList.toggle("no-ci", !event.target.checked);
});
"""


def render(evaluation: MetaEvaluation | Sequence[MetaEvaluation], *, heading: str = "") -> str:
    """The whole page: one metric's report, or several one after another."""
    e = html.escape
    evaluations = [evaluation] if isinstance(evaluation, MetaEvaluation) else list(evaluation)
    heading = heading or " · ".join(each.metric for each in evaluations)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>edgejudge meta-eval · {e(heading)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Meta-evaluation · {e(heading)}</h1>",
        '<label><input type="checkbox" id="show-ci" checked> show 95% intervals</label>',
    ]
    for each in evaluations:
        if len(evaluations) > 1:
            parts.append(f'<section class="metric"><h2>{e(each.metric)}</h2>')
        parts += _metric(each, level=3 if len(evaluations) > 1 else 2)
        if len(evaluations) > 1:
            parts.append("</section>")
    parts.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"


def _metric(evaluation: MetaEvaluation, *, level: int) -> list[str]:
    """One metric's report: what was compared, the table, each judge's charts."""
    e = html.escape
    parts = [
        f'<p class="about">metric <b>{e(evaluation.metric)}</b> ({e(evaluation.kind)}) · '
        f"{evaluation.labelled} of {evaluation.rows} rows labelled (key "
        f"<code>{e(evaluation.label_key)}</code>) · 95% paired bootstrap intervals, "
        f"{evaluation.resamples} resamples · edgejudge {e(__version__)}</p>",
        _table(evaluation),
        _baselines(evaluation),
        _left_out("Labels that could not be read", evaluation.unreadable),
    ]
    for judge in evaluation.judges:
        parts.append(f'<section class="judge"><h{level}>{e(judge.name)}</h{level}>')
        if judge.source:
            parts.append(f'<p class="about">verdicts: <code>{e(judge.source)}</code></p>')
        parts.append('<div class="charts">')
        caption = "Confusion matrix: rows the human label, columns the judge's; shade is the "
        parts.append(_figure("heatmap", caption + "share of the row", heatmap(judge.confusion)))
        parts.append(
            _figure(
                "score-vs-label", _score_caption(evaluation), score_vs_label(judge, evaluation.kind)
            )
        )
        if judge.calibration is not None:
            caption = (
                f"Calibration: {judge.calibration.what}; Brier score "
                f"{judge.calibration.brier:.3f} over {judge.calibration.n} rows"
            )
            parts.append(_figure("calibration", caption, calibration_curve(judge.calibration)))
        parts.append("</div>")
        parts.append(_left_out("Rows not judged", judge.skipped))
        parts.append("</section>")
    return parts


def write_report(
    evaluation: MetaEvaluation | Sequence[MetaEvaluation],
    path: str | os.PathLike[str],
    *,
    title: str = "",
) -> Path:
    """Write the page to `path` atomically (a stop leaves the old file or the new one)."""
    target = Path(path)
    write_text_atomic(target, render(evaluation, heading=title))
    return target


def _table(evaluation: MetaEvaluation) -> str:
    e = html.escape
    head = ["<th>statistic</th>"]
    head += [f"<th>{e(judge.name)}</th>" for judge in evaluation.judges]
    head += [f'<th class="baseline">baseline: {e(b.name)}</th>' for b in evaluation.baselines]
    judges = len(evaluation.judges)

    def row(first: str, cells: list[str]) -> str:
        tds = "".join(
            f'<td class="baseline">{text}</td>' if i >= judges else f"<td>{text}</td>"
            for i, text in enumerate(cells)
        )
        return f"<tr><td>{first}</td>{tds}</tr>"

    rows = [row("rows", [str(count) for count in evaluation.counts])]
    for name, estimates in evaluation.table():
        rows.append(row(e(title(name)), [_cell(x) for x in estimates]))
    return (
        '<div class="wide"><table class="stats"><thead><tr>'
        + "".join(head)
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )


def _cell(estimate: Estimate | None) -> str:
    if estimate is None:
        return ""
    text = cell(estimate)
    value, _, interval = text.partition(" ")
    return html.escape(value) + (
        f' <span class="ci">{html.escape(interval)}</span>' if interval else ""
    )


def _baselines(evaluation: MetaEvaluation) -> str:
    items = "".join(
        f"<li><b>{html.escape(b.name)}</b>: {html.escape(b.about)}</li>"
        for b in evaluation.baselines
    )
    return f'<ul class="about">{items}</ul>' if items else ""


def _left_out(what: str, entries: Sequence[Skipped]) -> str:
    if not entries:
        return ""
    items = "".join(
        f"<li>id <code>{html.escape(repr(x.id))}</code>: {html.escape(x.problem)}</li>"
        for x in entries
    )
    return f'<p>{html.escape(what)}: {len(entries)}</p><ul class="left-out">{items}</ul>'


def _figure(kind: str, caption: str, svg: str) -> str:
    return (
        f'<figure class="chart" data-chart="{kind}">{svg}'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _score_caption(evaluation: MetaEvaluation) -> str:
    expected = {
        "numeric": "the mean expected score",
        "binary": "the mean probability of the higher row",
        "pairwise": "the mean P(A better)",
    }[evaluation.kind]
    return (
        "The judge's decision against the human label: circle area is the number of rows; "
        f"the line, where probabilities were measured, is {expected} for each label"
    )


# -- charts ---------------------------------------------------------------------------------

CELL = 44
MARGIN = 56


def _shade(share: float) -> str:
    """White to deep blue."""
    low, high = np.array([255, 255, 255]), np.array([31, 86, 170])
    r, g, b = (low + (high - low) * min(max(share, 0.0), 1.0)).round().astype(int)
    return f"rgb({r},{g},{b})"


def heatmap(confusion: Confusion) -> str:
    """The confusion matrix as a grid of shaded cells with their counts."""
    size = len(confusion.human)
    width = height = MARGIN + CELL * size + 12
    out = [svg_open(width, height, "confusion matrix heat map")]
    for i, (label, counts) in enumerate(zip(confusion.human, confusion.counts, strict=True)):
        total = sum(counts)
        y = MARGIN + CELL * i
        out.append(svg_text(MARGIN - 8, y + CELL / 2 + 4, str(label), "end"))
        for j, count in enumerate(counts):
            x = MARGIN + CELL * j
            share = count / total if total else 0.0
            out.append(
                f'<rect class="cell" x="{x}" y="{y}" width="{CELL - 2}" height="{CELL - 2}" '
                f'fill="{_shade(share)}" stroke="#e3e6ec"><title>human '
                f"{html.escape(str(label))}, judge {html.escape(str(confusion.judge[j]))}: "
                f"{count}</title></rect>"
            )
            colour = "#fff" if share > 0.55 else "#1d2330"
            out.append(
                f'<text x="{x + CELL / 2 - 1}" y="{y + CELL / 2 + 4}" text-anchor="middle" '
                f'style="fill:{colour}">{count}</text>'
            )
    for j, label in enumerate(confusion.judge):
        out.append(svg_text(MARGIN + CELL * j + CELL / 2 - 1, MARGIN - 8, str(label), "middle"))
    out.append(svg_text(MARGIN + CELL * size / 2, 14, "judge's decision", "middle"))
    out.append(
        f'<text x="14" y="{MARGIN + CELL * size / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {MARGIN + CELL * size / 2})">← human label</text>'
    )
    out.append("</svg>")
    return "".join(out)


def score_vs_label(judge: JudgeAgreement, kind: str) -> str:
    """Circles at (human label, judge decision), area by count; a line through the mean
    expected value for each label, where measured."""
    confusion = judge.confusion
    size = len(confusion.human)
    width = height = MARGIN + CELL * size + 12
    most = max((c for row in confusion.counts for c in row), default=0) or 1
    out = [svg_open(width, height, "judge decision against human label")]

    def x_of(i: float) -> float:
        return MARGIN + CELL * i + CELL / 2

    def y_of(j: float) -> float:  # the judge's values bottom to top
        return MARGIN + CELL * (size - 1 - j) + CELL / 2

    for i in range(size):
        out.append(
            f'<line x1="{x_of(i)}" y1="{MARGIN}" x2="{x_of(i)}" '
            f'y2="{MARGIN + CELL * size}" stroke="#eef0f4"/>'
        )
    for i, counts in enumerate(confusion.counts):
        for j, count in enumerate(counts):
            if count:
                radius = 3 + (CELL / 2 - 5) * (count / most) ** 0.5
                out.append(
                    f'<circle class="point" cx="{x_of(i)}" cy="{y_of(j)}" r="{radius:.1f}" '
                    f'fill="#1f56aa" fill-opacity="0.55"><title>human '
                    f"{html.escape(str(confusion.human[i]))}, judge "
                    f"{html.escape(str(confusion.judge[j]))}: {count}</title></circle>"
                )
    points = []
    for i, entry in enumerate(judge.by_label):
        if entry.mean_expected is not None:
            points.append((x_of(i), y_of(_position(entry.mean_expected, confusion.judge, kind))))
    if len(points) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        out.append(
            f'<polyline class="expected" points="{path}" fill="none" stroke="#d0542b" '
            'stroke-width="2"/>'
        )
    for x, y in points:
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#d0542b"/>')
    for i, label in enumerate(confusion.human):
        out.append(svg_text(x_of(i), MARGIN + CELL * size + 10, str(label), "middle"))
    for j, label in enumerate(confusion.judge):
        out.append(svg_text(MARGIN - 8, y_of(j) + 4, str(label), "end"))
    title = "judge's decision ↑ · human label →"
    out.append(svg_text(MARGIN + CELL * size / 2, 14, title, "middle"))
    out.append("</svg>")
    return "".join(out)


def _position(value: float, axis: tuple[int | str, ...], kind: str) -> float:
    """Where an expected value falls on the judge's axis (0 is its first value)."""
    if kind == "pairwise":  # P(A better): 1 at A (first), 0 at B (last)
        return (1.0 - value) * (len(axis) - 1)
    if kind == "binary":  # P(higher row)
        return value
    return float(np.interp(value, [float(v) for v in axis], list(range(len(axis)))))


def calibration_curve(calibration: Calibration) -> str:
    """The reliability diagram: the diagonal, and each bin's observed share against its
    mean probability, circle area by its rows."""
    side = 220
    width, height = MARGIN + side + 16, MARGIN + side + 24
    out = [svg_open(width, height, "calibration curve")]

    def x_of(p: float) -> float:
        return MARGIN + side * p

    def y_of(p: float) -> float:
        return MARGIN + side * (1 - p)

    out.append(
        f'<rect x="{MARGIN}" y="{MARGIN}" width="{side}" height="{side}" fill="none" '
        'stroke="#d5d9e0"/>'
    )
    out.append(
        f'<line x1="{x_of(0)}" y1="{y_of(0)}" x2="{x_of(1)}" y2="{y_of(1)}" '
        'stroke="#b9bfca" stroke-dasharray="4 3"/>'
    )
    for tick in (0.0, 0.5, 1.0):
        out.append(svg_text(x_of(tick), MARGIN + side + 14, f"{tick:g}", "middle"))
        out.append(svg_text(MARGIN - 6, y_of(tick) + 4, f"{tick:g}", "end"))
    points = list(zip(calibration.predicted, calibration.observed, calibration.counts, strict=True))
    if len(points) > 1:
        path = " ".join(f"{x_of(p):.1f},{y_of(o):.1f}" for p, o, _ in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="#1f56aa" stroke-width="2"/>')
    most = max(calibration.counts, default=1)
    for p, o, count in points:
        radius = 3 + 7 * (count / most) ** 0.5
        out.append(
            f'<circle class="point" cx="{x_of(p):.1f}" cy="{y_of(o):.1f}" r="{radius:.1f}" '
            f'fill="#1f56aa" fill-opacity="0.6"><title>mean probability {p:.2f}: came true '
            f"{o:.2f} of {count} rows</title></circle>"
        )
    out.append(svg_text(MARGIN + side / 2, 14, "probability → observed ↑", "middle"))
    out.append("</svg>")
    return "".join(out)


def svg_open(width: float, height: float, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{label}">'
    )


def svg_text(x: float, y: float, text: str, anchor: str) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{html.escape(text)}</text>'
