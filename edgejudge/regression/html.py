"""A diff as one self-contained HTML page, in meta-eval's style: the table, the gates, for
each metric a before/after chart of its decisions (inline SVG drawn here) and the rows that
got worse with the two feedbacks side by side. Nothing is fetched when it is viewed: it
works offline and can be mailed as it is."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from edgejudge import __version__
from edgejudge.meta_eval.html import SCRIPT, STYLE, svg_open, svg_text
from edgejudge.regression.compare import Diff, GateResult, MetricDiff, Worse
from edgejudge.regression.report import as_text, table_rows

EXTRA_STYLE = """
table.worse { border-collapse: collapse; margin: 1em 0; width: 100%; }
table.worse th, table.worse td { padding: .4em .6em; border-bottom: 1px solid #e3e6ec;
       vertical-align: top; text-align: left; }
table.worse td.feedback { width: 38%; white-space: pre-wrap; }
ul.gates li.failed { color: #a3261b; font-weight: 600; } ul.gates li.passed { color: #2c6e2f; }
rect.base { fill: #9aa5b8; } rect.new { fill: #3d6fb6; }
"""
# The chart's size and margins, in pixels.
_WIDTH, _HEIGHT, _LEFT, _BOTTOM, _TOP = 420.0, 240.0, 36.0, 40.0, 16.0


def render(diff: Diff, gates: Sequence[GateResult] = ()) -> str:
    """The whole page."""
    e = html.escape
    heading = f"{diff.base.name} → {diff.new.name}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>edgejudge diff · {e(heading)}</title>",
        f"<style>{STYLE}{EXTRA_STYLE}</style></head><body>",
        f"<h1>Did it get worse? {e(heading)}</h1>",
        f'<p class="about">BASE <code>{e(str(diff.base))}</code> · NEW '
        f"<code>{e(str(diff.new))}</code> · 95% paired bootstrap intervals · edgejudge "
        f"{e(__version__)}</p>",
        '<label><input type="checkbox" id="show-ci" checked> show 95% intervals</label>',
        _table(diff),
    ]
    if gates:
        items = "".join(
            f'<li class="{"failed" if g.failed else "passed"}">{e(g.line())}</li>' for g in gates
        )
        parts.append(f'<h2>Gates</h2><ul class="gates">{items}</ul>')
    for found in diff.metrics:
        parts.append(f'<section class="metric"><h2>{e(found.metric)}</h2>')
        parts.append('<div class="charts">')
        parts.append(_figure(found))
        parts.append("</div>")
        parts.append(_worse(found))
        parts.append("</section>")
    parts.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"


def _table(diff: Diff) -> str:
    e = html.escape
    head = "<th>quantity</th>" + "".join(f"<th>{e(m.metric)}</th>" for m in diff.metrics)
    body = []
    for name, cells in table_rows(diff):
        shown = []
        for text in cells:
            value, _, interval = text.partition(" [")
            ci = f'<span class="ci">[{e(interval)}</span>' if interval else ""
            shown.append(f"<td>{e(value)}{ci}</td>")
        body.append(f"<tr><td>{e(name)}</td>{''.join(shown)}</tr>")
    return (
        f'<div class="wide"><table class="stats"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _figure(found: MetricDiff) -> str:
    what = {"score": "score", "label": "label", "pairwise": "verdict"}[found.kind]
    caption = (
        f"How many rows had each {what}, BASE (grey) and NEW (blue), over the "
        f"{sum(found.counts[0].values())} rows both runs judged"
    )
    return (
        f'<figure class="chart" data-chart="before-after">{before_after(found.counts)}'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def before_after(counts: tuple[dict[Any, int], dict[Any, int]]) -> str:
    """Two bars for each decision value: BASE's count and NEW's."""
    base, new = counts
    values = list(base)
    out = [svg_open(_WIDTH, _HEIGHT, "decisions before and after")]
    if not values:
        return "".join([*out, svg_text(_WIDTH / 2, _HEIGHT / 2, "no rows", "middle"), "</svg>"])
    top = max([*base.values(), *new.values(), 1])
    plot = _HEIGHT - _BOTTOM - _TOP
    slot = (_WIDTH - _LEFT - 8) / len(values)
    bar = min(28.0, slot / 2.6)
    for index, value in enumerate(values):
        centre = _LEFT + slot * (index + 0.5)
        for side, (kind, count) in enumerate((("base", base[value]), ("new", new[value]))):
            height = plot * count / top
            x = centre - bar + side * bar
            y = _TOP + plot - height
            out.append(
                f'<rect class="bar {kind}" x="{x:.1f}" y="{y:.1f}" width="{bar - 2:.1f}" '
                f'height="{height:.1f}"><title>{kind.upper()} {html.escape(str(value))}: '
                f"{count}</title></rect>"
            )
            out.append(svg_text(x + (bar - 2) / 2, y - 3, str(count), "middle"))
        out.append(svg_text(centre, _HEIGHT - _BOTTOM + 16, str(value), "middle"))
    axis = _TOP + plot
    out.append(f'<line x1="{_LEFT}" y1="{axis:.1f}" x2="{_WIDTH - 4}" y2="{axis:.1f}" '
               'stroke="#7b8394"/>')  # fmt: skip
    out.append("</svg>")
    return "".join(out)


def _worse(found: MetricDiff) -> str:
    if not found.worst:
        return '<p class="about">No row got worse.</p>'
    rows = "".join(_worse_row(row) for row in found.worst)
    return (
        "<h3>Got worse (largest drop first)</h3>"
        '<table class="worse"><thead><tr><th>id</th><th>BASE → NEW</th><th>inputs</th>'
        f"<th>BASE feedback</th><th>NEW feedback</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _worse_row(row: Worse) -> str:
    e = html.escape
    said = [f"<b>{e(k)}</b>: {e(as_text(v))}" for k, v in (row.inputs or {}).items()]
    said += [f"<b>{e(k)} (NEW)</b>: {e(as_text(v))}" for k, v in (row.new_inputs or {}).items()]
    return (
        f"<tr><td>{e(row.label)}</td><td>{e(str(row.base))} → {e(str(row.new))}</td>"
        f'<td>{"<br>".join(said)}</td><td class="feedback">{e(row.base_feedback)}</td>'
        f'<td class="feedback">{e(row.new_feedback)}</td></tr>'
    )
