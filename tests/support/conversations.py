"""A conversation with a tool call, in the OpenAI chat shape, shared by the conversation
tests: a user in Paris asks for tomorrow's weather; the assistant calls get_weather, reads
its result and answers."""

from __future__ import annotations

from typing import Any

CALL = {"id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}  # fmt: skip
MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "You help with the weather."},
    {"role": "user", "content": "I live in Paris. Weather tomorrow?"},
    {"role": "assistant", "content": None, "tool_calls": [CALL]},
    {"role": "tool", "tool_call_id": "call_1", "content": '{"high_c": 14}'},
    {"role": "assistant", "content": [{"type": "text", "text": "Tomorrow: 14 °C in Paris."}]},
]
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}}
SPEC = {"name": "get_weather", "description": "Forecast.", "parameters": WEATHER}
TOOLS = [{"type": "function", "function": SPEC}]
