"""HTTP to a serving engine: JSON in and out, the API key sent to that server alone, and
patience with a server that is busy or restarting.

- The key goes in an `Authorization: Bearer` header on requests to the one base URL it was
  given for. Redirects are refused rather than followed (urllib would carry the header to
  wherever the redirect points), and the key is never part of an error message.
- HTTPS certificates are verified against the system's store (urllib's default).
- 429, 502, 503 and 504, a refused or reset connection, and a connection dropped before
  the answer came are tried again after a pause that doubles from `FIRST_PAUSE` up to
  `LONGEST_PAUSE` (or the server's `Retry-After`), for up to `patience` seconds in all:
  a server being restarted, or shedding load, is waited for, not given up on.
- Every answer is read with a bound: at most `MAX_ANSWER_BYTES` (a judgment's answer, even
  streamed token by token, is kilobytes) and at most `ANSWER_SECONDS` from its first byte,
  so a server that sends without end is refused in one line, not read until memory runs out.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlparse

from edgejudge.errors import ServerError, ServerGoneError

RETRY_STATUSES = frozenset({429, 502, 503, 504})
FIRST_PAUSE = 0.5  # seconds
LONGEST_PAUSE = 8.0
PATIENCE = 120.0  # seconds of retrying before a request is given up
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_ANSWER_BYTES = 8 * 1024 * 1024
ANSWER_SECONDS = 3600.0  # a slow CPU server writing a long feedback takes minutes, not hours
_CHUNK = 64 * 1024
R = TypeVar("R")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: Any, fp: Any, code: Any, msg: Any, headers: Any, newurl: str):  # type: ignore[no-untyped-def]
        raise ServerError(
            f"{req.full_url} redirected to {newurl}; give that URL instead (edgejudge does not "
            f"follow redirects, so the API key goes to no other server)"
        )


class Http:
    """JSON requests to one server; see the module's docstring for keys and retries."""

    def __init__(self, base: str, *, api_key: str | None, patience: float = PATIENCE) -> None:
        if not base.startswith(("http://", "https://")):
            raise ServerError(f"server URL must start with http:// or https://, not {base!r}")
        self.base = base.rstrip("/")
        self._api_key = api_key
        self.patience = patience
        handlers: list[Any] = [_NoRedirect()]
        if (urlparse(self.base).hostname or "") in LOOPBACK:
            handlers.append(urllib.request.ProxyHandler({}))  # never a proxy for this machine
        self._opener = urllib.request.build_opener(*handlers)

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        timeout: float,
        retry: bool = True,
    ) -> tuple[int, Any]:
        """Send `body` (JSON) to `path`; return the status and the decoded answer. Retries
        what the module's docstring says while `retry`; `ServerGoneError` when the server
        cannot be reached (after the retries)."""

        def fetch() -> tuple[int, Any, float | None]:
            response = self._open_once(method, path, body, timeout=timeout)
            try:
                with response:
                    raw = read_answer(response, self.base + path)
            except (OSError, http.client.HTTPException) as exc:
                raise ServerGoneError(
                    f"lost the connection to the server at {self.base}: {exc}"
                ) from exc
            return int(response.status), decode(raw), _retry_after(response)

        status, answer, _ = patiently(
            fetch,
            patience=self.patience if retry else 0.0,
            busy=lambda got: got[0] in RETRY_STATUSES,
            asked=lambda got: got[2],
        )
        return status, answer

    def open(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, timeout: float
    ) -> http.client.HTTPResponse:
        """Send `body` (JSON) to `path` and return the response with its body unread (to
        stream; the caller closes it), retried as `call` is until an answer begins."""
        return patiently(
            lambda: self._open_once(method, path, body, timeout=timeout),
            patience=self.patience,
            busy=lambda response: response.status in RETRY_STATUSES,
            asked=_retry_after,
            release=lambda response: response.close(),
        )

    def _open_once(
        self, method: str, path: str, body: dict[str, Any] | None, *, timeout: float
    ) -> http.client.HTTPResponse:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(
            self.base + path, data=data, headers=headers, method=method
        )
        try:
            return self._opener.open(request, timeout=timeout)  # type: ignore[no-any-return]
        except urllib.error.HTTPError as exc:
            return exc  # type: ignore[return-value]  # an answer all the same
        except (OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServerGoneError(f"cannot reach the server at {self.base}: {reason}") from exc


def patiently(
    attempt: Callable[[], R],
    *,
    patience: float,
    busy: Callable[[R], bool],
    asked: Callable[[R], float | None] = lambda _got: None,
    release: Callable[[R], None] = lambda _got: None,
) -> R:
    """`attempt()`, tried again while it raises `ServerGoneError` or its result is `busy`,
    for up to `patience` seconds: after a pause doubling from `FIRST_PAUSE` to
    `LONGEST_PAUSE`, or the seconds the server `asked` for (`Retry-After`). A busy result is
    `release`d before the next try; the last one is returned as it is."""
    deadline = time.monotonic() + patience
    pause = FIRST_PAUSE
    while True:
        try:
            got = attempt()
        except ServerGoneError:
            if time.monotonic() + pause > deadline:
                raise
            wait: float | None = None
        else:
            if not busy(got) or time.monotonic() + pause > deadline:
                return got
            wait = asked(got)
            release(got)
        time.sleep(min(wait if wait is not None else pause, LONGEST_PAUSE))
        pause = min(pause * 2, LONGEST_PAUSE)


class AnswerReader:
    """Reads one answer within its bounds: `MAX_ANSWER_BYTES` in all, `ANSWER_SECONDS` from
    the first read; past either, `ServerError` naming `url`."""

    def __init__(self, response: Any, url: str, *, limit: int = MAX_ANSWER_BYTES) -> None:
        self.response = response
        self.url = url
        self.limit = limit
        self.count = 0
        self.deadline = time.monotonic() + ANSWER_SECONDS

    def _account(self, data: bytes) -> bytes:
        self.count += len(data)
        if self.count > self.limit:
            raise ServerError(
                f"{self.url} sent more than {self.limit // 2**20} MiB in one answer (a "
                "judgment's answer is a few kilobytes); is it the right server?"
            )
        if time.monotonic() > self.deadline:
            raise ServerError(
                f"{self.url} was still sending one answer after {ANSWER_SECONDS:.0f} s; "
                "gave up on it"
            )
        return data

    def read(self) -> bytes:
        """The whole (rest of the) answer."""
        parts = []
        while chunk := self._account(self.response.read(_CHUNK)):
            parts.append(chunk)
        return b"".join(parts)

    def lines(self) -> Iterator[bytes]:
        """The answer's lines (a server-sent event stream), each within the bounds."""
        while line := self._account(self.response.readline(self.limit - self.count + 1)):
            yield line


def read_answer(response: Any, url: str) -> bytes:
    """A response's whole body, within `AnswerReader`'s bounds."""
    return AnswerReader(response, url).read()


def decode(data: bytes) -> Any:
    """JSON, or the first 200 characters of whatever else came."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return data.decode("utf-8", "replace")[:200]


def refuse_bad_key(base: str, status: int, body: Any) -> None:
    """`ServerError` in one line (without the key) when the server at `base` refused it."""
    if status in (401, 403):
        raise ServerError(f"{base} refused the API key: {status} {message(body)}".rstrip())


def message(body: Any) -> str:
    """The error message in an answer (OpenAI's, llama.cpp's, TGI's or Ollama's shape)."""
    if isinstance(body, dict):
        error = body.get("error") or body.get("message") or body.get("detail")
        if isinstance(error, dict):
            return str(error.get("message") or error)
        return str(error) if error else ""
    return str(body or "")


def _retry_after(response: http.client.HTTPResponse) -> float | None:
    """The seconds a busy server asked to be left alone (`Retry-After`), if it said."""
    value = response.headers.get("Retry-After") if response.headers else None
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
