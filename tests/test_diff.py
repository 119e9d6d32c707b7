"""`edgejudge diff`: constructed journals whose change is known exactly (every score -1;
half the rows worse; labels lost and gained), each figure against scipy or a hand
computation; the gates' grammar; the CLI's outputs and exit codes; bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

import edgejudge
from edgejudge.cli import main
from edgejudge.errors import InputError
from edgejudge.regression.compare import JudgeMismatch, diff
from edgejudge.regression.gates import parse_gate
from edgejudge.regression.report import markdown, to_json
from edgejudge.regression.statistics import label_change, mcnemar, score_change

METRIC = "response-faithfulness-5point"
BINARY = "hallucination-detection"


def journal(path: Path, rows: list[dict[str, Any]], *, metric: str = METRIC) -> Path:
    lines = [{"model": "demo", "metric": metric, "feedback": f"row {r['id']}", **r} for r in rows]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def scores(path: Path, values: list[int], **more: Any) -> Path:
    return journal(path, [{"id": i, "score": v, **more} for i, v in enumerate(values)])


def test_every_score_one_lower(tmp_path: Path) -> None:
    base = [3, 4, 5, 2, 4, 3, 5, 4, 3, 2]
    found = diff(scores(tmp_path / "a", base), scores(tmp_path / "b", [v - 1 for v in base]))
    (metric,) = found.metrics
    q = metric.quantities()
    assert (q["mean_change"].value, q["mean_change"].low, q["mean_change"].high) == (-1, -1, -1)
    assert (q["worse"].value, q["better"].value, q["worse_share"].value) == (10, 0, 1.0)
    assert metric.scores is not None and metric.scores.by_points == {-1: 10}
    assert metric.scores.base_mean == 3.5 and metric.scores.new_mean == 2.5
    test = metric.scores.wilcoxon
    assert test is not None and test.n == 10 and test.method.startswith("normal approx.")
    expected = stats.wilcoxon([-1] * 10, method="asymptotic", alternative="less").pvalue
    assert q["p_worse"].value == pytest.approx(expected)
    # By hand: ten tied ranks of 5.5, none positive: z = (0 - 27.5) / sqrt(96.25) (the
    # variance n(n+1)(2n+1)/24 = 96.25 less the tie term (10^3 - 10)/48 = 20.625).
    z = -27.5 / np.sqrt(96.25 - 20.625)
    assert q["p_worse"].value == pytest.approx(stats.norm.cdf(z))
    assert [w.id for w in metric.worst] == [0, 1, 2, 3, 4]  # all -1: in journal order


def test_half_the_rows_worse_and_the_interval_resamples_pairs(tmp_path: Path) -> None:
    base = [1, 2, 3, 4, 5] * 4
    new = [v - 1 if i % 2 else v for i, v in enumerate(base)]
    found = diff(scores(tmp_path / "a", base), scores(tmp_path / "b", new)).metrics[0]
    q = found.quantities()
    assert q["mean_change"].value == -0.5 and q["worse_share"].value == 0.5
    assert q["worse"].value == 10 and q["better"].value == 0 and q["mean_change"].n == 20
    # Paired: the interval of the change is that of the 20 row changes (0 or -1), resampled
    # together; resampling each run apart would give a far wider one.
    change = np.asarray(new) - np.asarray(base)
    paired = stats.bootstrap((change,), np.mean, n_resamples=2000, method="percentile",
                             rng=np.random.default_rng(0)).confidence_interval  # fmt: skip
    low, high = q["mean_change"].low, q["mean_change"].high
    assert low is not None and high is not None
    assert -1 <= low < -0.5 < high <= 0
    assert (low, high) == pytest.approx((paired.low, paired.high), abs=0.11)
    assert high - low < 0.6  # independent resampling of two runs of spread 1-5: about 2.5
    assert found.scores is not None and found.scores.by_points == {-1: 10, 0: 10}
    assert found.scores.wilcoxon is not None and found.scores.wilcoxon.n == 10


def test_exact_wilcoxon_where_changes_are_few_and_distinct() -> None:
    found = score_change([5, 5, 5, 5, 5], [4.9, 4.7, 4.4, 5.2, 4.0])
    test = found.wilcoxon
    assert test is not None and test.method == "exact" and test.n == 5
    change = np.array([4.9, 4.7, 4.4, 5.2, 4.0]) - 5
    assert test.p == pytest.approx(stats.wilcoxon(change, method="exact").pvalue)
    # By hand: ranks of |d| 0.1, 0.3, 0.6, 0.2, 1.0 are 1, 3, 4, 2, 5; T+ = 2 (the one rise):
    # P(T+ <= 2) over the 32 sign patterns = 3/32 (sums 0, 1, 2).
    assert test.p_worse == pytest.approx(3 / 32)


def test_nothing_changed_is_undefined_and_says_why() -> None:
    found = score_change([3, 4, 5], [3, 4, 5])
    assert found.wilcoxon is not None
    assert found.wilcoxon.p is None and found.wilcoxon.why == "no row changed"
    assert found.mean_change.value == 0


def test_mcnemar_exact_and_chi_square() -> None:
    exact = mcnemar(lost=6, gained=1)
    assert exact.method == "exact (binomial)" and exact.n == 7
    assert exact.p == pytest.approx(16 / 128)  # P(X <= 1 or X >= 6), X ~ Bin(7, 1/2)
    assert exact.p_worse == pytest.approx(8 / 128)  # P(X >= 6)
    big = mcnemar(lost=20, gained=10)
    assert big.method.startswith("chi-square, continuity-corrected")
    assert big.p == pytest.approx(stats.chi2.sf((10 - 1) ** 2 / 30, 1))
    assert big.p_worse == pytest.approx(stats.binomtest(20, 30, 0.5, alternative="greater").pvalue)
    assert mcnemar(0, 0).why == "no row changed its label"


def test_a_label_metric_gives_pass_rates_and_mcnemar(tmp_path: Path) -> None:
    def labels(path: Path, passes: list[bool]) -> Path:
        rows = [{"id": i, "label": "PASS" if p else "FAIL", "score": int(p)}
                for i, p in enumerate(passes)]  # fmt: skip
        return journal(path, rows, metric=BINARY)

    base = [True] * 8 + [False] * 2
    new = [False] * 6 + [True] * 2 + [True, False]  # 6 lost, 1 gained
    found = diff(labels(tmp_path / "a", base), labels(tmp_path / "b", new)).metrics[0]
    assert found.kind == "label" and found.labels is not None
    assert (found.labels.base_pass_rate, found.labels.new_pass_rate) == (0.8, 0.3)
    q = found.quantities()
    assert q["pass_rate_change"].value == pytest.approx(-0.5)
    assert (q["worse"].value, q["better"].value) == (6, 1)
    assert q["p_worse"].value == pytest.approx(8 / 128)
    assert "mean_change" not in q
    assert [w.id for w in found.worst] == [0, 1, 2, 3, 4]
    assert label_change(base, new).mcnemar.p == pytest.approx(16 / 128)


def test_rows_in_one_run_and_error_rows_are_counted_apart(tmp_path: Path) -> None:
    base = scores(tmp_path / "a", [3, 3, 3, 3])
    rows = [{"id": 1, "score": 2}, {"id": 2, "error": "too long", "error_type": "X"},
            {"id": 3, "score": 3}, {"id": 9, "score": 5}]  # fmt: skip
    new = journal(tmp_path / "b", rows)
    found = diff(base, new).metrics[0]
    assert found.only_base == [0] and found.only_new == [9]
    assert found.errors == (0, 1) and found.joined == 3
    assert found.scores is not None and found.scores.n == 2  # rows 1 and 3
    assert found.worst[0].id == 1 and found.worst[0].base_feedback == "row 1"


def test_the_expected_score_is_compared_where_both_runs_measured_it(tmp_path: Path) -> None:
    base = journal(tmp_path / "a", [{"id": i, "score": 3, "expected_score": 3.2} for i in range(4)])
    new = journal(tmp_path / "b", [{"id": i, "score": 3, "expected_score": 2.9} for i in range(4)])
    q = diff(base, new).metrics[0].quantities()
    assert q["mean_change"].value == 0
    assert q["expected_change"].value == pytest.approx(-0.3)


@pytest.mark.parametrize(
    ("text", "name", "op", "threshold"),
    [
        ("mean_change < -0.2", "mean_change", "<", -0.2),
        ("faithfulness.mean_change.low<=-1", "faithfulness.mean_change.low", "<=", -1),
        ("worse_share > .1", "worse_share", ">", 0.1),
        (" p_worse >= 0.05 ", "p_worse", ">=", 0.05),
    ],
)
def test_gates_parse(text: str, name: str, op: str, threshold: float) -> None:
    gate = parse_gate(text)
    assert (gate.name, gate.op, gate.threshold) == (name, op, threshold)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("mean_change", "is not a gate: write [METRIC.]QUANTITY[.low|.high] < NUMBER"),
        ("mean_change == 1", "is not a gate"),
        ("mean_change < abc", "'abc' is not a number"),
        ("mean_chnage < 1", "no quantity 'mean_chnage'; the quantities: mean_change"),
        ("worse.low > 1", "worse has no interval, so no .low"),
        ("__import__('os') < 1", "no quantity"),
    ],
)
def test_a_gate_that_does_not_parse_says_what_was_expected(text: str, says: str) -> None:
    with pytest.raises(InputError, match=None) as raised:
        parse_gate(text)
    assert says in str(raised.value)


def test_gates_fail_with_the_measured_value_and_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = scores(tmp_path / "a.jsonl", [3, 4, 5, 2] * 5)
    new = scores(tmp_path / "b.jsonl", [2, 4, 4, 2] * 5)
    code = main(["diff", str(base), str(new), "--fail-if", "mean_change < -0.2",
                 "--fail-if", f"{METRIC}.worse_share > 0.9", "--json"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 3
    document = json.loads(out)
    assert document["metrics"][METRIC]["mean_change"]["value"] == -0.5
    assert [g["failed"] for g in document["gates"]] == [True, False]
    lines = err.splitlines()
    assert lines[0].startswith(f"edgejudge: gate FAILED {METRIC}: mean_change < -0.2: -0.5 [")
    assert lines[0].endswith(", 20 rows")
    passed = f"edgejudge: gate passed {METRIC}: {METRIC}.worse_share > 0.9: 0.5 ["
    assert lines[1].startswith(passed)
    assert main(["diff", str(base), str(new), "--fail-if", "mean_change < -0.9"]) == 0


def test_the_table_and_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = scores(tmp_path / "a.jsonl", [3, 4, 5, 2])
    new = journal(tmp_path / "b.jsonl", [
        {"id": 0, "score": 1, "feedback": "Says | Paris\nis *wrong*"}, {"id": 1, "score": 4},
        {"id": 2, "score": 5}, {"id": 3, "score": 3},
    ])  # fmt: skip
    assert main(["diff", str(base), str(new)]) == 0
    table = capsys.readouterr().out
    for row in ("mean_change", "worse_share", "p_worse", "points changed", "got worse"):
        assert row in table
    assert "-0.250 [-1.500, +0.750]" in table and "0: 3 → 1" in table
    text = markdown(diff(base, new))
    assert "| mean_change | -0.250 \\[" in text
    assert "| 0 | 3 | 1 | row 0 | Says \\| Paris is \\*wrong\\* |" in text
    assert to_json(diff(base, new))["metrics"][METRIC]["worst"][0]["change"] == -2


def test_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = scores(tmp_path / "a.jsonl", [3, 4])
    other = journal(tmp_path / "m.jsonl", [{"id": 0, "score": 3, "model": "demo-instruct"}])
    with pytest.raises(JudgeMismatch, match="different models .demo in BASE, demo-instruct"):
        diff(base, other)
    assert diff(base, other, allow_mismatch=True).metrics[0].models == ("demo", "demo-instruct")
    disjoint = journal(tmp_path / "d.jsonl", [{"id": 7, "score": 3}])
    with pytest.raises(InputError, match="share no .id, metric.: nothing to compare"):
        diff(base, disjoint)
    torn = tmp_path / "t.jsonl"
    torn.write_text(base.read_text() + '{"id": 5, "sco')  # a kill mid-write
    assert diff(base, torn).metrics[0].joined == 2
    foreign = tmp_path / "f.jsonl"
    foreign.write_text('{"id": 0, "score": 3}\nnot json\n{"id": 1, "score": 3}\n')
    with pytest.raises(InputError, match="line 2 is not a verdict row"):
        diff(base, foreign)
    assert main(["diff", str(base), str(base), "--fail-if", "pass_rate_change < 0"]) == 2
    assert "applies to no metric of these runs" in capsys.readouterr().err
    assert main(["diff", str(base), str(base), "--fail-if", f"{METRIC}.pass_rate_change < 0"]) == 2
    assert "is a score metric and has no pass_rate_change" in capsys.readouterr().err
    assert main(["diff", str(base), str(base), "-m", "nope"]) == 2
    assert "no verdicts of nope in these runs" in capsys.readouterr().err


def test_the_api_gives_the_same_numbers(tmp_path: Path) -> None:
    base = scores(tmp_path / "a.jsonl", [3, 4, 5, 2])
    new = scores(tmp_path / "b.jsonl", [2, 4, 5, 2])
    found = edgejudge.diff(base, new)
    assert isinstance(found, edgejudge.Diff)
    assert found.metrics[0].quantities()["mean_change"].value == -0.25


def test_rows_judged_by_another_judge_are_refused(tmp_path: Path) -> None:
    who = {"family": "flow-judge", "model_sha256": None, "max_tokens": 48, "grammar": True}
    base = scores(tmp_path / "a.jsonl", [3, 4], judge=who)
    new = scores(tmp_path / "b.jsonl", [3, 4], judge={**who, "max_tokens": 6})
    with pytest.raises(JudgeMismatch, match="different judges .max_tokens 48 in BASE, 6 in NEW"):
        diff(base, new)
    other = {**who, "grammar": False}
    mixed = journal(tmp_path / "m.jsonl", [
        {"id": 0, "score": 3, "judge": who}, {"id": 1, "score": 4, "judge": other},
    ])  # fmt: skip
    with pytest.raises(JudgeMismatch, match="NEW's rows were judged by 2 different judges"):
        diff(base, mixed)
    assert diff(base, new, allow_mismatch=True).metrics[0].joined == 2
    assert diff(base, scores(tmp_path / "c.jsonl", [2, 4], judge=who)).metrics[0].joined == 2


def test_batch_writes_who_judged_on_every_verdict(tmp_path: Path) -> None:
    from edgejudge import Judge
    from edgejudge.judging import batch
    from edgejudge.judging.rows import Row
    from tests.support.fake_runtime import FakeRuntime

    out = tmp_path / "out.jsonl"
    rows = [Row(n, n, data={"query": "q", "context": "c", "response": "r"}) for n in range(2)]
    answer = "<feedback>Fine.</feedback>\n<score>4</score>"
    with Judge(None, METRIC, runtime=FakeRuntime(answer), max_tokens=64) as judge:
        with batch.BatchOutput(out) as output:
            list(batch.run_batch(judge, rows, output))
        identity = judge.identity()
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["judge"] for r in records] == [identity, identity]
    assert identity["family"] == "flow-judge" and identity["max_tokens"] == 64
    assert identity["temperature"] == 0 and identity["grammar"] is True
    assert len(identity["metric_digest"]) == 16


def test_junit_is_read_by_a_junit_reader(tmp_path: Path) -> None:
    from junitparser import Failure, JUnitXml, Skipped

    base = scores(tmp_path / "a.jsonl", [3, 4, 5, 2] * 5)
    new = scores(tmp_path / "b.jsonl", [3, 4, 5, 2] * 5)
    report = tmp_path / "gates.xml"
    gates = ["mean_change < -0.2", "worse > 0", "p_worse < 0.05", "mean_change > -1"]
    args = ["diff", str(base), str(new), "--junit", str(report)]
    assert main([*args, *(x for gate in gates for x in ("--fail-if", gate))]) == 3
    (suite,) = list(JUnitXml.fromfile(str(report)))
    cases = list(suite)
    assert [case.name for case in cases] == gates
    assert {case.classname for case in cases} == {f"edgejudge.diff.{METRIC}"}
    outcomes = [type(case.result[0]).__name__ if case.result else "passed" for case in cases]
    assert outcomes == ["passed", "passed", "Skipped", "Failure"]
    failure = cases[3].result[0]
    assert isinstance(failure, Failure)
    assert failure.message == f"FAILED {METRIC}: mean_change > -1: 0 [0, 0], 20 rows"
    skipped = cases[2].result[0]
    assert isinstance(skipped, Skipped) and "no row changed" in str(skipped.message)
    assert (suite.tests, suite.failures, suite.skipped) == (4, 1, 1)
    assert main(["diff", str(base), str(new), "--junit", str(tmp_path / "gates.txt")]) == 2


def test_the_worse_rows_carry_their_inputs_and_both_responses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def answers(path: Path, responses: list[str]) -> Path:
        rows = [{"qid": f"q{i}", "question": f"Q{i}?", "answer": r}
                for i, r in enumerate(responses)]  # fmt: skip
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        return path

    v1 = answers(tmp_path / "v1.jsonl", ["Paris.", "1989.", "Honey."])
    v2 = answers(tmp_path / "v2.jsonl", ["Paris.", "1991.", "Honey."])
    base = journal(
        tmp_path / "a.jsonl", [{"id": f"q{i}", "score": s} for i, s in enumerate([5, 5, 4])]
    )
    new = journal(
        tmp_path / "b.jsonl", [{"id": f"q{i}", "score": s} for i, s in enumerate([4, 1, 4])]
    )
    args = ["diff", str(base), str(new), "-i", str(v1), "-i", str(v2), "--id-column", "qid",
            "--map", "query=question", "--map", "response=answer", "--json"]  # fmt: skip
    assert main(args) == 0
    worst = json.loads(capsys.readouterr().out)["metrics"][METRIC]["worst"]
    assert [w["id"] for w in worst] == ["q1", "q0"]  # largest drop first
    assert worst[0]["inputs"] == {"question": "Q1?", "answer": "1989."}
    assert worst[0]["new_inputs"] == {"answer": "1991."}  # only what NEW changed
    assert worst[1]["new_inputs"] == {}  # the same answer, judged worse
    same = diff(base, new, inputs=None).metrics[0].worst[0]
    assert same.inputs is None
    assert main([*args[:-1], "-i", str(v1)]) == 2  # three --inputs
    assert "--inputs is given once" in capsys.readouterr().err


def test_pairwise_journals_give_the_win_rates_change(tmp_path: Path) -> None:
    def pairs(path: Path, verdicts: list[str]) -> Path:
        rows = [{"id": i, "verdict": v, "consistent": v != "tie",
                 "orders": [{"order": "A,B", "feedback": f"pair {i}", "choice": "A"}]}
                for i, v in enumerate(verdicts)]  # fmt: skip
        return journal(path, rows, metric="pairwise-faithfulness")

    base = ["A", "A", "B", "tie", "A", "B", "A", "A"]
    new = ["B", "A", "B", "A", "tie", "B", "A", "B"]
    found = diff(pairs(tmp_path / "a", base), pairs(tmp_path / "b", new)).metrics[0]
    assert found.kind == "pairwise" and found.pairs is not None
    # A's share of the decided pairs (ties left out): 5 of 7 before, 3 of 7 after.
    assert found.pairs.base_win_rate == pytest.approx(5 / 7)
    assert found.pairs.new_win_rate == pytest.approx(3 / 7)
    q = found.quantities()
    assert q["win_rate_change"].value == pytest.approx(3 / 7 - 5 / 7)
    low, high = q["win_rate_change"].low, q["win_rate_change"].high
    assert low is not None and high is not None and low < q["win_rate_change"].value < high
    assert (q["worse"].value, q["better"].value) == (3, 1)  # A->B twice, A->tie; tie->A
    assert [w.id for w in found.worst] == [0, 7, 4]  # A->B first (journal order), then A->tie
    assert found.worst[0].base_feedback == "pair 0"
    gate = found.quantities()["win_rate_change"]
    assert gate.n == 8
    assert parse_gate("win_rate_change.high < 0").fails(-0.1)
