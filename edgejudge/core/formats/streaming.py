"""Streaming a judge's feedback while it is written, and where a free text ends.

`FeedbackFilter` drops the answer's opening text and stops at the text that closes the
feedback, holding back what could still turn out to be the start of that closing text.
`JsonFeedbackFilter` does the same for feedback written inside a JSON string, decoding its
escapes as they arrive. The helpers say where a JSON string's inside ends and how much of
a cut one is whole; the close-out in `shape` uses them too.
"""

from __future__ import annotations

import json
import re


class FeedbackFilter:
    """Streams the feedback: drops the opening text, stops at the closing text.

    A chunk may end in the middle of a tag, so text that could still turn out to be the start
    of the closing text is held back until the next chunk decides it.
    """

    def __init__(self, opening: str, closing: str, *, drop: str = "") -> None:
        self._start, self._end, self._drop = opening, closing, drop
        self._buffer = ""
        self._opened = False
        self._closed = False

    def feed(self, chunk: str) -> str:
        """Take the next raw chunk; return the feedback text that is now certain."""
        if not self._take(chunk):
            return ""
        end = self._buffer.find(self._end)
        if end >= 0:
            self._closed = True
            out, self._buffer = self._buffer[:end], ""
            return out
        keep = partial_suffix(self._buffer, self._end)
        out = self._buffer[: len(self._buffer) - keep]
        self._buffer = self._buffer[len(out) :]
        return out

    def _take(self, chunk: str) -> bool:
        """Add `chunk`; whether the buffer now holds feedback text (the opening is past)."""
        if self._closed:
            return False
        self._buffer += chunk
        if not self._opened:
            stripped = self._buffer.lstrip()
            if len(stripped) < len(self._start):
                return False
            if not stripped.startswith(self._start):
                self._closed = True  # not an answer of this shape; the parser will say so
                return False
            self._opened = True
            self._buffer = stripped[len(self._start) :]
        if self._drop:
            # A label the model may write first (`Feedback:`): wait until it is clear
            # whether it is there, then leave it out.
            head = self._buffer.lstrip()
            if len(head) < len(self._drop) and self._drop.lower().startswith(head.lower()):
                return False
            if head[: len(self._drop)].lower() == self._drop.lower():
                self._buffer = head[len(self._drop) :].lstrip()
            self._drop = ""
        return True


class JsonFeedbackFilter(FeedbackFilter):
    """Streams feedback written inside a JSON string: decoded as it arrives, ending at the
    first quote that is not escaped; an escape cut between chunks waits for the next one."""

    def feed(self, chunk: str) -> str:
        """Take the next raw chunk; return the decoded feedback text that is now certain."""
        if not self._take(chunk):
            return ""
        end = unescaped_quote(self._buffer)
        if end >= 0:
            self._closed = True
            ready, self._buffer = self._buffer[:end], ""
        else:
            ready = whole_escapes(self._buffer)
            self._buffer = self._buffer[len(ready) :]
        try:
            decoded: str = json.loads(f'"{ready}"')
        except json.JSONDecodeError:
            return ""  # not JSON after all: the parser will say what is wrong
        return decoded


def unescaped_quote(text: str) -> int:
    """Where the first quote that is not escaped is in the inside of a JSON string, or -1."""
    escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            return index
    return -1


_PARTIAL_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{0,3})?\Z|\\u[dD][89abAB][0-9a-fA-F]{2}\Z")


def whole_escapes(text: str) -> str:
    """`text` without an escape the stream stopped in the middle of (`\\`, `\\u00`), or a
    high surrogate whose pair has not come yet; an escaped backslash at the end is whole."""
    match = _PARTIAL_ESCAPE.search(text)
    if match is None:
        return text
    # Only a backslash that is itself not escaped starts an escape.
    backslashes = len(text[: match.start()]) - len(text[: match.start()].rstrip("\\"))
    return text if backslashes % 2 else text[: match.start()]


def partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of `text` that is a proper start of `tag`."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0
