"""OTLP JSON trace files in, rows out: each LLM span a conversation edgejudge can judge.

An OpenTelemetry collector's file exporter, and the Python SDK's `FileSpanExporter`
(`opentelemetry-exporter-otlp-json-file`), write JSON Lines: each line one export,
`{"resourceSpans": [{"resource": ..., "scopeSpans": [{"spans": [...]}]}]}`, attribute values
as `{"stringValue": ...}`, `{"intValue": "3"}`, `{"arrayValue": {"values": [...]}}`... A file
that is one such export, pretty-printed (an OTLP/HTTP request body saved), is read too.
Lines that hold metrics or logs (`resourceMetrics`, `resourceLogs`) are passed over.

`import_traces` reads such a file a bounded line at a time and writes one JSONL row per LLM
span that `core.genai` can read: `id` (`TRACE_ID:SPAN_ID`, the ids in hex), `messages` and
`tools`, nothing else, so that `batch` reads the rows as they are (a JSONL row's other keys
would be inputs the metric does not name). Each row's conversation is validated as `batch`
will read it. A span it cannot read is reported with
the reason (`Skipped`), never dropped silently; a span seen twice (an export repeated) is
written once. The rows are written to a temporary file renamed over the output at the end,
so an interrupted import leaves the old output.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgejudge.core.conversation import Conversation
from edgejudge.core.genai import SpanEvent, span_conversation
from edgejudge.errors import InputError
from edgejudge.io.atomic import atomic_file
from edgejudge.io.files import bounded_lines, decode_utf8, open_input, parse_json
from edgejudge.util.sizes import human_size

# The most one line (one export of many spans) may hold; a longer one is reported and
# passed over, the rest of the file still read.
MAX_EXPORT_BYTES = 64 * 1024 * 1024
OUTPUT_SUFFIXES = (".jsonl", ".ndjson", ".json")
# An id's length in bytes: a trace id 16, a span id 8 (hex in OTLP JSON; base64 where a
# generic protobuf-to-JSON printer wrote it).
_ID_BYTES = {"traceId": 16, "spanId": 8}
_OTHER_SIGNALS = ("resourceMetrics", "resourceLogs", "resourceProfiles")


@dataclass(frozen=True)
class Span:
    """One span read from the file, its attribute values as plain Python values."""

    trace_id: str
    span_id: str
    name: str
    where: str
    attributes: dict[str, Any] = field(default_factory=dict)
    events: tuple[SpanEvent, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.trace_id}:{self.span_id}"


@dataclass(frozen=True)
class Skipped:
    """A span, or a line of the file, that gave no row, and why."""

    where: str
    reason: str
    span: str = ""
    name: str = ""

    def line(self) -> str:
        """One line saying which span and why: `span T:S 'chat' (line 3): reason`."""
        if self.span:
            return f"span {self.span} {self.name!r} ({self.where}): {self.reason}"
        return f"{self.where}: {self.reason}"


@dataclass
class TraceImport:
    """What an import found: rows written, spans and lines skipped (with the reason), spans
    that are not LLM calls, and how many rows each convention gave."""

    rows: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    other_spans: int = 0
    conventions: Counter[str] = field(default_factory=Counter)


def import_traces(path: Path, out: Path) -> TraceImport:
    """Write each LLM span of the OTLP JSON file `path` as a row of the JSONL file `out`
    (see the module's docstring); an `InputError` where the file holds no span at all, or no
    span that could be read."""
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise InputError(f"{out}: traces import writes JSONL rows: name the output .jsonl")
    found = TraceImport()
    seen: dict[str, str] = {}
    spans = 0
    with atomic_file(out, [path]) as temporary, temporary.open("w", encoding="utf-8") as rows:
        for item in read_spans(path):
            if isinstance(item, Skipped):
                found.skipped.append(item)
                continue
            spans += 1
            row = _row(item, seen, found)
            if row is not None:
                rows.write(json.dumps(row, ensure_ascii=False) + "\n")
                found.rows += 1
        if not spans:
            why = f": {found.skipped[0].line()}" if found.skipped else ""
            raise InputError(f"{path} holds no OTLP spans{why}")
        if not found.rows and found.skipped:
            more = len(found.skipped) - 1
            raise InputError(
                f"{path}: no LLM call among its {spans} spans could be read: "
                f"{found.skipped[0].line()}" + (f" (and {more} more)" if more else "")
            )
        if not found.rows:
            raise InputError(f"{path}: none of its {spans} spans is an LLM call with GenAI content")
    return found


def _row(span: Span, seen: dict[str, str], found: TraceImport) -> dict[str, Any] | None:
    try:
        call = span_conversation(span.attributes, span.events)
        if call is not None:
            Conversation.read(call.messages, call.tools)
    except InputError as exc:
        found.skipped.append(Skipped(span.where, str(exc), span.id, span.name))
        return None
    if call is None:
        found.other_spans += 1
        return None
    if span.id in seen:
        found.skipped.append(
            Skipped(
                span.where,
                f"the same span again (written from {seen[span.id]})",
                span.id,
                span.name,
            )  # fmt: skip
        )
        return None
    seen[span.id] = span.where
    found.conventions[call.convention] += 1
    return {"id": span.id, "messages": call.messages, "tools": call.tools}


def read_spans(path: Path) -> Iterator[Span | Skipped]:
    """Every span of the file, in order, or a `Skipped` for a line or span that cannot be
    read (the rest of the file is still read)."""
    with open_input(path) as handle:
        lines = bounded_lines(handle, MAX_EXPORT_BYTES)
        pretty: list[bytes] = []
        for number, raw in enumerate(lines, start=1):
            if raw is None:
                longest = human_size(MAX_EXPORT_BYTES)
                yield Skipped(f"line {number}", f"longer than {longest}: not read")
                continue
            if not raw.strip():
                continue
            if pretty or (number == 1 and raw.strip() in (b"{", b"[")):
                pretty.append(raw)  # one export, pretty-printed: read whole, bounded
                if sum(map(len, pretty)) > MAX_EXPORT_BYTES:
                    longest = human_size(MAX_EXPORT_BYTES)
                    raise InputError(f"{path} is one JSON document over {longest}: use JSON Lines")
                continue
            yield from _export(raw, f"line {number}")
        if pretty:
            yield from _export(b"".join(pretty), "the document")


def _export(raw: bytes, where: str) -> Iterator[Span | Skipped]:
    try:
        export = parse_json(decode_utf8(raw, where))
    except ValueError as exc:
        yield Skipped(where, f"not JSON: {str(exc).splitlines()[0]}")
        return
    exports = export if isinstance(export, list) else [export]
    for item in exports:
        if not isinstance(item, Mapping):
            yield Skipped(where, "not an OTLP trace export (not an object)")
            continue
        resources = _get(item, "resourceSpans")
        if resources is None:
            if not any(_get(item, key) is not None for key in _OTHER_SIGNALS):
                yield Skipped(where, "not an OTLP trace export (no resourceSpans)")
            continue
        for resource in _list(resources):
            for scope in _list(_get(resource, "scopeSpans")):
                for span in _list(_get(scope, "spans")):
                    yield _span(span, where)


def _span(span: Any, where: str) -> Span | Skipped:
    if not isinstance(span, Mapping):
        return Skipped(where, "a span that is not an object")
    name = str(_get(span, "name") or "")
    ids = {}
    for key, size in _ID_BYTES.items():
        ids[key] = _hex_id(_get(span, key), size)
        if ids[key] is None:
            return Skipped(where, f"its {key} is not {size} bytes of hex", name=name)
    events = tuple(
        SpanEvent(str(_get(event, "name") or ""), _attributes(_get(event, "attributes")))
        for event in _list(_get(span, "events"))
        if isinstance(event, Mapping)
    )
    return Span(
        trace_id=str(ids["traceId"]),
        span_id=str(ids["spanId"]),
        name=name,
        where=where,
        attributes=_attributes(_get(span, "attributes")),
        events=events,
    )


def _attributes(items: Any) -> dict[str, Any]:
    """OTLP key-value pairs as a dict of plain values."""
    found: dict[str, Any] = {}
    for item in _list(items):
        if isinstance(item, Mapping) and isinstance(item.get("key"), str):
            found[item["key"]] = any_value(item.get("value"))
    return found


def any_value(value: Any) -> Any:
    """An OTLP `AnyValue` as a plain value: text, a bool, an int, a float, a list, a dict;
    bytes as their base64 text; an empty value as None."""
    if not isinstance(value, Mapping):
        return None
    for key in ("stringValue", "boolValue", "doubleValue", "bytesValue"):
        found = _get(value, key)
        if found is not None:
            return float(found) if key == "doubleValue" else found
    number = _get(value, "intValue")
    if number is not None:
        try:
            return int(number)
        except (TypeError, ValueError):
            return number
    array = _get(value, "arrayValue")
    if array is not None:
        return [any_value(item) for item in _list(_get(array, "values"))]
    pairs = _get(value, "kvlistValue")
    if pairs is not None:
        return _attributes(_get(pairs, "values"))
    return None


def _hex_id(value: Any, size: int) -> str | None:
    """An id as lower-case hex: as OTLP JSON writes it, or decoded from base64."""
    if not isinstance(value, str):
        return None
    if len(value) == 2 * size:
        try:
            return bytes.fromhex(value).hex()
        except ValueError:
            pass
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == size else None


def _get(item: Any, camel: str) -> Any:
    """A field by its OTLP JSON name (lowerCamelCase), or its protobuf name (snake_case)."""
    if not isinstance(item, Mapping):
        return None
    if camel in item:
        return item[camel]
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return item.get(snake)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
