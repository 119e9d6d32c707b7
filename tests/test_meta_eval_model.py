"""A real meta-evaluation on `demo` in real llama.cpp, over a labelled copy of
`examples/faithfulness.jsonl` (`examples/faithfulness-labelled.jsonl`): interrupted with
Ctrl-C and resumed, it reports exactly what an uninterrupted run reports; the Python API
gives the CLI's numbers; several --family options give a column per judge (issue 18)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from edgejudge import Judge, RuntimeOptions
from edgejudge.judging.batch import read_results
from edgejudge.meta_eval.run import meta_evaluate
from tests.support.cli import interrupt_batch, run_cli

EXAMPLE = Path(__file__).parent.parent / "examples" / "faithfulness-labelled.jsonl"
METRIC = "response-faithfulness-5point"
ROWS = 8
MAX_TOKENS = 16


def labelled_copy(folder: Path) -> Path:
    """The example's first rows, and one whose label is off the rubric."""
    folder.mkdir()
    lines = EXAMPLE.read_text().splitlines()[:ROWS]
    broken = dict(json.loads(lines[0]), id="unsure", label="maybe")
    path = folder / "labelled.jsonl"
    path.write_text("\n".join([*lines, json.dumps(broken)]) + "\n")
    return path


def without_sources(report: dict[str, Any]) -> dict[str, Any]:
    """The report less where its verdict files lie (each run writes its own)."""
    out = json.loads(json.dumps(report))
    for judge in out["judges"]:
        judge.pop("source")
    return out


def verdicts(path: Path) -> dict[str, Any]:
    """A verdicts file's rows by id, less their timings."""
    rows = read_results(path)
    return {key: {k: v for k, v in row.items() if k != "seconds"} for key, row in rows.items()}


@pytest.mark.model
def test_interrupted_and_resumed_equals_uninterrupted(
    tmp_path: Path, demo_cache: Path, use_demo_cache: Path
) -> None:
    common = ["-m", METRIC, "--model", "demo", "--max-tokens", str(MAX_TOKENS), "--slots", "1"]
    whole = labelled_copy(tmp_path / "whole")
    done = run_cli(["meta-eval", str(whole), *common, "--json"], demo_cache)
    assert done.returncode == 0, done.stderr
    expected = json.loads(done.stdout)
    target = whole.with_name(f"labelled.demo.flow-judge.{METRIC}.verdicts.jsonl")
    assert f"judging {ROWS} rows into {target}" in done.stderr

    parts = labelled_copy(tmp_path / "parts")
    out = parts.with_name(target.name)
    err = interrupt_batch(["meta-eval", str(parts), *common], demo_cache, out, rows=2)
    assert "interrupted" in err and "run the same command to resume" in err
    assert err.strip().splitlines()[-1].startswith("edgejudge: interrupted:")
    kept = len(read_results(out))
    assert 2 <= kept < ROWS
    resumed = run_cli(["meta-eval", str(parts), *common, "--json"], demo_cache)
    assert resumed.returncode == 0, resumed.stderr
    assert f"judging {ROWS - kept} rows into" in resumed.stderr
    assert without_sources(json.loads(resumed.stdout)) == without_sources(expected)
    assert verdicts(out) == verdicts(target)  # every row once, each verdict the same

    report = expected["judges"][0]
    assert report["n"] == ROWS and report["not_judged"] == []
    assert expected["unreadable_labels"] == [
        {"id": "unsure", "problem": "label 'maybe' is not a score on the rubric (1, 2, 3, 4, 5)"}
    ]
    assert '"unsure"' not in target.read_text()  # a row that cannot be scored is not judged
    assert set(report["statistics"]) >= {"spearman", "quadratic_kappa", "expected_spearman"}
    assert report["calibration"]["n"] == ROWS  # probabilities were measured

    # A second run finds every row judged and only computes.
    again = run_cli(["meta-eval", str(whole), *common, "--json"], demo_cache)
    assert again.returncode == 0 and json.loads(again.stdout) == expected
    assert f"all {ROWS} labelled rows are in" in again.stderr

    # The Python API: the same numbers, judged as the CLI did, one at a time (side by side in
    # one llama.cpp batch the floats may differ slightly: README, Determinism).
    api = labelled_copy(tmp_path / "api")
    with Judge(
        model="demo", metric=METRIC, max_tokens=MAX_TOKENS, runtime=RuntimeOptions(slots=1)
    ) as judge:
        got = meta_evaluate(api, METRIC, judges=[judge]).fields()
    assert without_sources(got) == without_sources(expected)


@pytest.mark.model
def test_several_families_give_a_column_each(tmp_path: Path, demo_cache: Path) -> None:
    labels = labelled_copy(tmp_path / "labels")
    page = tmp_path / "report.html"
    args = [
        "meta-eval",
        str(labels),
        "-m",
        METRIC,
        "--model",
        "demo",
        "--family",
        "flow-judge",
        "--family",
        "prometheus",
        "--max-tokens",
        "12",
        "--html",
        str(page),
    ]
    done = run_cli(args, demo_cache)
    assert done.returncode == 0, done.stderr
    header = next(line for line in done.stdout.splitlines() if "statistic" in line)
    for column in ("demo · flow-judge", "demo · prometheus", "baseline: majority label"):
        assert column in header
    assert "labels that could not be read (1)" in done.stdout
    assert page.read_text().count('data-chart="heatmap"') == 2
    for family in ("flow-judge", "prometheus"):
        assert labels.with_name(f"labelled.demo.{family}.{METRIC}.verdicts.jsonl").exists()
    shutil.rmtree(labels.parent)


@pytest.mark.model
def test_several_metrics_in_one_pass_report_what_each_alone_reports(
    tmp_path: Path, demo_cache: Path
) -> None:
    """`-m A -m B`, each with its label key: one pass over the rows (the prefix cache serves
    B's prompt from A's head), and B's report is the one `-m B` alone gives."""
    other = "response-relevance-5point"

    def copy(folder: Path, *, both: bool = True) -> Path:
        labels = labelled_copy(folder)
        rows = [json.loads(line) for line in labels.read_text().splitlines()]
        for index, row in enumerate(rows):
            row["relevance"] = 1 + (index * 3) % 5
            if not both:  # a key the judge is not told to read is an input it refuses
                del row["label"]
        labels.write_text("".join(json.dumps(row) + "\n" for row in rows))
        return labels

    common = ["--model", "demo", "--max-tokens", str(MAX_TOKENS), "--json", "--no-progress"]
    both = copy(tmp_path / "both")
    done = run_cli(["meta-eval", str(both), "-m", METRIC, "-m", other, "--label-key", "label",
                    "--label-key", "relevance", *common], demo_cache)  # fmt: skip
    assert done.returncode == 0, done.stderr
    # ROWS rows on the first metric (the row labelled "maybe" is left out), ROWS + 1 on the
    # second, whose label every row has.
    assert f"judging {2 * ROWS + 1} (row, metric) pairs into" in done.stderr
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert first["metric"] == METRIC and second["metric"] == other
    assert first["judges"][0]["n"] == ROWS and second["judges"][0]["n"] == ROWS + 1

    alone = copy(tmp_path / "alone", both=False)
    single = run_cli(["meta-eval", str(alone), "-m", other, "--label-key", "relevance",
                      *common], demo_cache)  # fmt: skip
    assert single.returncode == 0, single.stderr
    assert without_sources(json.loads(single.stdout)) == without_sources(second)
    again = run_cli(["meta-eval", str(both), "-m", METRIC, "-m", other, "--label-key", "label",
                     "--label-key", "relevance", *common], demo_cache)  # fmt: skip
    assert again.returncode == 0 and "are in" in again.stderr  # nothing left to judge
    assert [json.loads(line) for line in again.stdout.splitlines()] == [first, second]
