"""Conversations, tool calls and agent runs as a judge reads them.

A row may carry `messages` in the OpenAI chat shape (`system`, `developer`, `user`,
`assistant` and `tool` roles; an assistant's `tool_calls`, each a function name and its
arguments; a `tool` message's `tool_call_id`) and optionally `tools`, the JSON-schema list
the assistant was given. `Conversation.read` validates them with pydantic: a malformed
conversation is an `InputError` that says which message and which key.

`fields` turns a conversation into the text fields a metric names, by their names:

* `response`: the turn judged, the conversation's last assistant message: its text, then a
  line `-> NAME(ARGUMENTS)` per tool call;
* `tool_call`: the same of the last assistant message that calls a tool (an error if none
  does: the metric cannot apply);
* `conversation`: the transcript of every message before the turn judged;
* `tools`: the tool list, one tool a line with its parameters' schema.

`transcript` is the one rendering, deterministic and documented: each message is a line
`[ROLE]` (a tool result: `[tool NAME]`, its call's function name) and then its text; each
tool call is a line `-> NAME(ARGUMENTS)`, the arguments exactly as the assistant wrote them;
messages are a blank line apart. With `last_turns`, the earlier messages keep their system
and developer messages and the last N others, after a line `[K earlier messages left out]`:
nothing is ever cut silently. Content is only ever text in a field: no template markup
is read from it, as for any other input.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from edgejudge.errors import InputError

MESSAGES_KEY = "messages"
TOOLS_KEY = "tools"
# The fields a conversation gives a metric.
CONVERSATION = "conversation"
RESPONSE = "response"
TOOL_CALL = "tool_call"
TOOLS = "tools"
CONVERSATION_FIELDS = (CONVERSATION, RESPONSE, TOOL_CALL, TOOLS)

Role = Literal["system", "developer", "user", "assistant", "tool"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class FunctionCall(_Strict):
    """What a tool call asks for: a function and its arguments (JSON text, as written)."""

    name: str = Field(min_length=1)
    arguments: str = ""

    @field_validator("arguments", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        # Some exports give the arguments parsed: written back as JSON, keys in their order.
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False)
        return "" if value is None else value


class ToolCall(_Strict):
    """One call an assistant message makes."""

    id: str | None = None
    type: Literal["function"] = "function"
    function: FunctionCall


class TextPart(_Strict):
    """A text part of a message's content (the list form of `content`)."""

    type: Literal["text"]
    text: str


class ChatMessage(_Strict):
    """One message of a conversation."""

    role: Role
    content: str | list[TextPart] | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None

    @property
    def text(self) -> str:
        """The message's content as text (its text parts joined)."""
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class FunctionSpec(_Strict):
    """A tool the assistant was given: its name, what it does, its parameters' schema."""

    name: str = Field(min_length=1)
    description: str | None = None
    parameters: dict[str, Any] | None = None


class Tool(_Strict):
    """One entry of `tools`."""

    type: Literal["function"] = "function"
    function: FunctionSpec


class Conversation(_Strict):
    """A conversation and the tools its assistant had."""

    messages: list[ChatMessage] = Field(min_length=1)
    tools: list[Tool] = Field(default_factory=list)

    @classmethod
    def read(cls, messages: Any, tools: Any = None) -> Conversation:
        """Validate `messages` (and `tools`); an `InputError` naming the message and key."""
        for name, value in ((MESSAGES_KEY, messages), (TOOLS_KEY, tools)):
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    raise InputError(f"{name!r} is text that is not JSON: give a list") from None
            if name == MESSAGES_KEY:
                messages = value
            else:
                tools = value
        try:
            found = cls.model_validate({MESSAGES_KEY: messages, TOOLS_KEY: tools or []})
        except ValidationError as exc:
            raise InputError(_where(exc, messages)) from None
        found.check()
        return found

    def check(self) -> None:
        """What the schema cannot say: every turn says something, and a tool result answers
        a call made before it."""
        calls: dict[str, str] = {}
        for number, message in enumerate(self.messages, start=1):
            where = f"message {number} ({message.role})"
            if message.role == "assistant":
                if not message.text.strip() and not message.tool_calls:
                    raise InputError(f"{where} has no content and no tool_calls")
                for call in message.tool_calls or []:
                    if call.id:
                        calls[call.id] = call.function.name
            elif message.role == "tool":
                if message.tool_call_id is not None and message.tool_call_id not in calls:
                    raise InputError(
                        f"{where}: tool_call_id {message.tool_call_id!r} answers no tool call "
                        "made before it"
                    )
            elif not message.text.strip():
                raise InputError(f"{where} has no content")

    def last_turn(self, *, calling: bool = False) -> int:
        """The index of the turn judged: the last assistant message (with `calling`, the
        last one that calls a tool); an `InputError` where there is none."""
        for index in range(len(self.messages) - 1, -1, -1):
            message = self.messages[index]
            if message.role == "assistant" and (not calling or message.tool_calls):
                return index
        if calling:
            raise InputError(
                "the conversation has no assistant message that calls a tool: a tool-choice "
                "metric cannot apply to it"
            )
        raise InputError("the conversation has no assistant message to judge")


def transcript(messages: Sequence[ChatMessage], names: Mapping[str, str] | None = None) -> str:
    """Messages as the text a judge reads (see the module's docstring); `names` gives the
    function each earlier tool call id called, for tool results whose call is not shown."""
    called = dict(names or {})
    parts = []
    for message in messages:
        for call in message.tool_calls or []:
            if call.id:
                called[call.id] = call.function.name
        parts.append(_message_text(message, called))
    return "\n\n".join(parts)


def _calls(messages: Sequence[ChatMessage]) -> dict[str, str]:
    """Each tool call id in `messages` and the function it called."""
    return {
        call.id: call.function.name
        for message in messages
        for call in message.tool_calls or []
        if call.id
    }


def earlier_text(messages: Sequence[ChatMessage], last_turns: int | None = None) -> str:
    """The transcript of the messages before the turn judged; with `last_turns`, only the
    last N of them (the system and developer messages are always kept), after a line
    saying how many were left out."""
    if not messages:
        return "(no earlier messages)"
    if last_turns is None:
        return transcript(messages)
    standing = [m for m in messages if m.role in ("system", "developer")]
    others = [m for m in messages if m.role not in ("system", "developer")]
    left = len(others) - last_turns
    if left <= 0:
        return transcript(messages)
    kept = others[left:] if last_turns else []
    names = _calls(others[:left])
    parts = [transcript(standing)] if standing else []
    parts.append(f"[{left} earlier message{'s' if left != 1 else ''} left out]")
    if kept:
        parts.append(transcript(kept, names))
    return "\n\n".join(parts)


def _turn(message: ChatMessage) -> str:
    """The turn judged: its text, then a line per tool call (no role line: it is the
    assistant's)."""
    return "\n".join(_message_text(message, {}).splitlines()[1:])


def _message_text(message: ChatMessage, names: Mapping[str, str]) -> str:
    if message.role == "tool":
        called = names.get(message.tool_call_id or "") or message.name
        head = f"[tool {called}]" if called else "[tool]"
    else:
        head = f"[{message.role}]"
    lines = [head]
    if message.text:
        lines.append(message.text)
    lines += [f"-> {c.function.name}({c.function.arguments})" for c in message.tool_calls or []]
    return "\n".join(lines)


def tool_list(tools: Sequence[Tool]) -> str:
    """The tools, one a line: `NAME: DESCRIPTION`, then its parameters' schema as JSON."""
    if not tools:
        return "(no tools)"
    lines = []
    for tool in tools:
        spec = tool.function
        lines.append(f"{spec.name}: {spec.description}" if spec.description else spec.name)
        if spec.parameters is not None:
            lines.append(f"  parameters: {json.dumps(spec.parameters, ensure_ascii=False)}")
    return "\n".join(lines)


def fields(
    conversation: Conversation,
    wanted: Sequence[str],
    *,
    last_turns: int | None = None,
    judged_last: bool = False,
) -> dict[str, str]:
    """The `wanted` conversation fields (`CONVERSATION_FIELDS`) as text; `last_turns` keeps
    the last N earlier messages (see `earlier_text`). With `judged_last` (`--per-turn`) the
    turn judged is the last message, which must be the assistant's (and call a tool, for
    `tool_call`)."""
    turn = conversation.last_turn(calling=TOOL_CALL in wanted)
    if judged_last and turn != len(conversation.messages) - 1:
        raise InputError(
            "this turn calls no tool: a tool-choice metric cannot apply to it"
            if TOOL_CALL in wanted
            else "the conversation does not end with an assistant message to judge"
        )
    judged = conversation.messages[turn]
    found = {
        CONVERSATION: earlier_text(conversation.messages[:turn], last_turns),
        RESPONSE: _turn(judged),
        TOOL_CALL: _turn(judged),
        TOOLS: tool_list(conversation.tools),
    }
    return {name: found[name] for name in wanted if name in found}


def assistant_turns(conversation: Conversation) -> list[int]:
    """The index of each assistant message: the turns `--per-turn` judges one by one."""
    return [i for i, message in enumerate(conversation.messages) if message.role == "assistant"]


def has_conversation(data: Any) -> bool:
    """Whether an input carries a conversation to be read (`messages`)."""
    return isinstance(data, Mapping) and MESSAGES_KEY in data


def _where(exc: ValidationError, messages: Any) -> str:
    """A validation error as `message 3 (assistant): tool_calls.0.function.name: ...`."""
    error = exc.errors()[0]
    loc = list(error["loc"])
    text = error["msg"][:1].lower() + error["msg"][1:]
    if len(loc) >= 2 and loc[0] == MESSAGES_KEY and isinstance(loc[1], int):
        index = loc[1]
        found = messages[index] if isinstance(messages, list) else None
        role = found.get("role") if isinstance(found, dict) else None
        head = f"message {index + 1}" + (f" ({role})" if isinstance(role, str) else "")
        key = ".".join(str(part) for part in loc[2:])
        return f"{head}: {key}: {text}" if key else f"{head}: {text}"
    if len(loc) >= 2 and loc[0] == TOOLS_KEY and isinstance(loc[1], int):
        key = ".".join(str(part) for part in loc[2:])
        return f"tool {loc[1] + 1}: {key}: {text}" if key else f"tool {loc[1] + 1}: {text}"
    return f"{'.'.join(str(part) for part in loc)}: {text}"
