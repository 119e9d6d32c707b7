"""Trace files made by the real OpenTelemetry SDK: spans carrying the GenAI attributes and
events, written as OTLP JSON Lines by the SDK's own encoder (`FileSpanExporter` of
opentelemetry-exporter-otlp-json-file), as an instrumented application writes them.

The weather conversation of `conversations.py` is recorded as an agent run: an
`invoke_agent` span (no content of its own), a first `chat` call that answers with the tool
call, an `execute_tool` span, and a second `chat` call that reads the result and answers.
Beside it: one call recorded by each older convention, and the spans that cannot be read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SYSTEM = [{"type": "text", "content": "You help with the weather."}]
ASK = {"role": "user", "parts": [{"type": "text", "content": "I live in Paris. Weather tomorrow?"}]}
CALLS = {
    "role": "assistant",
    "parts": [{"type": "tool_call", "id": "call_1", "name": "get_weather",
               "arguments": {"city": "Paris"}}],
    "finish_reason": "tool_call",
}  # fmt: skip
RESULT = {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1",
                                     "response": {"high_c": 14}}]}  # fmt: skip
ANSWER = {
    "role": "assistant",
    "parts": [{"type": "reasoning", "content": "The tool said 14."},
              {"type": "text", "content": "Tomorrow: 14 °C in Paris."}],
    "finish_reason": "stop",
}  # fmt: skip
DEFINITIONS = [
    {"type": "function", "name": "get_weather", "description": "Forecast.",
     "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
]  # fmt: skip
# Span name -> why `traces import` skips it.
UNREADABLE = {
    "chat no-content": "its message content was not recorded",
    "chat image": "gen_ai.input.messages message 1 part 2 is a 'blob' part, which a text "
    "judge cannot read",
    "chat two-choices": "gen_ai.output.messages holds 2 answers (choices)",
    "chat no-answer": "no gen_ai.output.messages: the span records no answer to judge",
}


def _chat(tracer: Any, name: str, attributes: dict[str, Any]) -> None:
    with tracer.start_as_current_span(name) as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        span.set_attribute("gen_ai.request.model", "weather-model")
        for key, value in attributes.items():
            span.set_attribute(key, value if isinstance(value, str) else json.dumps(value))


def write_sdk_traces(path: Path) -> None:
    """Record the spans above with the SDK and export them to `path` as OTLP JSON Lines."""
    from opentelemetry.exporter.otlp.json.file import FileSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "weather-app"}))
    provider.add_span_processor(BatchSpanProcessor(FileSpanExporter(path)))
    tracer = provider.get_tracer("weather-agent")
    with tracer.start_as_current_span("invoke_agent weather") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        common = {"gen_ai.system_instructions": SYSTEM, "gen_ai.tool.definitions": DEFINITIONS}
        first = {"gen_ai.input.messages": [ASK], "gen_ai.output.messages": [CALLS]}
        _chat(tracer, "chat weather-model", {**common, **first})
        with tracer.start_as_current_span("execute_tool get_weather") as tool:
            tool.set_attribute("gen_ai.operation.name", "execute_tool")
        _chat(tracer, "chat weather-model", {
            **common,
            "gen_ai.input.messages": [ASK, CALLS, RESULT],
            "gen_ai.output.messages": [ANSWER],
        })  # fmt: skip
    with tracer.start_as_current_span("chat details-event") as span:
        span.add_event("gen_ai.client.inference.operation.details", {
            "gen_ai.input.messages": json.dumps([ASK]),
            "gen_ai.output.messages": json.dumps([ANSWER]),
        })  # fmt: skip
    with tracer.start_as_current_span("chat old-events") as span:
        # v1.26.0's events, roles as Semantic Kernel writes them.
        span.add_event("gen_ai.content.prompt", {"gen_ai.prompt": json.dumps(
            [{"role": "user", "content": "Weather tomorrow?"}])})  # fmt: skip
        span.add_event("gen_ai.content.completion", {"gen_ai.completion": json.dumps(
            [{"role": "Assistant", "content": "Sunny."}])})  # fmt: skip
    with tracer.start_as_current_span("openai.chat") as span:
        # OpenLLMetry's indexed attributes, with a tool call and the tool list.
        span.set_attributes({
            "llm.request.type": "chat",
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": "Weather in Paris?",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.tool_calls.0.id": "call_9",
            "gen_ai.completion.0.tool_calls.0.name": "get_weather",
            "gen_ai.completion.0.tool_calls.0.arguments": '{"city": "Paris"}',
            "llm.request.functions.0.name": "get_weather",
            "llm.request.functions.0.description": "Forecast.",
            "llm.request.functions.0.parameters": json.dumps(DEFINITIONS[0]["parameters"]),
        })  # fmt: skip
    _chat(tracer, "chat no-content", {})
    image = {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "iVBO"}
    _chat(tracer, "chat image", {
        "gen_ai.input.messages": [{"role": "user", "parts": [ASK["parts"][0], image]}],
        "gen_ai.output.messages": [ANSWER],
    })  # fmt: skip
    _chat(tracer, "chat two-choices",
          {"gen_ai.input.messages": [ASK], "gen_ai.output.messages": [ANSWER, ANSWER]})  # fmt: skip
    _chat(tracer, "chat no-answer", {"gen_ai.input.messages": [ASK]})
    with tracer.start_as_current_span("GET /forecast"):
        pass
    provider.shutdown()
