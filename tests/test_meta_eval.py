"""Meta-evaluation end to end without a model: tiny labelled sets (numeric, binary,
pairwise) and verdict records written here, every number held to scipy / scikit-learn
called independently in the test; unreadable labels and unjudged rows listed by id; the
CLI's table, JSON and HTML over verdict files; its one-line errors (issue 18)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats
from sklearn import calibration as skcal
from sklearn import metrics

from edgejudge.cli import main
from edgejudge.cli.meta_eval import judge_specs
from edgejudge.errors import InputError
from edgejudge.io.metric_files import resolve_any_metric
from edgejudge.judging.batch import read_rows
from edgejudge.meta_eval.evaluation import MetaEvaluation, compare, read_labels
from edgejudge.meta_eval.html import render
from edgejudge.meta_eval.run import meta_evaluate
from edgejudge.meta_eval.statistics import batched_pearson, batched_quadratic_kappa
from tests.support.meta_eval import (
    EXPECTED,
    FIVE,
    HUMAN,
    JUDGE,
    PAIRS,
    RESPONSES,
    numeric_rows,
    write_jsonl,
)

BINARY = resolve_any_metric("response-faithfulness-binary")
RESAMPLES = 200


def values(estimates: dict[str, Any]) -> dict[str, float | None]:
    return {name: e["value"] for name, e in estimates.items()}


def test_numeric_meta_eval_is_scipys_and_sklearns(tmp_path: Path) -> None:
    labels, verdicts = numeric_rows(tmp_path)
    report = meta_evaluate(labels, FIVE, verdicts=[verdicts], resamples=RESAMPLES).fields()
    (judge,) = report["judges"]
    assert judge["name"] == "judge-x" and judge["n"] == 12
    assert values(judge["statistics"]) == pytest.approx(
        {
            "pearson": stats.pearsonr(JUDGE, HUMAN).statistic,
            "spearman": stats.spearmanr(JUDGE, HUMAN).statistic,
            "kendall_tau_b": stats.kendalltau(JUDGE, HUMAN).statistic,
            "exact_agreement": np.mean(np.equal(JUDGE, HUMAN)),
            "within_one": np.mean(np.abs(np.subtract(JUDGE, HUMAN)) <= 1),
            "quadratic_kappa": metrics.cohen_kappa_score(JUDGE, HUMAN, weights="quadratic"),
            "expected_pearson": stats.pearsonr(EXPECTED, HUMAN).statistic,
            "expected_spearman": stats.spearmanr(EXPECTED, HUMAN).statistic,
            "expected_kendall_tau_b": stats.kendalltau(EXPECTED, HUMAN).statistic,
        }
    )
    for estimate in judge["statistics"].values():
        assert estimate["n"] == 12
        assert estimate["low"] <= estimate["value"] <= estimate["high"]
    assert (
        judge["confusion"]["counts"]
        == metrics.confusion_matrix(HUMAN, JUDGE, labels=[1, 2, 3, 4, 5]).tolist()
    )
    # Nothing dropped silently: each row left out is listed with its id and why.
    assert report["rows"] == 16 and report["labelled"] == 14
    unreadable = {entry["id"]: entry["problem"] for entry in report["unreadable_labels"]}
    assert set(unreadable) == {"off", "none"}
    assert "7" in unreadable["off"] and "1, 2, 3, 4, 5" in unreadable["off"]
    assert unreadable["none"] == "no 'label' key"
    skipped = {entry["id"]: entry["problem"] for entry in judge["not_judged"]}
    assert skipped == {
        "err": "error row: prompt longer than the context",
        "gone": "not judged: no verdict for this id",
    }
    # The mean per human label, for the score-against-label chart.
    by_label = {entry["label"]: entry for entry in judge["by_label"]}
    assert by_label[4]["mean_decision"] == pytest.approx(np.mean([4, 3, 5]))
    assert by_label[4]["mean_expected"] == pytest.approx(np.mean([3.9, 3.1, 4.4]))
    # Calibration: the top probability against the score being the label (scikit-learn).
    confidence = [0.5 + 0.04 * i for i in range(12)]
    right = np.equal(JUDGE, HUMAN)
    observed, predicted = skcal.calibration_curve(right, confidence, n_bins=10)
    assert judge["calibration"]["observed"] == pytest.approx(observed.tolist())
    assert judge["calibration"]["predicted"] == pytest.approx(predicted.tolist())
    assert sum(judge["calibration"]["counts"]) == 12
    assert judge["calibration"]["brier"] == pytest.approx(
        metrics.brier_score_loss(right, confidence)
    )


def test_numeric_baselines_stand_on_every_labelled_row(tmp_path: Path) -> None:
    labels, verdicts = numeric_rows(tmp_path)
    report = meta_evaluate(labels, FIVE, verdicts=[verdicts], resamples=RESAMPLES).fields()
    baselines = {b["name"]: b for b in report["baselines"]}
    assert list(baselines) == ["majority label", "mean score", "length"]
    human = [*HUMAN, 2, 3]  # the error row and the missing row have labels too
    lengths = [*map(len, RESPONSES), 1, 1]
    majority = values(baselines["majority label"]["statistics"])
    # 5, 4, 3 and 2 each label three rows: the first met is the majority.
    assert majority["exact_agreement"] == pytest.approx(np.mean(np.equal(human, 5)))
    assert "always 5" in baselines["majority label"]["about"]
    mean = values(baselines["mean score"]["statistics"])
    nearest = round(np.mean(human))
    assert mean["within_one"] == pytest.approx(np.mean(np.abs(np.subtract(human, nearest)) <= 1))
    length = values(baselines["length"]["statistics"])
    assert length == pytest.approx(
        {
            "pearson": stats.pearsonr(lengths, human).statistic,
            "spearman": stats.spearmanr(lengths, human).statistic,
            "kendall_tau_b": stats.kendalltau(lengths, human).statistic,
        }
    )
    assert baselines["length"]["statistics"]["pearson"]["n"] == 14


BIN_HUMAN = ["PASS", "fail", "yes", "no", 1, 0, "Pass", "FAIL", True, False, "1", "0"]
BIN_READ = [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0]
BIN_JUDGE = [1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0]
P_HIGH = [0.9, 0.2, 0.4, 0.1, 0.8, 0.6, 0.7, 0.3, 0.95, 0.05, 0.45, 0.15]


def test_binary_meta_eval_follows_the_model_cards_layout(tmp_path: Path) -> None:
    rows = [
        {"id": f"r{i}", "query": "q", "context": "c", "response": "x" * (5 + i), "label": h}
        for i, h in enumerate(BIN_HUMAN)
    ]
    rows.append({"id": "maybe", "query": "q", "context": "c", "response": "x", "label": "maybe"})
    labels = write_jsonl(tmp_path / "labels.jsonl", rows)
    # A label-and-score verdict (Selene's Yes/No), probabilities keyed by the label words.
    verdicts = write_jsonl(
        tmp_path / "v.jsonl",
        [
            {
                "id": f"r{i}",
                "feedback": "f",
                "label": "Yes" if j else "No",
                "score": j,
                "metric": BINARY.name,
                "probabilities": {"Yes": p, "No": 1 - p},
            }
            for i, (j, p) in enumerate(zip(BIN_JUDGE, P_HIGH, strict=True))
        ],
    )
    report = meta_evaluate(labels, BINARY, verdicts=[verdicts], resamples=RESAMPLES)
    fields = report.fields()
    assert fields["kind"] == "binary"
    (judge,) = fields["judges"]
    got = values(judge["statistics"])
    reference = metrics.classification_report(BIN_READ, BIN_JUDGE, labels=[0, 1], output_dict=True)
    assert got["accuracy"] == pytest.approx(metrics.accuracy_score(BIN_READ, BIN_JUDGE))
    for label in ("0", "1"):
        assert got[f"precision_{label}"] == pytest.approx(reference[label]["precision"])
        assert got[f"recall_{label}"] == pytest.approx(reference[label]["recall"])
        assert got[f"f1_{label}"] == pytest.approx(reference[label]["f1-score"])
    assert got["f1_macro"] == pytest.approx(reference["macro avg"]["f1-score"])
    assert got["cohen_kappa"] == pytest.approx(metrics.cohen_kappa_score(BIN_READ, BIN_JUDGE))
    assert judge["confusion"]["counts"] == metrics.confusion_matrix(BIN_READ, BIN_JUDGE).tolist()
    observed, _ = skcal.calibration_curve(BIN_READ, P_HIGH, n_bins=10)
    assert judge["calibration"]["observed"] == pytest.approx(observed.tolist())
    assert [e["id"] for e in fields["unreadable_labels"]] == ["maybe"]
    assert "'maybe'" in fields["unreadable_labels"][0]["problem"]
    # The length judge: the best cut on these rows; here longer rows alternate labels.
    baselines = {b["name"]: b for b in fields["baselines"]}
    assert set(baselines) == {"majority label", "length"}
    lengths = [5 + i for i in range(12)]
    best = max(
        max(
            np.mean([(n >= t) == bool(h) for n, h in zip(lengths, BIN_READ, strict=True)]),
            np.mean([(n <= t) == bool(h) for n, h in zip(lengths, BIN_READ, strict=True)]),
        )
        for t in lengths
    )
    assert baselines["length"]["statistics"]["accuracy"]["value"] == pytest.approx(best)


def test_pairwise_meta_eval_agreement_ties_and_consistency(tmp_path: Path) -> None:
    human = ["A", "B", "A", "tie", "B", "A", "B", "A"]
    verdict = ["A", "B", "tie", "tie", "A", "A", "B", "tie"]
    consistent = [True, True, False, False, True, True, True, False]
    p_a = [0.9, 0.2, 0.5, 0.55, 0.6, 0.8, 0.1, 0.45]
    rows = [
        {
            "id": i,
            "query": "q",
            "context": "c",
            "response_a": "a" * (10 + i % 3),
            "response_b": "b" * 11,
            "label": h,
        }
        for i, h in enumerate(human)
    ]
    labels = write_jsonl(tmp_path / "pairs.jsonl", rows)
    verdicts = write_jsonl(
        tmp_path / "v.jsonl",
        [
            {
                "id": i,
                "verdict": v,
                "consistent": c,
                "p_a_better": p,
                "metric": PAIRS.name,
                "orders": [],
                "model": "m",
            }
            for i, (v, c, p) in enumerate(zip(verdict, consistent, p_a, strict=True))
        ],
    )
    fields = meta_evaluate(labels, PAIRS, verdicts=[verdicts], resamples=RESAMPLES).fields()
    (judge,) = fields["judges"]
    got = values(judge["statistics"])
    assert got == pytest.approx(
        {
            "agreement": np.mean(np.equal(verdict, human)),
            "tie_rate": verdict.count("tie") / 8,
            "consistency": np.mean(consistent),
        }
    )
    assert judge["confusion"]["human"] == ["A", "tie", "B"]
    assert (
        judge["confusion"]["counts"]
        == metrics.confusion_matrix(human, verdict, labels=["A", "tie", "B"]).tolist()
    )
    not_tie = [i for i, h in enumerate(human) if h != "tie"]
    assert judge["calibration"]["n"] == len(not_tie)
    length = next(b for b in fields["baselines"] if b["name"] == "length")
    longer = ["A" if 10 + i % 3 > 11 else "B" if 10 + i % 3 < 11 else "tie" for i in range(8)]
    shorter = [{"A": "B", "B": "A"}.get(c, c) for c in longer]
    best = max(np.mean(np.equal(longer, human)), np.mean(np.equal(shorter, human)))
    assert length["statistics"]["agreement"]["value"] == pytest.approx(best)


def test_batched_kappa_and_pearson_equal_the_libraries_on_resamples() -> None:
    rng = np.random.default_rng(3)
    human = rng.integers(1, 6, 40)
    judge = np.clip(human + rng.integers(-2, 3, 40), 1, 5)
    index = rng.integers(0, 40, (300, 40))
    a, b = judge[index], human[index]
    kappa = batched_quadratic_kappa([1, 2, 3, 4, 5])(a, b)
    reference = [
        metrics.cohen_kappa_score(x, y, weights="quadratic", labels=[1, 2, 3, 4, 5])
        for x, y in zip(a, b, strict=True)
    ]
    assert kappa == pytest.approx(reference)
    pearson = batched_pearson(a, b)
    assert pearson == pytest.approx(
        [stats.pearsonr(x, y).statistic for x, y in zip(a, b, strict=True)]
    )


def test_the_same_rows_give_the_same_report(tmp_path: Path) -> None:
    labels, verdicts = numeric_rows(tmp_path)
    first = meta_evaluate(labels, FIVE, verdicts=[verdicts], resamples=RESAMPLES)
    again = meta_evaluate(labels, FIVE, verdicts=[verdicts], resamples=RESAMPLES)
    assert json.dumps(first.fields()) == json.dumps(again.fields())


def test_compare_from_records() -> None:
    class Row:
        def __init__(self, i: int, label: Any) -> None:
            self.id, self.key, self.problem = i, str(i), None
            self.data = {"response": "x" * i, "label": label}

    labelled = read_labels([Row(i, h) for i, h in enumerate([1, 5, 3])], FIVE, "label")
    records = {str(i): {"id": i, "score": s} for i, s in enumerate([2, 5, 3])}
    report = compare(labelled, {"j": records}, FIVE, resamples=50)
    assert isinstance(report, MetaEvaluation)
    assert report.judges[0].statistics["exact_agreement"].value == pytest.approx(2 / 3)
    assert "expected_pearson" not in report.judges[0].statistics  # no probabilities
    assert report.judges[0].calibration is None


# -- the CLI -------------------------------------------------------------------------------


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["meta-eval", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_table_json_and_html_from_verdict_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels, verdicts = numeric_rows(tmp_path)
    other = write_jsonl(
        tmp_path / "judge-y.jsonl",
        [{"id": i, "score": 3, "metric": FIVE.name, "model": "judge-y"} for i in range(12)],
    )
    common = [str(labels), "-m", FIVE.name, "--verdicts", str(verdicts), "--verdicts", str(other)]
    code, out, err = run([*common, "--resamples", "100", "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert [j["name"] for j in data["judges"]] == ["judge-x", "judge-y"]
    api = meta_evaluate(labels, FIVE, verdicts=[verdicts, other], resamples=100)
    assert data == json.loads(json.dumps(api.fields()))  # the API's numbers, exactly
    assert data["judges"][1]["statistics"]["pearson"]["value"] is None  # a constant judge

    page = tmp_path / "report.html"
    code, out, err = run([*common, "--resamples", "100", "--html", str(page)], capsys)
    assert code == 0, err
    assert f"report written to {page}" in err
    for heading in ("judge-x", "judge-y", "baseline: majority label", "baseline: length"):
        assert heading in out
    assert re.search(r"Spearman ρ\s+│\s+0\.\d\d \[0\.\d\d, [01]\.\d\d\]", out)
    assert "labels that could not be read (2)" in out and 'id "off"' in out
    assert "judge-x: rows not judged (2)" in out and 'id "err": error row' in out
    text = page.read_text()
    assert text.count('data-chart="heatmap"') == 2
    assert text.count('data-chart="score-vs-label"') == 2
    assert text.count('data-chart="calibration"') == 1  # judge-y has no probabilities
    # Self-contained: nothing to fetch when it is viewed.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "@import" not in text and "url(" not in text


def test_html_escapes_what_it_shows(tmp_path: Path) -> None:
    labels, verdicts = numeric_rows(tmp_path)
    report = meta_evaluate(labels, FIVE, verdicts=[verdicts], resamples=50)
    page = render(report, heading="<script>alert(1)</script>")
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "name a judge with --model (or give verdicts with --verdicts FILE)"),
        (["--verdicts", "nowhere.jsonl"], "nowhere.jsonl: no such verdicts file"),
        (
            [
                "--model",
                "a",
                "--model",
                "b",
                "--family",
                "selene",
                "--family",
                "glider",
                "--family",
                "prometheus",
            ],
            "2 --model and 3 --family options",
        ),
    ],
)
def test_cli_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    labels, _ = numeric_rows(tmp_path)
    code, out, err = run([str(labels), "-m", FIVE.name, *extra], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_cli_refuses_verdicts_of_another_metric(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels, verdicts = numeric_rows(tmp_path)
    code, _, err = run(
        [str(labels), "-m", "response-correctness-3point", "--verdicts", str(verdicts)], capsys
    )
    assert code == 2 and err.count("\n") == 1
    assert "holds verdicts for metric response-faithfulness-5point, not" in err


def test_cli_with_no_readable_label_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = write_jsonl(tmp_path / "l.jsonl", [{"id": 1, "response": "r", "label": "maybe"}])
    verdicts = write_jsonl(tmp_path / "v.jsonl", [{"id": 1, "score": 3}])
    code, _, err = run([str(labels), "-m", FIVE.name, "--verdicts", str(verdicts)], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "no row has a label that can be read" in err and "'maybe'" in err


def test_judge_specs_pair_models_and_families() -> None:
    assert judge_specs(["a", "b"], None, False) == [("a", None), ("b", None)]
    assert judge_specs(["a", "b"], ["selene"], False) == [("a", "selene"), ("b", "selene")]
    assert judge_specs(["a"], ["selene", "glider"], False) == [("a", "selene"), ("a", "glider")]
    assert judge_specs(["a", "b"], ["x", "y"], False) == [("a", "x"), ("b", "y")]
    assert judge_specs(None, None, True) == [(None, None)]
    assert judge_specs(None, None, False) == []
    with pytest.raises(InputError):
        judge_specs(["a", "b"], ["x", "y", "z"], False)


def test_label_key_chooses_the_column(tmp_path: Path) -> None:
    labels = write_jsonl(
        tmp_path / "l.jsonl", [{"id": i, "response": "r", "gold": 1 + i} for i in range(3)]
    )
    rows = read_rows(labels)
    assert [r.label for r in read_labels(rows, FIVE, "gold")] == [1, 2, 3]
    assert all(r.problem == "no 'label' key" for r in read_labels(rows, FIVE, "label"))


def test_a_pairwise_judge_through_the_api_with_both_orders_and_resume(tmp_path: Path) -> None:
    """The judging path of meta-eval on pairs, with a scripted runtime (a judge that sees
    through the order): the label is not sent, both orders are judged, a rerun judges
    nothing, and one order goes to a file of its own."""
    from tests.support.pairs import BAD, GOOD, faithful_pair, judge, prefers_good

    fields = faithful_pair().fields()
    rows = []
    for i in range(6):
        good_first = i % 2 == 0
        a, b = (GOOD, BAD) if good_first else (BAD, GOOD)
        human = "A" if good_first else "B"
        if i == 5:
            human = "A"  # a person who disagrees with the judge once
        rows.append({**fields, "id": f"p{i}", "response_a": a, "response_b": b, "label": human})
    labels = write_jsonl(tmp_path / "pairs.jsonl", rows)
    with judge(prefers_good) as pairwise:
        seen: list[dict[str, Any]] = []
        report = meta_evaluate(
            labels, PAIRS, judges=[pairwise], resamples=RESAMPLES, progress=seen.append
        ).fields()
        assert len(seen) == 6
        again = meta_evaluate(
            labels, PAIRS, judges=[pairwise], resamples=RESAMPLES, progress=seen.append
        ).fields()
        assert len(seen) == 6 and again == report  # every row was in the verdicts file
        once = meta_evaluate(labels, PAIRS, judges=[pairwise], swap=False, resamples=50)
    (result,) = report["judges"]
    assert result["name"].endswith(" · prometheus")
    # Every pair judged (a row sent with its label would be an error row: unexpected key).
    assert result["n"] == 6 and result["not_judged"] == []
    assert values(result["statistics"]) == pytest.approx(
        {"agreement": 5 / 6, "tie_rate": 0.0, "consistency": 1.0}
    )
    written = Path(result["source"])
    assert written.parent == tmp_path and written.name.endswith(".verdicts.jsonl")
    assert all(len(json.loads(line)["orders"]) == 2 for line in written.read_text().splitlines())
    one = Path(once.judges[0].source)
    assert one != written and ".one-order." in one.name
    assert once.judges[0].statistics["consistency"].n == 0  # one order: nothing to compare


def test_the_length_baseline_measures_the_turn_a_conversation_judges(tmp_path: Path) -> None:
    from edgejudge.core import PRESETS
    from tests.support.conversations import MESSAGES, TOOLS

    short = [MESSAGES[1], {"role": "assistant", "content": "Sunny."}]
    path = tmp_path / "talks.jsonl"
    rows = [{"id": 1, "messages": MESSAGES, "tools": TOOLS, "label": 5, "ok": 1},
            {"id": 2, "messages": short, "label": 2},
            {"id": 3, "messages": [{"role": "user"}], "label": 1}]  # fmt: skip
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    help_ = PRESETS["conversation-helpfulness-5point"]
    found = read_labels(read_rows(path), help_, "label")
    # The last assistant turn, as the judge reads it; none for a conversation it cannot read.
    assert [r.lengths for r in found] == [(len("Tomorrow: 14 °C in Paris."),), (6,), (0,)]
    tool = read_labels(read_rows(path), PRESETS["tool-choice-binary"], "ok")
    assert tool[0].lengths == (len('-> get_weather({"city": "Paris"})'),)
