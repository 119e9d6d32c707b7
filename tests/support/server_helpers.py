"""Helpers for the server-runtime tests: finding processes, stand-in servers and executables."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def pids_with(text: str) -> list[int]:
    """Ids of the running processes whose command line contains `text` (zombies excluded)."""
    out = subprocess.run(
        ["ps", "-ww", "-eo", "pid=,stat=,args="], capture_output=True, text=True, check=True
    ).stdout
    found = []
    for line in out.splitlines():
        pid, stat, args = (line.strip().split(None, 2) + ["", ""])[:3]
        if text in args and not stat.startswith("Z") and int(pid) != os.getpid():
            found.append(int(pid))
    return found


def server_pids(alias: str) -> list[int]:
    """The llama-server processes (not their watchdog) started under `alias`."""
    return [
        pid
        for pid in pids_with(alias)
        if "edgejudge.runtime.llama_server.watchdog" not in _args(pid)
    ]


def _args(pid: int) -> str:
    out = subprocess.run(
        ["ps", "-ww", "-o", "args=", "-p", str(pid)], capture_output=True, text=True
    )
    return out.stdout


def gone_within(alias: str, seconds: float) -> bool:
    """Whether every process under `alias` has exited within `seconds`."""
    deadline = time.monotonic() + seconds
    while pids_with(alias):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


Route = Callable[[str, dict[str, Any] | None], tuple[int, Any]]


def serve_json(route: Route) -> tuple[ThreadingHTTPServer, int]:
    """An HTTP server on 127.0.0.1 answering each request with `route(path, body)` as JSON."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, body: dict[str, Any] | None) -> None:
            status, payload = route(self.path, body)
            data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            self._answer(None)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            self._answer(json.loads(self.rfile.read(length) or b"{}"))

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return server, int(server.server_address[1])


def write_executable(path: Path, text: str, *, mode: int = 0o755) -> Path:
    """Write a script and give it `mode`."""
    path.write_text(text)
    path.chmod(mode)
    return path


def llamafile_stand_in(path: Path, llama_server: Path, gguf: Path, log: Path) -> Path:
    """A stand-in for a llamafile, written to `path` (and left NOT executable, as a download is).

    A real llamafile is llama.cpp's server with the weights inside one executable: it takes
    `--server --nobrowser` and llama.cpp's flags. This script checks it gets those first,
    logs its arguments to `log`, and execs the real llama-server on the demo GGUF with the
    rest, so everything after the launch is a real llama.cpp server.
    """
    script = f"""#!/bin/sh
# Stand-in for a llamafile (see tests/support/server_helpers.py).
printf '%s\\n' "$@" > '{log}'
[ "$1" = "--server" ] || {{ echo "stand-in: expected --server first" >&2; exit 2; }}
[ "$2" = "--nobrowser" ] || {{ echo "stand-in: expected --nobrowser second" >&2; exit 2; }}
shift 2
exec '{llama_server}' -m '{gguf}' "$@"
"""
    return write_executable(path, script, mode=0o644)
