"""`edgejudge diff --html` in a real headless browser, network cut off: the page renders
with no console error, each metric's before/after chart is drawn with its bars, the worse
rows show both feedbacks side by side, and the intervals switch works."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgejudge.cli import main
from tests.support.browser import browser_session, chart_boxes, open_page

browser = pytest.fixture(scope="module")(browser_session)

SCORES = "response-faithfulness-5point"
LABELS = "hallucination-detection"


def journal(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps({"model": "demo", **row}) + "\n" for row in rows))
    return path


def test_the_diff_page_renders_charts_and_worse_rows(browser: Any, tmp_path: Path) -> None:
    before = [3, 4, 5, 2, 4, 3]
    after = [2, 4, 5, 1, 4, 1]
    rows = [
        *({"id": i, "metric": SCORES, "score": s, "feedback": f"<b>base {i}</b>"}
          for i, s in enumerate(before)),
        *({"id": i, "metric": LABELS, "label": "PASS", "score": 1, "feedback": "ok"}
          for i in range(6)),
    ]  # fmt: skip
    new_rows = [
        *({"id": i, "metric": SCORES, "score": s, "feedback": f"new {i}"}
          for i, s in enumerate(after)),
        *({"id": i, "metric": LABELS, "label": "FAIL" if i < 2 else "PASS", "score": int(i >= 2),
           "feedback": "bad"} for i in range(6)),
    ]  # fmt: skip
    base = journal(tmp_path / "base.jsonl", rows)
    new = journal(tmp_path / "new.jsonl", new_rows)
    page = tmp_path / "diff.html"
    code = main(["diff", str(base), str(new), "--html", str(page), "--fail-if", "worse > 1"])
    assert code == 3
    logged = open_page(browser, page)
    assert not [entry for entry in logged if entry["level"] == "SEVERE"], logged
    assert browser.title == "edgejudge diff · base.jsonl → new.jsonl"
    charts = chart_boxes(browser)
    assert [chart["kind"] for chart in charts] == ["before-after", "before-after"]
    for chart in charts:
        assert chart["visible"] and chart["width"] > 300 and chart["height"] > 150, chart
    assert charts[0]["marks"] == 2 * 5  # a bar per run for each score seen: 1 to 5
    assert charts[1]["marks"] == 2 * 2  # PASS and FAIL, before and after
    cells = browser.execute_script(
        "return Array.from(document.querySelectorAll('table.worse tbody tr'))"
        ".map(r => Array.from(r.cells).map(c => c.textContent));"
    )
    assert cells[0] == ["5", "3 → 1", "", "<b>base 5</b>", "new 5"]  # escaped, not markup
    failed = browser.find_element("css selector", "ul.gates li.failed")
    assert failed.text.startswith(f"FAILED {SCORES}: worse > 1: 3")
    interval = browser.find_element("css selector", "table.stats .ci")
    assert interval.is_displayed()
    browser.find_element("id", "show-ci").click()
    assert not interval.is_displayed()
