"""The CLI: commands that need no model in-process, judging and batches as real processes."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from edgejudge.cli import main
from edgejudge.cli.judging import trial_line
from edgejudge.core import coerce_input, get_format, get_preset
from edgejudge.judging.batch import finished_keys
from edgejudge.models.resolve import identify
from tests.support.cases import FAITHFUL, TEN_FAITHFULNESS
from tests.support.cli import interrupt_batch, run_cli

METRIC = "response-faithfulness-5point"


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


# --- no model ---------------------------------------------------------------------------


def test_metrics_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["metrics", "list"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 18 and "response-relevance-binary" in out
    assert "hallucination-detection" in out
    assert "tool-choice-binary" in out and "inputs: conversation, tools" in out
    assert re.search(r"\npairwise-faithfulness +A/B +inputs: query, context\n", out)
    assert main(["metrics", "show", METRIC]) == 0
    assert "- " not in capsys.readouterr().out.split("rubric:")[0]
    assert main(["metrics", "show", "pairwise-correctness"]) == 0
    assert "compares: response_a, response_b" in capsys.readouterr().out


def test_prompt_prints_exactly_what_the_judge_gets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = write_json(tmp_path / "case.json", FAITHFUL)
    assert main(["prompt", "--metric", METRIC, "--input", str(case)]) == 0
    metric = get_preset(METRIC)
    expected = get_format("flow-judge").render_prompt(metric, coerce_input(FAITHFUL, metric))
    assert capsys.readouterr().out == expected + "\n"


def test_prompt_and_grammar_follow_the_models_judge_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = str(write_json(tmp_path / "case.json", FAITHFUL))
    assert main(["prompt", "-m", METRIC, "-i", case]) == 0
    plain = capsys.readouterr().out
    # A catalog model is looked up, not loaded (this one is not even downloaded).
    assert main(["prompt", "-m", METRIC, "-i", case, "--model", "flow-judge-v0.1"]) == 0
    assert capsys.readouterr().out == plain
    # Prometheus's own prompt and grammar, for its catalog model.
    assert main(["prompt", "-m", METRIC, "-i", case, "--model", "prometheus-2-7b"]) == 0
    assert capsys.readouterr().out.startswith("You are a fair judge assistant")
    assert main(["grammar", "-m", METRIC, "--model", "prometheus-2-7b"]) == 0
    assert 'tail ::= "[RESULT] " score' in capsys.readouterr().out
    # Root Judge asks one question: a metric it cannot express is refused in one line.
    assert main(["prompt", "-m", METRIC, "-i", case, "--model", "root-judge"]) == 2
    assert "root-judge detects hallucinations only" in capsys.readouterr().err
    assert main(["grammar", "-m", METRIC, "--model", "root-judge", "--family", "flow-judge"]) == 0
    assert capsys.readouterr().out.startswith("root ::=")


def test_grammar_prints_gbnf(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grammar", "--metric", "response-correctness-binary"]) == 0
    assert 'score ::= "0" | "1"' in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["prompt", "--metric", "nope", "--input", "{case}"], "unknown metric 'nope'"),
        (["prompt", "--metric", METRIC, "--input", "{missing}"], "input file not found"),
        (["prompt", "--metric", METRIC, "--input", "{bad_json}"], "not valid JSON"),
        (["prompt", "--metric", METRIC, "--input", "{partial}"], "missing context, response"),
        (["prompt", "--metric-file", "{missing}", "--input", "{case}"], "metric file not found"),
        (
            ["judge", "--model", "flow-judge-v0.1", "--metric", METRIC, "--input", "{case}"],
            "edgejudge models pull flow-judge-v0.1",
        ),
        (
            ["judge", "--model", "no/such.gguf", "--metric", METRIC, "--input", "{case}"],
            "model file not found",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    paths = {
        "case": write_json(tmp_path / "case.json", FAITHFUL),
        "missing": tmp_path / "absent.json",
        "bad_json": tmp_path / "bad.json",
        "partial": write_json(tmp_path / "partial.json", {"query": "q"}),
    }
    paths["bad_json"].write_text("{not json")
    code = main([a.format(**{k: str(v) for k, v in paths.items()}) for a in args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("edgejudge: error: ") and message in err


def test_a_file_that_is_not_a_model_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = write_json(tmp_path / "case.json", FAITHFUL)
    fake = tmp_path / "weights.gguf"
    fake.write_bytes(b"<html>rate limited</html>")
    assert main(["judge", "--model", str(fake), "--metric", METRIC, "--input", str(case)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a GGUF file" in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["judge", "--metric", METRIC])
    assert info.value.code == 2


def test_torn_last_line_is_dropped_and_errors_can_be_retried(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": 1, "score": 3}\n{"id": 2, "error": "boom"}\n{"id": 3, "sco')
    assert finished_keys(out) == {("1", None), ("2", None)}  # (id, metric): none named
    assert out.read_text().endswith('"boom"}\n')
    assert finished_keys(out, retry_errors=True) == {("1", None)}
    assert out.read_text() == '{"id": 1, "score": 3}\n'


# --- real model, real processes ---------------------------------------------------------


@pytest.mark.model
def test_only_a_trial_models_verdicts_point_to_a_real_judge(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for model in ("demo", "demo-instruct", "flow-judge-v0.1", "some/file.gguf", None):
        trial_line(identify(model) if model else None)
        err = capsys.readouterr().err
        if model in ("demo", "demo-instruct"):
            assert err.startswith(f"{model} is ") and err.count("\n") == 1
            assert "edgejudge models pull flow-judge-v0.1 (2.39 GB, once)" in err
        else:
            assert err == ""


def test_judge_prints_feedback_and_score(tmp_path: Path, demo_cache: Path) -> None:
    case = write_json(tmp_path / "case.json", FAITHFUL)
    common = [
        "judge",
        "--model",
        "demo",
        "--metric",
        METRIC,
        "--input",
        str(case),
        "--max-tokens",
        "24",
    ]
    text = run_cli(common, demo_cache)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("Feedback:\n") and "Score: " in text.stdout
    trial = text.stderr.splitlines()[-1]  # a demo's verdicts say what it is, and what to get
    assert trial.startswith("demo is gemma-3-270m") and "models pull flow-judge-v0.1" in trial
    as_json = run_cli([*common, "--json"], demo_cache)
    assert as_json.returncode == 0, as_json.stderr
    result = json.loads(as_json.stdout)
    assert result["score"] in (1, 2, 3, 4, 5) and result["feedback"]
    assert result["score"] == int(text.stdout.split("Score: ")[1].split()[0])  # greedy: same
    # The distribution: one compact line, and the same numbers in the JSON.
    assert list(result["probabilities"]) == ["1", "2", "3", "4", "5"]
    assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    line = next(x for x in text.stdout.splitlines() if x.startswith("Probabilities: "))
    assert f"3 {result['probabilities']['3']:.2f}" in line
    assert f"expected {result['expected_score']:.2f}" in line
    assert f"confidence {result['confidence']:.2f}" in line
    off = run_cli([*common, "--json", "--no-probabilities"], demo_cache)
    plain = json.loads(off.stdout)
    assert "probabilities" not in plain and plain["raw"] == result["raw"]


@pytest.mark.model
def test_batch_interrupted_then_resumed_has_every_row_once(
    tmp_path: Path, demo_cache: Path
) -> None:
    rows = [dict(item, id=f"case-{n}") for n, item in enumerate(TEN_FAITHFULNESS[:6])]
    rows.insert(3, {"id": "broken", "query": "no context or response"})
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "out.jsonl"
    args = [
        "batch",
        str(source),
        "-o",
        str(out),
        "--model",
        "demo",
        "--metric",
        METRIC,
        "--max-tokens",
        "12",
        "--slots",
        "1",  # one at a time: the broken row is reached only after the Ctrl-C
    ]
    interrupt_batch(args, demo_cache, out, rows=2)
    first = [json.loads(line) for line in out.read_text().splitlines()]  # every line is valid
    assert 2 <= len(first) < len(rows)

    resumed = run_cli(args, demo_cache)
    assert resumed.returncode == 1, resumed.stderr  # one row failed
    assert f"{len(rows) - len(first) - 1} judged, 1 failed, {len(first)} already done" in (
        resumed.stderr
    )
    final = [json.loads(line) for line in out.read_text().splitlines()]
    scored = [r for r in final if "score" in r]
    mean = sum(r["score"] for r in scored) / len(scored)
    expected = sum(r["expected_score"] for r in scored) / len(scored)
    assert f"; mean score {mean:.2f} · mean expected score {expected:.2f}" in resumed.stderr
    assert sorted(r["id"] for r in final) == sorted(r["id"] for r in rows)
    by_id = {r["id"]: r for r in final}
    assert "missing context, response" in by_id["broken"]["error"]
    assert all(by_id[r["id"]]["score"] in range(1, 6) for r in rows if r["id"] != "broken")

    again = run_cli(args, demo_cache)
    assert again.returncode == 0 and "nothing to do" in again.stderr


def test_bare_edgejudge_without_a_terminal_prints_help(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["edgejudge"])
    # Under pytest stdin is not a terminal, so the TUI must not start.
    assert main() == 2
    assert "tui" in capsys.readouterr().out


def test_metrics_list_shows_saved_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    from edgejudge.io.metric_files import save_metric

    save_metric(get_preset(METRIC).model_copy(update={"name": "house-style"}))
    assert main(["metrics", "list"]) == 0
    out = capsys.readouterr().out
    assert "your metrics" in out and "house-style" in out
