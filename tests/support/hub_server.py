"""A local HTTP server that speaks the Hugging Face hub's file protocol, for download tests.

`HEAD/GET /{repo}/resolve/{revision}/{file}` answers like the hub does for an LFS file: a 302
to a CDN URL with `X-Repo-Commit`, `X-Linked-Etag` (the file's sha256) and `X-Linked-Size`;
errors carry the hub's `X-Error-Code`. `GET /cdn/{sha256}` serves the bytes and honours
`Range: bytes=N-`. Knobs make it misbehave the way real networks do: drop the connection
after N bytes, stall (until released) after N bytes, or serve corrupted bytes.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

COMMIT = "0123456789abcdef0123456789abcdef01234567"
REPO = "edgejudge-test/tiny-judge-GGUF"
SIZE = 3 * 1024 * 1024 + 123  # not a multiple of any chunk size
DATA = bytes((i * 7 + i // 251) % 256 for i in range(SIZE))


@dataclass
class Served:
    """One GET of file bytes: where the range started and how many bytes went out."""

    start: int
    sent: int
    status: int


@dataclass
class HubFile:
    data: bytes
    sha256: str = ""

    def __post_init__(self) -> None:
        self.sha256 = self.sha256 or hashlib.sha256(self.data).hexdigest()


@dataclass
class FakeHub:
    """The files, the failure knobs, and a log of every byte served."""

    files: dict[tuple[str, str], HubFile] = field(default_factory=dict)
    gated: set[str] = field(default_factory=set)
    drop_after: int | None = None  # close the connection after this many bytes of a GET
    fail_next: int = 0  # after a drop, answer this many GETs of bytes with 503
    dropped: bool = False
    stall_after: int | None = None  # stop sending after this many bytes until `release`
    corrupt: bool = False  # flip a byte in what is sent
    chunk: int = 64 * 1024
    served: list[Served] = field(default_factory=list)
    heads: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    stalled: threading.Event = field(default_factory=threading.Event)

    def add(self, repo: str, name: str, data: bytes) -> HubFile:
        hub_file = HubFile(data)
        self.files[(repo, name)] = hub_file
        return hub_file

    def by_sha(self, sha: str) -> HubFile | None:
        return next((f for f in self.files.values() if f.sha256 == sha), None)


def start(hub: FakeHub) -> tuple[ThreadingHTTPServer, str]:
    """Serve `hub` on a free localhost port; returns the server and its base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: object) -> None:  # keep test output quiet
            pass

        def do_HEAD(self) -> None:
            hub.heads += 1
            self._resolve(head=True)

        def do_GET(self) -> None:
            if self.path.startswith("/cdn/"):
                self._bytes(self.path.removeprefix("/cdn/"))
            else:
                self._resolve(head=False)

        def _resolve(self, head: bool) -> None:
            match = re.match(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", self.path)
            if not match:
                return self._error(404, "RepoNotFound", "Repository not found")
            repo, _revision, name = match.groups()
            if repo in hub.gated:
                return self._error(401, "GatedRepo", f"Access to model {repo} is restricted.")
            if not any(r == repo for r, _ in hub.files):
                return self._error(404, "RepoNotFound", "Repository not found")
            hub_file = hub.files.get((repo, name))
            if hub_file is None:
                return self._error(404, "EntryNotFound", f"{name} does not exist")
            # Like the hub's CDN, the bytes live on another host name (huggingface_hub takes
            # the metadata from this redirect and does not follow it for a HEAD).
            port = self.server.server_address[1]
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{port}/cdn/{hub_file.sha256}")
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("X-Linked-Etag", f'"{hub_file.sha256}"')
            self.send_header("X-Linked-Size", str(len(hub_file.data)))
            self.send_header("ETag", '"0000000000000000000000000000000000000000"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _bytes(self, sha: str) -> None:
            hub_file = hub.by_sha(sha)
            if hub_file is None:
                return self._error(404, "EntryNotFound", "no such object")
            if hub.dropped and hub.fail_next > 0:
                hub.fail_next -= 1
                hub.served.append(Served(0, 0, 503))
                return self._error(503, "", "Service unavailable")
            data = hub_file.data
            if hub.corrupt:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            start = 0
            match = re.match(r"bytes=(\d+)-$", self.headers.get("Range", ""))
            if match:
                start = int(match.group(1))
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            record = Served(start, 0, 206 if match else 200)
            hub.served.append(record)
            for offset in range(0, len(body), hub.chunk):
                piece = body[offset : offset + hub.chunk]
                if hub.drop_after is not None and record.sent + len(piece) > hub.drop_after:
                    piece = piece[: hub.drop_after - record.sent]
                    self.wfile.write(piece)
                    record.sent += len(piece)
                    hub.drop_after, hub.dropped = None, True  # drop once
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if hub.stall_after is not None and record.sent + len(piece) > hub.stall_after:
                    piece = piece[: hub.stall_after - record.sent]
                    self.wfile.write(piece)
                    self.wfile.flush()
                    record.sent += len(piece)
                    hub.stall_after = None
                    hub.stalled.set()
                    hub.release.wait(60)
                    self.close_connection = True
                    return
                try:
                    self.wfile.write(piece)
                except (BrokenPipeError, ConnectionResetError):
                    return
                record.sent += len(piece)

        def _error(self, status: int, code: str, message: str) -> None:
            body = message.encode()
            self.send_response(status)
            if code:
                self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def register(name: str, **fields: Any) -> None:
    """Add an entry to the user catalog (models.toml in the test's config dir)."""
    values = {
        "kind": "gguf",
        "family": "flow-judge",
        "source": "huggingface",
        "repo": REPO,
        "file": "tiny.gguf",
        **fields,
    }
    path = Path(os.environ["EDGEJUDGE_CONFIG_DIR"]) / "models.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f"{key} = {_toml(value)}\n" for key, value in values.items())
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f'\n[models."{name}"]\n{body}')


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int) else f'"{value}"'
