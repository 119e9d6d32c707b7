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
from tests.support.cases import TEN_FAITHFULNESS
from tests.support.cli import run_cli
from tests.support.fake_runtime import FakeRuntime

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


# -- meta-eval on several metrics ----------------------------------------------------------


def labelled_rows(path: Path) -> Path:
    """Rows labelled for two metrics under two keys: row 1 has no relevance label, row 2's
    faithfulness label is off the rubric."""
    rows = []
    for index, case in enumerate(TEN_FAITHFULNESS[:4]):
        row = {"id": f"r{index}", **case, "faith": 1 + index, "rel": 5 - index}
        rows.append(row)
    del rows[1]["rel"]
    rows[2]["faith"] = 9
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_meta_eval_judges_each_metric_against_its_own_labels(tmp_path: Path) -> None:
    from edgejudge.meta_eval.run import meta_evaluate

    labels = labelled_rows(tmp_path / "labels.jsonl")
    runtime = FakeRuntime(ANSWER)
    seen: list[dict[str, object]] = []
    with Judge(None, METRICS, runtime=runtime) as judge:
        reports = meta_evaluate(labels, METRICS, judges=[judge], label_key=["faith", "rel"],
                                resamples=50, progress=seen.append)  # fmt: skip
        # Only the pairs whose label could be read: 3 rows on one metric, 3 on the other.
        assert len(runtime.prompts) == len(seen) == 6
        assert not any('"faith"' in p or '"rel"' in p or "faith:" in p for p in runtime.prompts)
        again = meta_evaluate(labels, METRICS, judges=[judge], label_key=["faith", "rel"],
                              resamples=50)  # fmt: skip
        assert len(runtime.prompts) == 6  # a rerun judges nothing: every pair is in the file
    faith, rel = (report.fields() for report in reports)
    assert [faith["metric"], rel["metric"]] == METRICS
    assert faith["label_key"] == "faith" and rel["label_key"] == "rel"
    assert faith["judges"][0]["n"] == rel["judges"][0]["n"] == 3
    assert [u["id"] for u in faith["unreadable_labels"]] == ["r2"]
    assert [u["id"] for u in rel["unreadable_labels"]] == ["r1"]
    source = Path(faith["judges"][0]["source"])
    assert source == Path(rel["judges"][0]["source"])  # one file, keyed by (id, metric)
    assert source.name == f"labels.fake.flow-judge.{'+'.join(METRICS)}.verdicts.jsonl"
    written = [json.loads(line) for line in source.read_text().splitlines()]
    assert sorted((r["id"], r["metric"]) for r in written) == sorted(
        [("r0", METRICS[0]), ("r1", METRICS[0]), ("r3", METRICS[0]),
         ("r0", METRICS[1]), ("r2", METRICS[1]), ("r3", METRICS[1])]
    )  # fmt: skip
    assert [r.fields() for r in again] == [faith, rel]


def test_meta_eval_reads_each_metrics_verdicts_from_the_files_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edgejudge.cli import main

    labels = labelled_rows(tmp_path / "labels.jsonl")
    files = []
    for metric, score in zip(METRICS, (2, 4), strict=True):
        path = tmp_path / f"{metric}.jsonl"
        path.write_text("".join(
            json.dumps({"id": f"r{i}", "score": score + i % 2, "metric": metric, "model": "m"})
            + "\n" for i in range(4)
        ))  # fmt: skip
        files += ["--verdicts", str(path)]
    common = ["meta-eval", str(labels), "-m", METRICS[0], "-m", METRICS[1], *files]
    code = main([*common, "--label-key", "faith", "--label-key", "rel", "--json",
                 "--resamples", "50", "--no-progress"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["metric"] for line in lines] == METRICS  # one JSON line per metric
    assert [line["judges"][0]["source"] for line in lines] == files[1::2]
    page = tmp_path / "report.html"
    code = main([*common, "--label-key", "faith", "--label-key", "rel", "--html", str(page),
                 "--resamples", "50", "--no-progress"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.count("meta-eval · ") == 2  # a table per metric
    text = page.read_text()
    assert text.count('<section class="metric">') == 2
    assert text.count('data-chart="heatmap"') == 2

    # One key for two metrics, or none, is refused in one line, before any judging.
    for keys in ([], ["faith"]):
        code = main([*common, *(a for k in keys for a in ("--label-key", k))])
        _, err = capsys.readouterr()
        assert code == 2 and err.count("\n") == 1
        assert f"2 metrics and {len(keys)} --label-key options" in err
    # A file whose verdicts name no metric cannot say which of two it is for.
    bare = tmp_path / "bare.jsonl"
    bare.write_text(json.dumps({"id": "r0", "score": 3}) + "\n")
    code = main(["meta-eval", str(labels), "-m", METRICS[0], "-m", METRICS[1], "--label-key",
                 "faith", "--label-key", "rel", "--verdicts", str(bare)])  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 2 and "do not name their metric; give it with one --metric" in err
