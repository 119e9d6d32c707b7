"""Conversations, tool calls and agent runs judged by `demo-instruct` (SmolLM2-135M-Instruct,
a chat model) in real llama.cpp, under every family's prompt and grammar: each verdict
parses, is one of the metric's values, and is the same when judged again (greedy)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edgejudge import Judge
from edgejudge.errors import InputError
from edgejudge.runtime.inprocess.llama_cpp import LlamaCppRuntime
from tests.support.cli import run_cli
from tests.support.conversations import MESSAGES, TOOLS

pytestmark = pytest.mark.model

RUN = {"messages": MESSAGES, "tools": TOOLS}
CALLING = {"messages": MESSAGES[:3], "tools": TOOLS}  # ends with the tool call
# (family, metric, row) for every family that takes a conversation.
MODES: list[tuple[str, str, dict[str, Any]]] = [
    ("flow-judge", "tool-choice-binary", CALLING),
    ("flow-judge@harness", "conversation-helpfulness-5point", RUN),
    ("prometheus", "task-completion-5point", RUN),
    ("prometheus@library", "tool-choice-5point", CALLING),
    ("selene", "tool-choice-binary", CALLING),
    ("selene", "conversation-knowledge-retention-binary", RUN),
    ("glider", "tool-choice-5point", CALLING),
    # Root Judge asks one question, hallucination: of the last turn, against a document.
    ("root-judge", "hallucination-detection",
     {"messages": MESSAGES, "query": "Weather tomorrow?", "context": "Paris: high 14 °C."}),
]  # fmt: skip


@pytest.fixture(scope="module")
def instruct(instruct_path: Path) -> Iterator[LlamaCppRuntime]:
    runtime = LlamaCppRuntime(instruct_path, context_length=4096, model_name="demo-instruct")
    yield runtime
    runtime.close()


@pytest.mark.parametrize(("family", "metric", "row"), MODES)
def test_a_conversation_judges_under_every_family(
    instruct: LlamaCppRuntime, family: str, metric: str, row: dict[str, Any]
) -> None:
    with Judge(None, metric, runtime=instruct, family=family, max_tokens=32) as judge:
        result = judge.evaluate(row)
        again = judge.evaluate(row)
        prompt = judge.prompt(row)
    assert result.decision in judge.format.decision_values(judge.metric)
    assert (again.raw, again.decision) == (result.raw, result.decision)  # greedy
    judged = '-> get_weather({"city": "Paris"})' if row is CALLING else "Tomorrow: 14 °C in Paris."
    assert judged in prompt


def test_a_metric_that_cannot_apply_is_an_error_row_and_the_rest_go_on(
    instruct: LlamaCppRuntime,
) -> None:
    talk_only = {"messages": [MESSAGES[1], {"role": "assistant", "content": "Sunny."}]}
    with Judge(None, "tool-choice-binary", runtime=instruct, max_tokens=16) as judge:
        outcomes = list(judge.evaluate_many([CALLING, talk_only], return_exceptions=True))
    assert not isinstance(outcomes[0], BaseException)
    assert isinstance(outcomes[1], InputError)
    assert "a tool-choice metric cannot apply to it" in str(outcomes[1])


def test_a_per_turn_batch_resumes_by_id_and_turn(
    tmp_path: Path, demo_cache: Path, instruct_path: Path
) -> None:
    said = [("user", "hi"), ("assistant", "Hello!"), ("user", "bye"), ("assistant", "Bye!")]
    talk = [{"role": role, "content": text} for role, text in said]
    source = tmp_path / "runs.jsonl"
    rows = [{"id": "a", "messages": MESSAGES, "tools": TOOLS}, {"id": "b", "messages": talk}]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "out.jsonl"
    args = ["batch", str(source), "-o", str(out), "--model", "demo-instruct", "-m",
            "conversation-helpfulness-5point", "--per-turn", "--last-turns", "2",
            "--max-tokens", "8", "--no-progress"]  # fmt: skip
    first = run_cli(args, demo_cache)
    assert first.returncode == 0, first.stderr
    assert "2 conversations · mean" in first.stderr and "worst turn: " in first.stderr
    lines = out.read_text().splitlines(keepends=True)
    assert [(json.loads(x)["id"], json.loads(x)["turn"]) for x in lines] == [
        ("a", 1), ("a", 2), ("b", 1), ("b", 2)
    ]  # fmt: skip
    out.write_text("".join(lines[:2]))  # as if stopped after conversation a
    again = run_cli(args, demo_cache)
    assert "2 judged, 0 failed, 2 already done" in again.stderr, again.stderr
    resumed = out.read_text().splitlines(keepends=True)
    assert resumed[:2] == lines[:2]
    strip = [{k: v for k, v in json.loads(x).items() if k != "seconds"} for x in lines]
    assert [{k: v for k, v in json.loads(x).items() if k != "seconds"} for x in resumed] == strip


def test_llm_calls_imported_from_sdk_traces_judge_in_a_batch(
    tmp_path: Path, instruct: LlamaCppRuntime
) -> None:
    from edgejudge.io.traces import import_traces
    from edgejudge.judging import batch
    from edgejudge.judging.rows import RowSource
    from tests.support.traces import write_sdk_traces

    traces, calls, out = tmp_path / "traces.jsonl", tmp_path / "calls.jsonl", tmp_path / "v.jsonl"
    write_sdk_traces(traces)  # the real OpenTelemetry SDK and its OTLP JSON encoder
    assert import_traces(traces, calls).rows == 5
    source = RowSource(calls)
    with Judge(None, "tool-choice-binary", runtime=instruct, max_tokens=16) as judge:
        source.scan([judge.metric])
        with batch.BatchOutput(out) as output:
            list(batch.run_batch(judge, list(source.rows()), output))
        direct = judge.evaluate(json.loads(calls.read_text().splitlines()[0]))
    found = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["id"] for row in found] == [row.id for row in source.rows()]
    judged = [row for row in found if "error" not in row]
    assert len(judged) == 3  # the calls that call a tool; the two that do not are error rows
    assert all(row["score"] in (0, 1) for row in judged)
    assert all("cannot apply" in row["error"] for row in found if "error" in row)
    assert found[0]["score"] == direct.score  # greedy: the same verdict judged alone
