"""Meta-evaluation fixtures: metrics, labelled JSONL files written for a test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgejudge.io.metric_files import resolve_any_metric

FIVE = resolve_any_metric("response-faithfulness-5point")
PAIRS = resolve_any_metric("pairwise-faithfulness")
HUMAN = [5, 1, 4, 3, 5, 2, 1, 4, 5, 3, 2, 4]
JUDGE = [5, 2, 4, 4, 4, 2, 1, 3, 5, 3, 1, 5]
EXPECTED = [4.6, 1.8, 3.9, 3.7, 4.2, 2.3, 1.2, 3.1, 4.8, 3.2, 1.5, 4.4]
RESPONSES = ["a" * n for n in (30, 5, 22, 18, 41, 9, 3, 25, 33, 17, 8, 26)]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def numeric_rows(tmp_path: Path) -> tuple[Path, Path]:
    """A labelled set (with two labels that cannot be read) and its verdicts (an error row,
    a missing row)."""
    rows = [
        {"id": i, "query": "q", "context": "c", "response": r, "label": h}
        for i, (r, h) in enumerate(zip(RESPONSES, HUMAN, strict=True))
    ]
    rows.append({"id": "off", "query": "q", "context": "c", "response": "r", "label": 7})
    rows.append({"id": "none", "query": "q", "context": "c", "response": "r"})
    rows.append({"id": "err", "query": "q", "context": "c", "response": "r", "label": 2})
    rows.append({"id": "gone", "query": "q", "context": "c", "response": "r", "label": 3})
    verdicts = [
        {
            "id": i,
            "feedback": "f",
            "score": j,
            "model": "judge-x",
            "metric": FIVE.name,
            "expected_score": e,
            "confidence": 0.5 + 0.04 * i,
            "probabilities": {"1": 0.2, "2": 0.2, "3": 0.2, "4": 0.2, "5": 0.2},
        }
        for i, (j, e) in enumerate(zip(JUDGE, EXPECTED, strict=True))
    ]
    verdicts.append({"id": "err", "error": "prompt longer than the context"})
    return (
        write_jsonl(tmp_path / "labels.jsonl", rows),
        write_jsonl(tmp_path / "judge-x.jsonl", verdicts),
    )
