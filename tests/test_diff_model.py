"""`edgejudge diff` on two real runs of the demo model in llama.cpp: the same rows judged
with two feedback budgets, compared row by row; the figures are the journals' own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgejudge import Judge
from edgejudge.cli import main
from edgejudge.judging import batch
from edgejudge.judging.rows import Row
from edgejudge.regression.compare import diff
from tests.support.cases import TEN_FAITHFULNESS

pytestmark = pytest.mark.model

METRIC = "response-faithfulness-5point"


def judged(runtime: Any, out: Path, max_tokens: int) -> Path:
    rows = [Row(n, n, data=dict(case)) for n, case in enumerate(TEN_FAITHFULNESS[:4])]
    with Judge(None, METRIC, runtime=runtime, max_tokens=max_tokens) as judge:
        with batch.BatchOutput(out) as output:
            list(batch.run_batch(judge, rows, output))
    return out


def test_two_real_runs_compared(
    demo_runtime: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = judged(demo_runtime, tmp_path / "base.jsonl", 12)
    new = judged(demo_runtime, tmp_path / "new.jsonl", 4)
    found = diff(base, new).metrics[0]
    records = [[json.loads(x) for x in p.read_text().splitlines()] for p in (base, new)]
    change = [b["score"] - a["score"] for a, b in zip(*records, strict=True)]
    quantities = found.quantities()
    assert found.models == ("demo", "demo") and found.joined == 4
    assert quantities["mean_change"].value == pytest.approx(sum(change) / 4)
    assert quantities["worse"].value == sum(c < 0 for c in change)
    expected = [b["expected_score"] - a["expected_score"] for a, b in zip(*records, strict=True)]
    assert quantities["expected_change"].value == pytest.approx(sum(expected) / 4)
    assert [w.id for w in found.worst] == sorted(
        (i for i, c in enumerate(change) if c < 0), key=lambda i: change[i]
    )[:5]
    assert main(["diff", str(base), str(new), "--markdown"]) == 0
    summary = capsys.readouterr().out
    assert summary.startswith("### edgejudge diff: `base.jsonl` → `new.jsonl`")
    assert "| expected_change | " in summary
