"""`edgejudge traces import`: OTLP JSON made by the real OpenTelemetry SDK (its own JSON
encoder, FileSpanExporter) turned into rows, each LLM span a conversation `batch` reads the
same as a hand-written one; the spans it cannot read listed with the reason."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from edgejudge.cli import main
from edgejudge.core import PRESETS
from edgejudge.core.genai import SpanEvent, span_conversation
from edgejudge.core.inputs import coerce_input
from edgejudge.errors import InputError
from edgejudge.io.traces import Span, any_value, import_traces, read_spans
from edgejudge.judging.rows import RowSource, read_rows
from tests.support.conversations import MESSAGES, TOOLS
from tests.support.traces import UNREADABLE, write_sdk_traces


@pytest.fixture(scope="module")
def sdk_traces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("traces") / "traces.jsonl"
    write_sdk_traces(path)
    return path


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_sdk_traces_become_one_row_per_llm_span(sdk_traces: Path, tmp_path: Path) -> None:
    out = tmp_path / "calls.jsonl"
    found = import_traces(sdk_traces, out)
    rows = _rows(out)
    spans = {span.id: span.name for span in read_spans(sdk_traces) if isinstance(span, Span)}
    assert len(spans) == 12  # every span the SDK wrote, each read
    assert [spans[row["id"]] for row in rows] == [
        "chat weather-model", "chat weather-model", "chat details-event", "chat old-events",
        "openai.chat",
    ]  # fmt: skip
    assert found.rows == 5
    assert dict(found.conventions) == {"current": 3, "events": 1, "indexed": 1}
    assert found.other_spans == 3  # invoke_agent, execute_tool, GET /forecast
    assert sorted(s.name for s in found.skipped) == sorted(UNREADABLE)
    for skipped in found.skipped:
        assert UNREADABLE[skipped.name] in skipped.reason
        assert skipped.line().startswith(f"span {skipped.span} {skipped.name!r} (line ")
    first, second = rows[:2]
    assert set(first) == {"id", "messages", "tools"}  # batch reads them as they are
    trace, span = first["id"].split(":")
    assert second["id"].startswith(f"{trace}:")  # one agent run
    assert len(trace) == 32 and len(span) == 16 and int(trace + span, 16)
    # The second call holds the whole run: the same conversation as the hand-written one.
    assert second["tools"] == TOOLS
    metric = PRESETS["task-completion-5point"]
    imported = coerce_input(read_rows(out)[1].input_for(metric), metric)
    written = coerce_input({"messages": MESSAGES, "tools": TOOLS}, metric)
    assert imported == written
    assert rows[3]["messages"] == [
        {"role": "user", "content": "Weather tomorrow?"},
        {"role": "assistant", "content": "Sunny."},
    ]
    indexed = rows[4]
    assert indexed["messages"][-1]["tool_calls"][0]["function"] == {
        "name": "get_weather", "arguments": '{"city": "Paris"}'
    }  # fmt: skip
    assert indexed["tools"] == TOOLS


def test_the_rows_feed_batch_with_a_tool_choice_metric(sdk_traces: Path, tmp_path: Path) -> None:
    out = tmp_path / "calls.jsonl"
    import_traces(sdk_traces, out)
    metric = PRESETS["tool-choice-binary"]
    source = RowSource(out)
    assert source.scan([metric]) == 5
    rows = list(source.rows())
    first = coerce_input(rows[0].input_for(metric), metric)
    assert first.output_value == '-> get_weather({"city": "Paris"})'
    talk_only = rows[3].input_for(metric)  # the old-events call: it calls no tool
    assert isinstance(talk_only, InputError)
    assert "a tool-choice metric cannot apply to it" in str(talk_only)


def test_the_cli_lists_what_it_skips_and_replaces_its_output(
    sdk_traces: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "calls.jsonl"
    out.write_text("old\n")
    assert main(["traces", "import", str(sdk_traces), "-o", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len([line for line in err if line.startswith("edgejudge: skipped span ")]) == 4
    assert err[-1] == (
        f"imported 5 LLM spans (3 current, 1 events, 1 indexed) -> {out}; 4 skipped (listed "
        "above), 3 other spans"
    )
    assert len(_rows(out)) == 5
    # The same file twice (an export repeated) gives each span once.
    doubled = tmp_path / "doubled.jsonl"
    doubled.write_bytes(sdk_traces.read_bytes() * 2)
    found = import_traces(doubled, out)
    assert found.rows == 5
    assert sum("the same span again" in s.reason for s in found.skipped) == 5


def test_the_cli_exits_2_on_a_file_with_nothing_to_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"id": 1, "query": "q"}\n')
    out = tmp_path / "calls.jsonl"
    assert main(["traces", "import", str(rows), "-o", str(out)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"edgejudge: error: {rows} holds no OTLP spans: line 1: not an OTLP trace export "
        "(no resourceSpans)"
    )
    assert not out.exists()
    assert main(["traces", "import", str(rows), "-o", str(tmp_path / "calls.csv")]) == 2
    assert "name the output .jsonl" in capsys.readouterr().err
    assert main(["traces", "import", str(rows), "-o", str(rows)]) == 2  # never over its input
    assert rows.read_text() == '{"id": 1, "query": "q"}\n'


def _export(spans: list[dict[str, Any]], **resource: Any) -> dict[str, Any]:
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans}]}]}


def test_a_bad_line_is_listed_and_the_rest_are_read(tmp_path: Path) -> None:
    span = {
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "spanId": "b7ad6b7169203331",
        "name": "chat",
        "attributes": [
            {"key": "gen_ai.input.messages", "value": {"stringValue": json.dumps([
                {"role": "user", "parts": [{"type": "text", "content": "hi"}]}])}},
            {"key": "gen_ai.output.messages", "value": {"stringValue": json.dumps([
                {"role": "assistant", "parts": [{"type": "text", "content": "hello"}]}])}},
        ],
    }  # fmt: skip
    bad_id = {**span, "spanId": "xyz"}
    path = tmp_path / "traces.jsonl"
    path.write_bytes(
        b"{not json\n"
        + json.dumps(_export([span, bad_id])).encode()
        + b"\n\xff\xfe\n"
        + json.dumps({"resourceMetrics": []}).encode()  # metrics beside: passed over
        + b"\n"
    )
    items = list(read_spans(path))
    assert [getattr(item, "reason", None) for item in items] == [
        "not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        None,
        "its spanId is not 8 bytes of hex",
        "not JSON: line 3 is not UTF-8 text (byte 0xff at offset 0); save it as UTF-8",
    ]
    found = import_traces(path, tmp_path / "out.jsonl")
    assert found.rows == 1 and len(found.skipped) == 3


def test_a_pretty_printed_export_base64_ids_and_structured_values(tmp_path: Path) -> None:
    messages = {"arrayValue": {"values": [{"kvlistValue": {"values": [
        {"key": "role", "value": {"stringValue": "user"}},
        {"key": "parts", "value": {"arrayValue": {"values": [{"kvlistValue": {"values": [
            {"key": "type", "value": {"stringValue": "text"}},
            {"key": "content", "value": {"stringValue": "hi"}},
        ]}}]}}},
    ]}}]}}  # fmt: skip
    answer = [{"role": "assistant", "parts": [{"type": "text", "content": "hello"}]}]
    span = {
        "trace_id": base64.b64encode(bytes(range(1, 17))).decode(),  # protobuf names, base64
        "span_id": base64.b64encode(bytes(range(1, 9))).decode(),
        "name": "chat",
        "attributes": [
            {"key": "gen_ai.input.messages", "value": messages},
            {"key": "gen_ai.output.messages", "value": {"stringValue": json.dumps(answer)}},
        ],
    }
    path = tmp_path / "export.json"
    path.write_text(json.dumps(_export([span]), indent=2))
    out = tmp_path / "out.jsonl"
    assert import_traces(path, out).rows == 1
    row = _rows(out)[0]
    assert row["id"] == "0102030405060708090a0b0c0d0e0f10:0102030405060708"
    assert row["messages"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
    ]
    assert any_value({"intValue": "7"}) == 7
    assert any_value({"doubleValue": 0.5}) == 0.5
    assert any_value({"boolValue": False}) is False
    assert any_value({}) is None


def test_the_older_prompt_event_as_a_python_literal_and_plain_text() -> None:
    # The conventions' own example of gen_ai.prompt is a Python literal, not JSON.
    prompt = "[{'role': 'user', 'content': 'Hi'}]"
    events = [
        SpanEvent("gen_ai.content.prompt", {"gen_ai.prompt": prompt}),
        SpanEvent("gen_ai.content.completion", {"gen_ai.completion": "Hello there."}),
    ]
    call = span_conversation({}, events)
    assert call is not None and call.convention == "events"
    assert call.messages == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello there."},
    ]
    assert span_conversation({"http.method": "GET"}) is None
    with pytest.raises(InputError, match="no gen_ai.content.completion event"):
        span_conversation({}, events[:1])


def test_a_conversation_the_checks_refuse_is_listed() -> None:
    # A tool result answering no call: the same check `batch` makes, made at import.
    from edgejudge.core.conversation import Conversation

    stray = {"role": "tool", "parts": [{"type": "tool_call_response", "id": "nope",
                                        "response": "x"}]}  # fmt: skip
    answer = {"role": "assistant", "parts": [{"type": "text", "content": "ok"}]}
    call = span_conversation({"gen_ai.input.messages": [stray], "gen_ai.output.messages": [answer]})
    assert call is not None
    with pytest.raises(InputError, match="answers no tool call made before it"):
        Conversation.read(call.messages, call.tools)


ANSWER = [{"role": "assistant", "parts": [{"type": "text", "content": "ok"}]}]


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        ({"gen_ai.output.messages": "[{"}, "gen_ai.output.messages is not JSON"),
        ({"gen_ai.output.messages": [{"role": "assistant", "parts": [{"type": "text"}]}]},
         "gen_ai.output.messages message 1 part 1 is a text part with no text"),
        ({"gen_ai.input.messages": ["hi"], "gen_ai.output.messages": ANSWER},
         "gen_ai.input.messages is not a list of objects"),
        ({"gen_ai.input.messages": [{"parts": []}], "gen_ai.output.messages": ANSWER},
         "gen_ai.input.messages message 1 has no role"),
        ({"gen_ai.output.messages": ANSWER, "gen_ai.tool.definitions": '[{"name": "f", '
          '"parameters": "{nope"}]'}, "gen_ai.tool.definitions parameters are not JSON"),
        ({"gen_ai.prompt.0.content": "hi"}, "no gen_ai.completion.N attributes"),
        ({"gen_ai.operation.name": "text_completion"}, "content was not recorded"),
    ],
)  # fmt: skip
def test_a_span_that_cannot_be_read_says_why(attributes: dict[str, Any], reason: str) -> None:
    with pytest.raises(InputError) as raised:
        span_conversation(attributes)
    assert reason in str(raised.value)


def test_system_instructions_as_plain_text_or_one_part() -> None:
    for system in ("Be brief.", '{"type": "text", "content": "Be brief."}'):
        call = span_conversation(
            {"gen_ai.system_instructions": system, "gen_ai.output.messages": ANSWER}
        )
        assert call is not None
        assert call.messages == [
            {"role": "system", "content": "Be brief."},
            {"role": "assistant", "content": "ok"},
        ]
