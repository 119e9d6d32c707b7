"""edgejudge inside DeepEval and Inspect, against the real packages from PyPI, offline.

The model tests run each framework's own entry point (DeepEval's `evaluate` and
`assert_test`, Inspect's `eval`) on the examples under examples/, in a child process whose
sockets refuse every connection and record it: nothing may try to reach a hosted service.
Their verdicts are compared with the same answers judged by edgejudge directly.

DeepEval and Inspect are installed in a venv of their own (scripts/test.sh runs this file
there); elsewhere it skips, except in CI, which sets EDGEJUDGE_REQUIRE_INTEGRATIONS=1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from edgejudge.core import get_preset

if os.environ.get("EDGEJUDGE_REQUIRE_INTEGRATIONS") != "1":
    pytest.importorskip("deepeval", exc_type=ImportError)
    pytest.importorskip("inspect_ai", exc_type=ImportError)

ROOT = Path(__file__).resolve().parents[1]
METRIC = "response-faithfulness-5point"

# Loaded first in the child (sitecustomize): every socket connection is refused and written
# down, and the list printed at exit.
GUARD = """
import atexit, json, os, socket

ATTEMPTS = []
_connect = socket.socket.connect


def _refuse(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        ATTEMPTS.append(repr(address))
        raise OSError("network refused by the test")
    return _connect(self, address)


socket.socket.connect = _refuse
socket.socket.connect_ex = lambda self, address: (_refuse(self, address), 0)[1]
atexit.register(lambda: open(os.environ["NETWORK_LOG"], "w").write(json.dumps(ATTEMPTS)))
"""


def run_offline(script: str, tmp_path: Path, demo_cache: Path) -> tuple[str, list[str]]:
    """Run `script` in a child Python with the network refused; its stdout and the
    connections it tried."""
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD)
    log = tmp_path / "network.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(guard), str(ROOT)]),
        "NETWORK_LOG": str(log),
        "EDGEJUDGE_CACHE_DIR": str(demo_cache),
        "DEEPEVAL_TELEMETRY_OPT_OUT": "1",
        "INSPECT_TELEMETRY": "",
    }
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout, json.loads(log.read_text())


@pytest.fixture(scope="module")
def direct(demo_path: Path) -> dict[str, Any]:
    """The examples' two answers judged by edgejudge itself, keyed by answer."""
    from edgejudge import Judge

    sys.path.insert(0, str(ROOT / "examples" / "deepeval"))
    try:
        from evaluate_answers import CASES, CONTEXT
    finally:
        sys.path.pop(0)
    with Judge(demo_path, METRIC, max_tokens=64) as judge:
        return {
            case.actual_output: judge.evaluate(
                {"query": case.input, "context": CONTEXT, "response": case.actual_output}
            )
            for case in CASES
        }


# -- DeepEval ------------------------------------------------------------------------------

DEEPEVAL = """
import json, runpy
from deepeval import assert_test, evaluate
from deepeval.evaluate.configs import AsyncConfig
from edgejudge.integrations.deepeval import EdgeJudgeMetric

example = runpy.run_path("{example}")
metric = EdgeJudgeMetric("{metric}", judge_model="demo", max_tokens=64, at_least=4)
result = evaluate(example["CASES"], [metric], async_config=AsyncConfig(run_async=False))
rows = [dict(name=d.name, score=d.score, reason=d.reason, success=d.success,
             threshold=d.threshold, output=t.actual_output)
        for t in result.test_results for d in t.metrics_data]
# assert_test fails a case whose score is under the threshold
case = example["CASES"][0]
strict = EdgeJudgeMetric("{metric}", judge=metric.judge, threshold=metric.measure(case) + 0.01)
try:
    assert_test(case, [strict], run_async=False)
    failed = None
except AssertionError as exc:
    failed = str(exc)
print("RESULT" + json.dumps(dict(rows=rows, failed=failed)))
"""


@pytest.mark.model
def test_deepeval_evaluate_grades_two_cases_offline_with_the_judges_verdicts(
    tmp_path: Path, demo_cache: Path, direct: dict[str, Any]
) -> None:
    example = ROOT / "examples" / "deepeval" / "evaluate_answers.py"
    out, attempts = run_offline(DEEPEVAL.format(example=example, metric=METRIC), tmp_path,
                                demo_cache)  # fmt: skip
    assert attempts == []  # nothing tried to reach a hosted service
    found = json.loads(out.split("RESULT", 1)[1])
    rows = found["rows"]
    assert len(rows) == 2 and {row["output"] for row in rows} == set(direct)
    scores = get_preset(METRIC).scores
    for row in rows:
        judged = direct[row["output"]]
        assert row["name"] == f"edgejudge {METRIC}"
        assert row["reason"] == judged.feedback  # the same verdict as edgejudge's own
        assert row["score"] == (judged.score - scores[0]) / (scores[-1] - scores[0])
        assert row["threshold"] == 0.75  # at_least=4 on the 1-5 scale
        assert row["success"] == (judged.score >= 4)
    assert found["failed"] and "edgejudge" in found["failed"]


def test_a_test_cases_fields_become_the_metrics_inputs() -> None:
    from deepeval.test_case import LLMTestCase

    from edgejudge.core import Metric, RubricItem
    from edgejudge.integrations.deepeval import case_inputs

    faithful = get_preset(METRIC)
    case = LLMTestCase(input="Q?", actual_output="A.", retrieval_context=["one", "two"],
                       context=["ignored"])  # fmt: skip
    assert case_inputs(case, faithful) == {"query": "Q?", "context": "one\n\ntwo", "response": "A."}
    fallback = LLMTestCase(input="Q?", actual_output="A.", context=["c"])
    assert case_inputs(fallback, faithful)["context"] == "c"
    with pytest.raises(ValueError, match="needs context: the test case has no "
                       "retrieval_context or context"):  # fmt: skip
        case_inputs(LLMTestCase(input="Q?", actual_output="A."), faithful)
    ticket = Metric(name="ticket-tone", criteria="Is the reply polite?",
                    rubric=(RubricItem(score=0, description="rude"),
                            RubricItem(score=1, description="polite")),
                    required_inputs=("ticket",), required_output="response")  # fmt: skip
    with_ticket = LLMTestCase(input="-", actual_output="Sure!", metadata={"ticket": "Help"})
    assert case_inputs(with_ticket, ticket) == {"ticket": "Help", "response": "Sure!"}


# -- Inspect -------------------------------------------------------------------------------

INSPECT = """
import sys
sys.path.insert(0, "{folder}")
from inspect_ai import eval
from scored_answers import scored_answers

log = eval(scored_answers(judge_model="demo"), model="mockllm/model", log_dir="{logs}",
           display="none")[0]
print("RESULT" + log.location)
"""


@pytest.mark.model
def test_an_inspect_eval_scores_two_samples_and_its_log_reads_back(
    tmp_path: Path, demo_cache: Path, direct: dict[str, Any]
) -> None:
    from inspect_ai.log import read_eval_log

    folder = ROOT / "examples" / "inspect"
    script = INSPECT.format(folder=folder, logs=tmp_path / "logs")
    out, attempts = run_offline(script, tmp_path, demo_cache)
    assert attempts == []
    log = read_eval_log(out.split("RESULT", 1)[1].strip())
    assert log.status == "success" and log.samples is not None and len(log.samples) == 2
    for sample in log.samples:
        assert sample.scores is not None
        score = sample.scores["edgejudge_scorer"]
        judged = direct[score.answer]
        assert score.value == judged.score
        assert score.explanation == judged.feedback
        assert score.metadata is not None
        measured = score.metadata["probabilities"]
        assert measured == {str(k): p for k, p in (judged.probabilities or {}).items()}
        assert abs(sum(measured.values()) - 1) < 1e-9
    assert log.results is not None
    values = [direct[s.scores["edgejudge_scorer"].answer].score for s in log.samples]  # type: ignore[index]
    mean = log.results.scores[0].metrics["mean"].value
    assert mean == pytest.approx(sum(values) / 2)
