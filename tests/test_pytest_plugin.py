"""The pytest plugin (edgejudge/integrations/pytest.py) in real pytest runs, through `pytester`, on
the real demo model: the fixture and assert_verdict, a failing assertion's message, the
terminal summary, a rerun's identical verdicts, and `-p no:edgejudge` loading nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.cases import TEN_FAITHFULNESS

pytest_plugins = ("pytester",)

METRIC = "response-faithfulness-5point"
SUITE = f'''
import pytest

CASES = {TEN_FAITHFULNESS[:3]!r}


def test_one_judgment_passes(judge):
    result = judge.assert_verdict(CASES[0], at_least=1)
    assert result.metric == "{METRIC}"


def test_a_score_too_low_fails(judge):
    judge.assert_verdict(CASES[1], at_least=5)


def test_several_in_the_slots(judge):
    results = judge.evaluate_many(CASES[1:])
    assert [r.metric for r in results] == ["{METRIC}"] * 2


def test_a_label_on_a_two_row_rubric(judge):
    binary = "response-faithfulness-binary"
    given = judge.evaluate(CASES[2], metric=binary).score  # 1: the higher row, PASS
    judge.assert_verdict(CASES[2], metric=binary, label="PASS" if given == 1 else "FAIL")
    with pytest.raises(pytest.fail.Exception, match="wanted label"):
        judge.assert_verdict(CASES[2], metric=binary, label="FAIL" if given == 1 else "PASS")
'''
QUIET = """
import sys


def test_nothing_judged():
    assert "llama_cpp" not in sys.modules
"""


def summary(output: str) -> list[str]:
    """The plugin's section of the terminal summary, less the seconds."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"=+ edgejudge =+$", line))
    section = []
    for line in lines[start + 1 :]:
        if line.startswith("==="):
            break
        section.append(re.sub(r"[\d.]+ s\b", "S s", line))
    return section


@pytest.mark.model
def test_the_plugin_judges_fails_clearly_and_sums_up(
    pytester: pytest.Pytester, use_demo_cache: Path
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    options = ["--edgejudge-model", "demo", "--edgejudge-metric", METRIC,
               "--edgejudge-max-tokens", "24", "-p", "no:cacheprovider"]  # fmt: skip
    first = pytester.runpytest_subprocess(*options)
    first.assert_outcomes(passed=3, failed=1)
    out = first.stdout.str()
    # The failure says what the judge gave, what was wanted, the rubric row and the feedback.
    assert re.search(rf"edgejudge: {METRIC} gave [1-4], wanted at least 5", out)
    assert re.search(r"\n  rubric [1-4]: \S", out) and "\n  feedback: " in out
    section = summary(out)
    per_test = [line for line in section if "::" in line]
    assert len(per_test) == 7  # 1 + 1 + 2 + 3 judgments
    assert per_test[0].startswith(f"test_suite.py::test_one_judgment_passes  {METRIC}  ")
    assert re.search(rf"^{METRIC}: 4 judged, mean score \d\.\d\d, S s in all$",
                     "\n".join(section), re.M)  # fmt: skip
    # The binary metric, judged on the same loaded model.
    assert any(line.startswith("response-faithfulness-binary: 3 judged") for line in section)
    # Greedy decoding: a rerun gives the same verdicts, in the same order.
    again = pytester.runpytest_subprocess(*options)
    again.assert_outcomes(passed=3, failed=1)
    assert summary(again.stdout.str()) == section


TABLE_SUITE = f'''
import pytest

from edgejudge.integrations.pytest import cases

MAP = {{"query": "question", "response": "answer"}}


@pytest.mark.parametrize("case", cases("answers.csv", "{METRIC}", map=MAP, id_column="qid"))
def test_each_row(judge, case):
    judge.assert_verdict(case, at_least=1)
'''


@pytest.mark.model
def test_cases_reads_a_table_into_one_test_per_row(
    pytester: pytest.Pytester, use_demo_cache: Path
) -> None:
    rows = [(f"q{n}", r["query"], r["context"], r["response"]) for n, r in
            enumerate(TEN_FAITHFULNESS[:2])] + [("q2", "Who?", "Nobody.", "")]  # fmt: skip
    lines = ["qid,question,context,answer"] + [",".join(f'"{v}"' for v in row) for row in rows]
    pytester.makefile(".csv", answers="\n".join(lines) + "\n")
    pytester.makepyfile(test_table=TABLE_SUITE)
    done = pytester.runpytest_subprocess(
        "--edgejudge-model", "demo", "--edgejudge-metric", METRIC, "--edgejudge-max-tokens",
        "8", "-p", "no:cacheprovider", "-v",
    )  # fmt: skip
    done.assert_outcomes(passed=2, failed=1)
    out = done.stdout.str()
    assert "test_each_row[q0] PASSED" in out and "test_each_row[q2] FAILED" in out
    assert (
        "edgejudge: this row cannot be judged: field 'response' (column 'answer') is empty"
    ) in out


def test_unused_it_loads_nothing_and_p_no_edgejudge_imports_nothing(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_quiet=QUIET)
    unused = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    unused.assert_outcomes(passed=1)
    assert "edgejudge" not in unused.stdout.str().split("passed")[-1]  # no summary section
    pytester.makepyfile(
        test_off="import sys\n\ndef test_off():\n"
        "    assert 'edgejudge.integrations.pytest' not in sys.modules\n"
    )
    off = pytester.runpytest_subprocess("-p", "no:edgejudge", "-p", "no:cacheprovider",
                                        "test_off.py")  # fmt: skip
    off.assert_outcomes(passed=1)
    on = pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_off.py")
    on.assert_outcomes(failed=1)  # the same test sees the plugin when it is on


def test_a_judge_with_no_model_says_how_to_name_one(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bare=f"def test_it(judge):\n    judge.assert_verdict({{}}, metric='{METRIC}', "
        "at_least=1)\n"
    )
    done = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert done.ret != 0
    assert "no judge model: pass --edgejudge-model" in done.stdout.str() + done.stderr.str()


def test_a_model_that_is_not_there_fails_in_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_gone=f"def test_it(judge):\n    judge.evaluate({{}}, metric='{METRIC}')\n"
    )
    done = pytester.runpytest_subprocess("--edgejudge-model", "no-such-model.gguf",
                                         "-p", "no:cacheprovider")  # fmt: skip
    done.assert_outcomes(failed=1)
    out = done.stdout.str()
    assert "edgejudge: " in out and "no-such-model.gguf" in out
    assert "another exception" not in out and "judge.py" not in out  # the message alone


GATED = f"""
CASE = {TEN_FAITHFULNESS[0]!r}


def test_faithful(judge):
    judge.assert_verdict(CASE, at_least=1)
"""


@pytest.mark.model
def test_a_suite_gated_on_a_stored_baseline(
    pytester: pytest.Pytester, use_demo_cache: Path
) -> None:
    pytester.makepyfile(test_gated=GATED)
    options = ["--edgejudge-model", "demo", "--edgejudge-metric", METRIC,
               "--edgejudge-max-tokens", "8", "-p", "no:cacheprovider"]  # fmt: skip
    first = pytester.runpytest_subprocess(*options, "--edgejudge-journal", "base.jsonl")
    first.assert_outcomes(passed=1)
    lines = (pytester.path / "base.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["id"] for r in records] == ["test_gated.py::test_faithful#1"]
    assert records[0]["judge"]["max_tokens"] == 8
    baseline = ["--edgejudge-baseline", "base.jsonl"]
    # The same verdict (greedy): one gate passes; one holds on it, so the test passes and
    # the session fails.
    gates = ["--edgejudge-fail-if", "mean_change < 0", "--edgejudge-fail-if", "worse_share >= 0"]
    failed = pytester.runpytest_subprocess(*options, *baseline, *gates)
    failed.assert_outcomes(passed=1)
    assert failed.ret == pytest.ExitCode.TESTS_FAILED
    out = failed.stdout.str()
    assert f"gate passed {METRIC}: mean_change < 0: 0, 1 rows" in out
    assert f"gate FAILED {METRIC}: worse_share >= 0: 0, 1 rows" in out
    assert "edgejudge diff against the baseline" in out and "mean_change: +0.000" in out
    bad = pytester.runpytest_subprocess(*options, *baseline, "--edgejudge-fail-if", "nope < 1")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "no quantity 'nope'" in bad.stderr.str()
