"""An LLM call recorded by OpenTelemetry's GenAI semantic conventions, as a conversation.

`span_conversation` takes one span's attributes and events (plain Python values, already
decoded from OTLP) and gives the call as the OpenAI chat shape `core.conversation` reads:
`messages` (the input, then the model's answer as the last assistant message) and `tools`.
Three ways of recording the content are read:

* **current** (semantic conventions v1.37.0 and later): the attributes
  `gen_ai.system_instructions`, `gen_ai.input.messages`, `gen_ai.output.messages` and
  `gen_ai.tool.definitions`, each JSON text or a structured value, on the span or on its
  `gen_ai.client.inference.operation.details` event. A message is a role and a list of parts:
  `text`, `tool_call` (id, name, arguments) and `tool_call_response` (id, response) are
  read; a `reasoning` part (the model's thinking, not what it said) is left out; any other
  part (`blob`, `file`, `uri`...) makes the span unreadable: a text judge cannot see it.
* **events** (v1.26.0, deprecated by v1.27.0 yet still written, e.g. by Semantic Kernel): the
  span events `gen_ai.content.prompt` and `gen_ai.content.completion`, whose attributes
  `gen_ai.prompt` and `gen_ai.completion` hold OpenAI-shaped messages as JSON (or, as the
  conventions' own example shows, as a Python literal), or a plain prompt text.
* **indexed** (OpenLLMetry / Traceloop): flat attributes `gen_ai.prompt.N.role`,
  `gen_ai.prompt.N.content`, `gen_ai.prompt.N.tool_calls.K.name`..., `gen_ai.completion.N.*`
  and the tools as `llm.request.functions.N.name` / `.description` / `.parameters`.

The per-message log events of v1.27.0 to v1.36.0 (`gen_ai.user.message`, `gen_ai.choice`...)
are log records, not part of a trace file, and are not read.

A span with none of these is not an LLM call with content: `None`, or, where its
`gen_ai.operation.name` says it is one (`chat`, `text_completion`, `generate_content`), an
`InputError` saying that its content was not captured. A span that cannot be read (no
answer, several answers, a part a text judge cannot see, JSON that does not parse) is an
`InputError` whose one line says why; the caller lists it, never drops it silently.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from edgejudge.errors import InputError

INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
TOOL_DEFINITIONS = "gen_ai.tool.definitions"
DETAILS_EVENT = "gen_ai.client.inference.operation.details"
PROMPT_EVENT = "gen_ai.content.prompt"
COMPLETION_EVENT = "gen_ai.content.completion"
PROMPT = "gen_ai.prompt"
COMPLETION = "gen_ai.completion"
OPERATION = "gen_ai.operation.name"
FUNCTIONS = "llm.request.functions"
# The operations that are an LLM call: a span of one with no content recorded is listed.
LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "chat.completions"})
# A part of a message the judge is not shown: the model's thinking, not its answer.
LEFT_OUT_PARTS = frozenset({"reasoning"})
_CAPTURE_HINT = (
    "its message content was not recorded (GenAI instrumentations record it only when "
    "asked, e.g. OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true)"
)


@dataclass(frozen=True)
class SpanEvent:
    """One event of a span: its name and attributes."""

    name: str
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """An LLM call as a conversation: OpenAI-shaped `messages` and `tools`, and which of
    the conventions above it was read from (`current`, `events` or `indexed`)."""

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    convention: str


def span_conversation(
    attributes: Mapping[str, Any], events: Sequence[SpanEvent] = ()
) -> Call | None:
    """The LLM call a span records (see the module's docstring); None for a span that is not
    one; an `InputError` saying why for one that cannot be read."""
    content = _current_attributes(attributes, events)
    if content is not None:
        return Call(*_current(content), convention="current")
    prompt = _event_value(events, PROMPT_EVENT, PROMPT)
    completion = _event_value(events, COMPLETION_EVENT, COMPLETION)
    if prompt is not None or completion is not None:
        return Call(_from_events(prompt, completion), [], convention="events")
    indexed = _indexed(attributes, PROMPT)
    answers = _indexed(attributes, COMPLETION)
    if indexed or answers:
        return Call(*_from_indexed(indexed, answers, attributes), convention="indexed")
    if str(attributes.get(OPERATION, "")).lower() in LLM_OPERATIONS:
        raise InputError(_CAPTURE_HINT)
    return None


# -- current: gen_ai.input.messages / gen_ai.output.messages -------------------------------


def _current_attributes(
    attributes: Mapping[str, Any], events: Sequence[SpanEvent]
) -> Mapping[str, Any] | None:
    """Where the current attributes are: the span's own, else its details event's."""
    keys = (INPUT_MESSAGES, OUTPUT_MESSAGES)
    if any(key in attributes for key in keys):
        return attributes
    for event in events:
        if event.name == DETAILS_EVENT and any(key in event.attributes for key in keys):
            return event.attributes
    return None


def _current(content: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system = content.get(SYSTEM_INSTRUCTIONS)
    if isinstance(system, str):  # JSON text, or (some instrumentations) the plain text
        parsed = _literal(system)
        system = parsed if isinstance(parsed, list | Mapping) else [_part(system)]
    inputs = _structured(content, INPUT_MESSAGES) or []
    outputs = _structured(content, OUTPUT_MESSAGES)
    if not outputs:
        raise InputError(f"no {OUTPUT_MESSAGES}: the span records no answer to judge")
    _list_of_objects(inputs, INPUT_MESSAGES)
    _list_of_objects(outputs, OUTPUT_MESSAGES)
    if len(outputs) > 1:
        raise InputError(
            f"{OUTPUT_MESSAGES} holds {len(outputs)} answers (choices): edgejudge judges a "
            "span with one"
        )
    messages: list[dict[str, Any]] = []
    if system:
        parts = system if isinstance(system, list) else [system]
        messages += _from_parts({"role": "system", "parts": parts}, SYSTEM_INSTRUCTIONS)
    for number, message in enumerate(inputs, start=1):
        messages += _from_parts(message, f"{INPUT_MESSAGES} message {number}")
    messages += _from_parts(outputs[0], f"{OUTPUT_MESSAGES} message 1")
    return messages, _tool_definitions(_structured(content, TOOL_DEFINITIONS) or [])


def _from_parts(message: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    """One GenAI message (a role and parts) as OpenAI messages: its tool results, each a
    `tool` message, then its text and tool calls as one message of its role."""
    role = _role(message.get("role"), where)
    parts = message.get("parts")
    if not isinstance(parts, list):
        raise InputError(f"{where} has no list of parts")
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for number, part in enumerate(parts, start=1):
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text":
            if not isinstance(part.get("content"), str):
                raise InputError(f"{where} part {number} is a text part with no text")
            texts.append(part["content"])
        elif kind == "tool_call":
            calls.append(_call(part.get("id"), part.get("name"), part.get("arguments")))
        elif kind == "tool_call_response":
            results.append(
                {
                    "role": "tool",
                    "tool_call_id": _id(part.get("id")),
                    "content": _text(part.get("response")),
                }
            )
        elif kind not in LEFT_OUT_PARTS:
            shown = f"a {kind!r} part" if isinstance(kind, str) else "a part with no type"
            raise InputError(f"{where} part {number} is {shown}, which a text judge cannot read")
    found = list(results)
    if texts or calls or not results:
        said: dict[str, Any] = {"role": role, "content": _content(texts)}
        if calls:
            said["tool_calls"] = calls
        found.append(said)
    return found


def _tool_definitions(tools: Any) -> list[dict[str, Any]]:
    """`gen_ai.tool.definitions` (type, name, description, parameters each) as OpenAI
    tools; an entry already in the OpenAI shape is kept as it is."""
    _list_of_objects(tools, TOOL_DEFINITIONS)
    found = []
    for tool in tools:
        if isinstance(tool.get("function"), Mapping):
            found.append(dict(tool))
            continue
        found.append(_tool(tool, TOOL_DEFINITIONS))
    return found


# -- events: gen_ai.content.prompt / gen_ai.content.completion -----------------------------


def _event_value(events: Sequence[SpanEvent], name: str, key: str) -> Any:
    for event in events:
        if event.name == name and key in event.attributes:
            return event.attributes[key]
    return None


def _from_events(prompt: Any, completion: Any) -> list[dict[str, Any]]:
    if completion is None:
        raise InputError(f"no {COMPLETION_EVENT} event: the span records no answer to judge")
    messages = _openai_messages(prompt, PROMPT, "user") if prompt is not None else []
    answers = _openai_messages(completion, COMPLETION, "assistant")
    if len(answers) != 1:
        raise InputError(
            f"{COMPLETION} holds {len(answers)} answers (choices): edgejudge judges a span with one"
        )
    return messages + answers


def _openai_messages(value: Any, where: str, role: str) -> list[dict[str, Any]]:
    """OpenAI-shaped messages from JSON text (or a Python literal, as in the conventions'
    own example), roles in lower case; a text that is neither is one message of `role`."""
    found = _literal(value) if isinstance(value, str) else value
    if isinstance(found, Mapping):
        found = [found]
    if not isinstance(found, list):
        return [{"role": role, "content": value if isinstance(value, str) else _text(value)}]
    _list_of_objects(found, where)
    return [
        {**message, "role": _role(message.get("role", role), f"{where} message {number}")}
        for number, message in enumerate(found, start=1)
    ]


# -- indexed: OpenLLMetry's gen_ai.prompt.N.* ----------------------------------------------

_INDEXED = re.compile(r"(\d+)\.(.+)")


def _indexed(attributes: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """`PREFIX.N.KEY` attributes as a list of {KEY: value}, by N (KEY may hold dots)."""
    found: dict[int, dict[str, Any]] = {}
    start = prefix + "."
    for key, value in attributes.items():
        if key.startswith(start) and (match := _INDEXED.fullmatch(key[len(start) :])):
            found.setdefault(int(match[1]), {})[match[2]] = value
    return [found[index] for index in sorted(found)]


def _from_indexed(
    prompts: list[dict[str, Any]], answers: list[dict[str, Any]], attributes: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if not answers:
        raise InputError(f"no {COMPLETION}.N attributes: the span records no answer to judge")
    if len(answers) > 1:
        raise InputError(
            f"{COMPLETION}.N holds {len(answers)} answers (choices): edgejudge judges a span "
            "with one"
        )
    messages = [
        _flat_message(item, f"{PROMPT}.{number}", "user") for number, item in enumerate(prompts)
    ]
    messages.append(_flat_message(answers[0], f"{COMPLETION}.0", "assistant"))
    tools = [
        _tool(spec, f"{FUNCTIONS}.{number}")
        for number, spec in enumerate(_indexed(attributes, FUNCTIONS))
    ]
    return messages, tools


def _flat_message(item: Mapping[str, Any], where: str, role: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": _role(item.get("role", role), where)}
    content = item.get("content")
    if isinstance(content, str) and content.lstrip().startswith("["):
        parsed = _literal(content)  # a list of content parts, written as JSON text
        content = parsed if isinstance(parsed, list) else content
    message["content"] = content
    if item.get("tool_call_id") is not None:
        message["tool_call_id"] = _id(item["tool_call_id"])
    calls = _indexed(item, "tool_calls")
    if calls:
        message["tool_calls"] = [
            _call(call.get("id"), call.get("name"), call.get("arguments")) for call in calls
        ]
    return message


# -- the values ----------------------------------------------------------------------------


def _structured(content: Mapping[str, Any], key: str) -> Any:
    """An attribute that is JSON text or a structured value, as a structured value."""
    value = content.get(key)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            raise InputError(f"{key} is not JSON") from None
    return value


def _literal(text: str) -> Any:
    """JSON text, else a Python literal (never code), else the text itself."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError):
        return text


def _list_of_objects(value: Any, where: str) -> None:
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise InputError(f"{where} is not a list of objects")


def _tool(spec: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A tool's name, description and parameters' schema (JSON text or an object) as an
    OpenAI tool."""
    function: dict[str, Any] = {"name": spec.get("name")}
    if spec.get("description") is not None:
        function["description"] = spec["description"]
    parameters = spec.get("parameters")
    if isinstance(parameters, str):
        try:
            parameters = json.loads(parameters)
        except (ValueError, RecursionError):
            raise InputError(f"{where} parameters are not JSON") from None
    if parameters is not None:
        function["parameters"] = parameters
    return {"type": "function", "function": function}


def _role(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise InputError(f"{where} has no role")
    return value.lower()


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def _call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    if arguments is not None and not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False)
    return {
        "id": _id(call_id),
        "type": "function",
        "function": {"name": name, "arguments": arguments or ""},
    }


def _text(value: Any) -> str:
    """A part's content or a tool's response as text: text as it is, else its JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _part(text: str) -> dict[str, str]:
    return {"type": "text", "content": text}


def _content(texts: list[str]) -> str | list[dict[str, str]] | None:
    if not texts:
        return None
    if len(texts) == 1:
        return texts[0]
    return [{"type": "text", "text": text} for text in texts]
