"""`edgejudge diff` on real runs of the demo model in llama.cpp: the same questions with the
answers of two releases, judged by the same judge, compared row by row (the figures are
the journals' own); a run judged with another token budget is refused as another judge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgejudge import Judge
from edgejudge.cli import main
from edgejudge.judging import batch
from edgejudge.judging.rows import Row
from edgejudge.regression.compare import JudgeMismatch, diff
from tests.support.cases import TEN_FAITHFULNESS

pytestmark = pytest.mark.model

METRIC = "response-faithfulness-5point"
CASES = TEN_FAITHFULNESS[:4]
# The second release answers every question with something its context does not say.
WORSE = [dict(case, response="The moon is made of cheese.") for case in CASES]


def judged(runtime: Any, out: Path, cases: list[dict[str, str]], max_tokens: int = 12) -> Path:
    rows = [Row(n, n, data=dict(case)) for n, case in enumerate(cases)]
    with Judge(None, METRIC, runtime=runtime, max_tokens=max_tokens) as judge:
        with batch.BatchOutput(out) as output:
            list(batch.run_batch(judge, rows, output))
    return out


def test_two_releases_judged_by_one_judge_compared(
    demo_runtime: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = judged(demo_runtime, tmp_path / "base.jsonl", CASES)
    new = judged(demo_runtime, tmp_path / "new.jsonl", WORSE)
    found = diff(base, new).metrics[0]
    records = [[json.loads(x) for x in p.read_text().splitlines()] for p in (base, new)]
    assert records[0][0]["judge"] == records[1][0]["judge"]  # who judged, on every row
    assert records[0][0]["judge"]["max_tokens"] == 12
    change = [b["score"] - a["score"] for a, b in zip(*records, strict=True)]
    quantities = found.quantities()
    assert found.models == ("demo", "demo") and found.joined == 4
    assert quantities["mean_change"].value == pytest.approx(sum(change) / 4)
    assert quantities["worse"].value == sum(c < 0 for c in change)
    expected = [b["expected_score"] - a["expected_score"] for a, b in zip(*records, strict=True)]
    assert quantities["expected_change"].value == pytest.approx(sum(expected) / 4)
    assert [w.id for w in found.worst] == sorted(
        (i for i, c in enumerate(change) if c < 0), key=lambda i: change[i]
    )
    assert main(["diff", str(base), str(new), "--markdown"]) == 0
    summary = capsys.readouterr().out
    assert summary.startswith("### edgejudge diff: `base.jsonl` → `new.jsonl`")
    assert "| expected_change | " in summary
    # Another token budget is another judge: refused, naming the setting.
    other = judged(demo_runtime, tmp_path / "other.jsonl", CASES, max_tokens=4)
    with pytest.raises(JudgeMismatch, match="max_tokens 12 in BASE, 4 in NEW"):
        diff(base, other)
    assert diff(base, other, allow_mismatch=True).metrics[0].joined == 4
