"""Several metrics per row: the API, batch rows keyed by (id, metric), resume and retry.

A scripted runtime (tests/support/fake_runtime.py) stands in for the model here: what is
tested is the bookkeeping. That the shared head changes no verdict is proved on the real
model in tests/test_prefix_cache.py, and the CLI on it in test_several_metrics_cli below.
"""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

import pytest

from edgejudge import Judge
from edgejudge.errors import MetricError
from edgejudge.judging import batch
from tests.cases import TEN_FAITHFULNESS
from tests.support.fake_runtime import FakeRuntime
from tests.test_cli import run_cli

METRICS = ["response-faithfulness-5point", "response-relevance-5point"]
ANSWER = "<feedback>Fine.</feedback>\n<score>1</score>"


def failing_on(word: str) -> FakeRuntime:
    """A runtime whose answer breaks the grammar when the prompt holds `word`."""
    return FakeRuntime(lambda prompt, _grammar: "no verdict" if word in prompt else ANSWER)


def test_a_judge_with_several_metrics_judges_an_input_on_each() -> None:
    runtime = FakeRuntime(ANSWER)
    with Judge(None, METRICS, runtime=runtime) as judge:
        assert [m.name for m in judge.metrics] == METRICS
        results = judge.evaluate_metrics(TEN_FAITHFULNESS[0])
        assert list(results) == METRICS
        assert [r.metric for r in results.values()] == METRICS
        assert judge.for_metric(METRICS[1]).metric.name == METRICS[1]
        with pytest.raises(MetricError, match="applies 2 metrics"):
            judge.evaluate(TEN_FAITHFULNESS[0])
        with pytest.raises(MetricError, match="no metric 'nope'"):
            judge.for_metric("nope")
    # the prompts differ only after the input: the rubric comes last
    first, second = runtime.prompts
    common = next(i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b)
    assert "Paris" in first[:common] and "EVALUATION CRITERIA" in first[:common]


@pytest.mark.parametrize(
    ("metrics", "error"),
    [
        ([], "at least one metric"),
        ([METRICS[0], METRICS[0]], "named twice"),
        ([METRICS[0], "pairwise-helpfulness"], "compares two responses"),
        ([METRICS[0], "no-such-metric"], "no-such-metric"),
    ],
)
def test_bad_metric_lists_fail_before_any_judging(metrics: list[str], error: str) -> None:
    runtime = FakeRuntime(ANSWER)
    with pytest.raises(MetricError, match=error):
        Judge(None, metrics, runtime=runtime)
    assert runtime.prompts == []


def rows_file(path: Path, n: int) -> Path:
    rows = [{"id": f"r{i}", **TEN_FAITHFULNESS[i]} for i in range(n)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def run(judge: Judge, rows: Path, out: Path, *, retry: bool = False) -> list[dict[str, object]]:
    with batch.BatchOutput(out, retry_errors=retry) as output:
        todo = output.pending(batch.read_rows(rows), [m.name for m in judge.metrics])
        with closing(batch.run_batch(judge, todo, output)) as records:
            return list(records)


def test_batch_rows_are_keyed_by_id_and_metric_and_resume_per_pair(tmp_path: Path) -> None:
    rows, out = rows_file(tmp_path / "in.jsonl", 3), tmp_path / "out.jsonl"
    runtime = failing_on("Berlin")  # row r1 fails on both metrics
    with Judge(None, METRICS, runtime=runtime) as judge:
        first = run(judge, rows, out)
        assert [(r["id"], r["metric"]) for r in first] == [
            (f"r{i}", m) for i in range(3) for m in METRICS
        ]  # a row's metrics one after another
        errors = [(r["id"], r["metric"]) for r in first if "error" in r]
        assert errors == [("r1", METRICS[0]), ("r1", METRICS[1])]
        assert run(judge, rows, out) == []  # all six pairs are there
        # one pair taken out of the file: only it is judged again
        lines = out.read_text().splitlines(keepends=True)
        out.write_text(
            "".join(line for line in lines if '"r2"' not in line or METRICS[1] not in line)
        )
        again = run(judge, rows, out)
        assert [(r["id"], r["metric"]) for r in again] == [("r2", METRICS[1])]
    with Judge(None, METRICS, runtime=FakeRuntime(ANSWER)) as judge:
        retried = run(judge, rows, out, retry=True)
    assert sorted((r["id"], r["metric"], "error" in r) for r in retried) == [
        ("r1", METRICS[0], False),
        ("r1", METRICS[1], False),
    ]
    records = batch.read_records(out)
    assert len(records) == 6 and not any("error" in r for r in records.values())
    assert set(batch.read_results(out, METRICS[1])) == {'"r0"', '"r1"', '"r2"'}
    means = batch.summaries(records.values())
    assert means == (
        f"{METRICS[0]}: mean score 1.00 (3 rows); {METRICS[1]}: mean score 1.00 (3 rows)"
    )


def test_a_single_metric_output_grows_by_the_metrics_it_lacks(tmp_path: Path) -> None:
    """An output written for one metric: a run with two judges each row on the other only."""
    rows, out = rows_file(tmp_path / "in.jsonl", 2), tmp_path / "out.jsonl"
    with Judge(None, METRICS[0], runtime=FakeRuntime(ANSWER)) as judge:
        assert len(run(judge, rows, out)) == 2
    with Judge(None, METRICS, runtime=FakeRuntime(ANSWER)) as judge:
        added = run(judge, rows, out)
    assert [(r["id"], r["metric"]) for r in added] == [("r0", METRICS[1]), ("r1", METRICS[1])]


def test_the_cli_takes_several_metrics_and_fails_clearly_without_one(tmp_path: Path) -> None:
    rows = rows_file(tmp_path / "in.jsonl", 1)
    done = run_cli(["batch", str(rows), "-o", str(tmp_path / "o.jsonl"), "--model", "demo"],
                   tmp_path)  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "name a metric" in done.stderr
    done = run_cli(["judge", "-i", "-", "-m", METRICS[0], "-m", METRICS[0], "--model", "demo"],
                   tmp_path, input="{}")  # fmt: skip
    assert done.returncode == 2 and "named twice" in done.stderr


@pytest.mark.model
def test_a_metric_judged_beside_others_gets_its_verdict_alone(
    tmp_path: Path, use_demo_cache: Path
) -> None:
    """`judge -m A -m B --json`: B's line is the line `judge -m B --json` prints."""
    case = tmp_path / "case.json"
    case.write_text(json.dumps(TEN_FAITHFULNESS[3]))
    common = ["judge", "-i", str(case), "--model", "demo", "--json", "--max-tokens", "24"]
    both = run_cli([*common, "-m", METRICS[0], "-m", METRICS[1]], use_demo_cache)
    alone = run_cli([*common, "-m", METRICS[1]], use_demo_cache)
    assert both.returncode == alone.returncode == 0, both.stderr + alone.stderr
    lines = [json.loads(line) for line in both.stdout.splitlines()]
    assert [line["metric"] for line in lines] == METRICS
    for record in (lines[1], (single := json.loads(alone.stdout))):
        record.pop("seconds")
    assert lines[1] == single
