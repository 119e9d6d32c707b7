"""The data teams keep, judged by the demo model in real llama.cpp: every input format
through `edgejudge batch` (the same verdicts whatever the file), --map and --id-column,
--export, a Parquet and a CSV input killed with SIGKILL mid-batch and resumed, and
`Judge.evaluate_frame` against `Judge.evaluate` on the same rows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from edgejudge import Judge
from edgejudge.io.writers import write_table
from edgejudge.paths import CACHE_ENV
from tests.support.cases import TEN_FAITHFULNESS
from tests.support.cli import run_cli

pytestmark = pytest.mark.model

METRIC = "response-faithfulness-5point"
ROWS = [
    {"qid": f"q{n}", "question": r["query"], "ctx": r["context"], "answer": r["response"], "n": n}
    for n, r in enumerate(TEN_FAITHFULNESS[:6])
]
MAP = ["--map", "query=question", "--map", "context=ctx", "--map", "response=answer"]


def write_input(folder: Path, kind: str, rows: list[dict[str, object]]) -> Path:
    """`rows` as a file of `kind`, written by the library teams write them with."""
    if kind == "dataset":
        import datasets

        datasets.Dataset.from_list(rows).save_to_disk(str(folder / "ds"))
        return folder / "ds"
    path = folder / f"in.{kind}"
    if kind == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    elif kind == "json":
        path.write_text(json.dumps(rows, indent=1))
    else:
        write_table(path, list(rows[0]), rows)  # csv, tsv, jsonl
    return path


def batch_args(source: Path, out: Path, *more: str) -> list[str]:
    return ["batch", str(source), "-o", str(out), "--model", "demo", "-m", METRIC,
            *MAP, "--id-column", "qid", "--no-progress", *more]  # fmt: skip


def verdicts(out: Path) -> dict[str, tuple[object, object]]:
    found = [json.loads(line) for line in out.read_text().splitlines()]
    return {r["id"]: (r.get("score"), r.get("feedback")) for r in found}


def test_every_format_gives_the_same_verdicts_and_exports(tmp_path: Path, demo_cache: Path) -> None:
    rows = ROWS[:2] + [dict(ROWS[2], answer=None), dict(ROWS[3], answer="42")]
    by_kind = {}
    # Every format's reader gives the same rows (test_tables.py, no model); here one file of
    # each kind of reader (line-based, text table, columnar) goes through a real batch.
    for kind in ("jsonl", "csv", "parquet"):
        folder = tmp_path / kind
        folder.mkdir()
        given = [dict(r, answer="") if r["answer"] is None else r for r in rows]
        source = write_input(folder, kind, given if kind in ("csv", "tsv") else rows)
        out = folder / "out.jsonl"
        done = run_cli(
            batch_args(source, out, "--max-tokens", "8", "--export", str(folder / "x.parquet")),
            demo_cache,
        )
        assert done.returncode == 1, done.stderr  # the row with no answer failed
        assert "3 judged, 1 failed" in done.stderr and "exported 4 rows" in done.stderr
        by_kind[kind] = verdicts(out)
        assert list(by_kind[kind]) == ["q0", "q1", "q2", "q3"]
        assert by_kind[kind]["q2"][0] is None  # an error row
        table = pq.read_table(folder / "x.parquet").to_pylist()
        assert [r["qid"] for r in table] == ["q0", "q1", "q2", "q3"]
        assert [r[f"{METRIC}.score"] for r in table] == [
            by_kind[kind][q][0] for q in ("q0", "q1", "q2", "q3")
        ]
        assert "is empty" in table[2][f"{METRIC}.error"]
    first = by_kind["jsonl"]
    assert all(isinstance(first[q][0], int) for q in ("q0", "q1", "q3"))
    for kind, found in by_kind.items():
        assert found == first, kind  # greedy: the file's format changes nothing


@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_a_batch_killed_with_sigkill_resumes_each_row_once(
    tmp_path: Path, demo_cache: Path, kind: str
) -> None:
    source = write_input(tmp_path, kind, ROWS)
    out = tmp_path / "out.jsonl"
    args = batch_args(source, out, "--max-tokens", "24", "--slots", "1")
    env = dict(os.environ, **{CACHE_ENV: str(demo_cache)})
    process = subprocess.Popen(
        [sys.executable, "-m", "edgejudge", *args], env=env, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while not (out.exists() and out.read_text().count("\n") >= 2):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    kept = [line for line in out.read_text().splitlines(keepends=True) if line.endswith("\n")]
    assert 2 <= len(kept) < len(ROWS)
    rerun = run_cli(args, demo_cache)
    assert rerun.returncode == 0, rerun.stderr
    assert f"already done -> {out}" in rerun.stderr
    final = out.read_text().splitlines(keepends=True)
    assert final[: len(kept)] == kept  # what the killed run finished is untouched
    assert sorted(json.loads(line)["id"] for line in final) == sorted(r["qid"] for r in ROWS)


def test_evaluate_frame_matches_evaluate_row_by_row(demo_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame(ROWS[:3])
    mapping = {"query": "question", "context": "ctx", "response": "answer"}
    with Judge(str(demo_path), METRIC, max_tokens=8) as judge:
        judged = judge.evaluate_frame(frame, map=mapping, progress=False)
        one_by_one = [
            judge.evaluate({"query": r["question"], "context": r["ctx"], "response": r["answer"]})
            for r in ROWS[:3]
        ]
    assert list(judged[f"{METRIC}.score"]) == [r.score for r in one_by_one]
    assert list(judged[f"{METRIC}.feedback"]) == [r.feedback for r in one_by_one]
    assert list(judged["qid"]) == [r["qid"] for r in ROWS[:3]]
