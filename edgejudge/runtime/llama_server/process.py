"""Starting and stopping a local llama.cpp server: `llama-server -m FILE.gguf`, or a llamafile.

A server edgejudge starts listens on 127.0.0.1 only, on a port the OS hands out, under an
alias no other server has, so a server already answering on that port is never taken for
ours. It runs under `edgejudge.runtime.llama_server.watchdog` in a process group of its
own: `stop()` ends the group (terminate, wait, kill), and the watchdog ends the server if
this Python process dies without calling it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from edgejudge.constants import STARTUP_TIMEOUT
from edgejudge.errors import ServerError
from edgejudge.io.files import make_executable
from edgejudge.paths import SERVER_ENV, cache_dir
from edgejudge.runtime.inprocess.openmp import passive_waiting
from edgejudge.runtime.numerics import (
    PARITY_ARGS,  # only for llama-server: a llamafile's flags are its own
)
from edgejudge.runtime.serving.http import read_answer
from edgejudge.system.hardware import avoid_weight_repacking, physical_cores
from edgejudge.system.memory import DEFAULT_KV_TYPE

HOST = "127.0.0.1"
STOP_GRACE = 10.0
OUTPUT_LINES = 40
ALL_LAYERS = 999  # -ngl: every layer on the GPU when there is one; the CPU otherwise

Kind = Literal["gguf", "llamafile"]
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def built_server_path() -> Path:
    """Where `edgejudge server build` keeps the llama-server it builds."""
    from importlib.metadata import version

    return cache_dir() / "llama-server" / version("llama-cpp-python") / "llama-server"


def find_llama_server(configured: str | os.PathLike[str] | None = None) -> Path:
    """The llama-server to run: `configured`, `$EDGEJUDGE_LLAMA_SERVER`, PATH, or our build."""
    for source, value in (("--llama-server", configured), (SERVER_ENV, os.environ.get(SERVER_ENV))):
        if value:
            path = Path(value).expanduser()
            if not (path.is_file() and os.access(path, os.X_OK)):
                raise ServerError(f"{source} {path} is not an executable file")
            return path
    on_path = shutil.which("llama-server")
    if on_path:
        return Path(on_path)
    built = built_server_path()
    if built.is_file():
        return built
    raise ServerError(
        "no llama-server found: install llama.cpp (e.g. `brew install llama.cpp`) so that "
        f"llama-server is on PATH, set {SERVER_ENV}=/path/to/llama-server, or build one "
        "with `edgejudge server build` (about 10 minutes on 2 cores, once)"
    )


def free_port() -> int:
    """A port on 127.0.0.1 that the OS says is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """One llama.cpp server process that edgejudge started and will stop.

    `model` is a GGUF file (run by `binary`, a llama-server) or a llamafile executable.
    `context_per_slot` is the context every one of the `slots` parallel requests gets:
    llama.cpp splits `-c` across slots, so the server is started with the product.
    """

    model: Path
    kind: Kind
    context_per_slot: int
    slots: int = 1
    kv_type: str = DEFAULT_KV_TYPE  # llama.cpp's KV cache type (-ctk/-ctv), system.memory.KV_TYPES
    binary: Path | None = None
    n_gpu_layers: int | None = None
    n_threads: int | None = None
    port: int | None = None  # None: one the OS hands out
    startup_timeout: float = STARTUP_TIMEOUT
    verbose: bool = False
    alias: str = field(default_factory=lambda: f"edgejudge-{uuid.uuid4().hex[:12]}")
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _lines: deque[str] = field(default_factory=lambda: deque(maxlen=OUTPUT_LINES), init=False)
    _reader: threading.Thread | None = field(default=None, init=False, repr=False)
    _bound: int = field(default=0, init=False)

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://{HOST}:{self._bound}"

    @property
    def pid(self) -> int | None:
        """The watchdog's process id (the server is its child, in the same group)."""
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        """Whether the process is still alive."""
        return self._proc is not None and self._proc.poll() is None

    def output(self) -> tuple[str, ...]:
        """The last lines the server printed."""
        return tuple(self._lines)

    @property
    def name(self) -> str:
        return self.model.name if self.kind == "llamafile" else "llama-server"

    # -- starting -----------------------------------------------------------------------

    def command(self, port: int) -> list[str]:
        """The command line that starts the server on `port`."""
        threads = self.n_threads or physical_cores()
        layers = ALL_LAYERS if self.n_gpu_layers is None else self.n_gpu_layers
        flags = [
            "--host", HOST, "--port", str(port),
            "-c", str(self.context_per_slot * self.slots), "-np", str(self.slots),
            "-ngl", str(layers), "-t", str(threads), "-a", self.alias,
        ]  # fmt: skip
        if self.kv_type != DEFAULT_KV_TYPE:
            flags += ["-ctk", self.kv_type, "-ctv", self.kv_type]
        if self.kind == "llamafile":
            return [*_llamafile_launch(self.model), "--server", "--nobrowser", *flags]
        binary = self.binary or find_llama_server()
        return [str(binary), "-m", str(self.model), *flags, *PARITY_ARGS]

    def start(self) -> None:
        """Start the server and wait until it answers as ours; `ServerError` otherwise."""
        if self.kind == "llamafile":
            _make_executable(self.model)
        # A port the OS handed out may be taken by someone else before the server binds it;
        # that one case is worth a second try on another port.
        attempts = 2 if self.port is None else 1
        for attempt in range(attempts):
            port = self.port or free_port()
            try:
                self._launch(port)
                self._wait_ready(port)
                return
            except _PortTaken as taken:
                self.stop()
                if attempt == attempts - 1:
                    raise ServerError(str(taken), self.output()) from None

    def _launch(self, port: int) -> None:
        self._lines.clear()
        argv = [
            sys.executable,
            "-m",
            "edgejudge.runtime.llama_server.watchdog",
            *self.command(port),
        ]
        env = dict(os.environ)
        passive_waiting(env)  # its OpenMP threads wait as in-process (inprocess/openmp.py)
        if avoid_weight_repacking():  # as in-process; an env var, which any version ignores
            env["LLAMA_ARG_REPACK"] = "false"
        popen_kwargs: dict[str, object] = {"env": env}
        if sys.platform == "win32":  # pragma: no cover - Windows
            popen_kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        else:
            popen_kwargs["start_new_session"] = True  # its own process group, for stop()
        try:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,  # the watchdog's lifeline: closed when we go
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                **popen_kwargs,  # type: ignore[call-overload]
            )
        except OSError as exc:
            raise ServerError(f"cannot start {self.name}: {exc}") from None
        self._bound = port
        self._reader = threading.Thread(target=self._read_output, daemon=True)
        self._reader.start()

    def _read_output(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self._lines.append(line)
            if self.verbose:
                print(line, file=sys.stderr, flush=True)

    def _wait_ready(self, port: int) -> None:
        deadline = time.monotonic() + self.startup_timeout
        delay = 0.05
        while True:
            proc = self._proc
            assert proc is not None
            status = proc.poll()
            if status is not None:
                self._died_while_starting(status)
            state = _health(self.url)
            if state == "ok":
                served = _served_alias(self.url)
                if served == self.alias:
                    return
                if served is not None:
                    raise _PortTaken(
                        f"port {port} on {HOST} is already taken by another server "
                        f"(serving {served!r}); edgejudge will not use a server it did not start"
                    )
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(
                    f"{self.name} did not become ready within {self.startup_timeout:.0f} s"
                    + last_lines(self.output()),
                    self.output(),
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    def _died_while_starting(self, status: int) -> None:
        if self._reader is not None:
            self._reader.join(timeout=5)  # the last lines it printed
        lines = self.output()
        text = "\n".join(lines).lower()
        if "bind" in text and ("address already in use" in text or "couldn't bind" in text):
            raise _PortTaken(f"port {self._bound} on {HOST} is already in use")
        raise ServerError(
            f"{self.name} exited with status {status} while starting" + last_lines(lines),
            lines,
        )

    # -- stopping -----------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the server and everything it started: terminate, wait, then kill."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            if proc.stdin is not None:
                proc.stdin.close()  # the watchdog stops the server when its lifeline closes
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL if os.name == "posix" else signal.SIGTERM)
                proc.wait()
        # Whatever is left in the group (a server the watchdog could not stop): kill it.
        _signal_group(proc, signal.SIGKILL if os.name == "posix" else signal.SIGTERM)
        if proc.stdin is not None and not proc.stdin.closed:
            proc.stdin.close()
        if self._reader is not None:
            self._reader.join(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
        self._proc = None

    def restart(self) -> None:
        """Stop the server (if anything is left of it) and start it again."""
        self.stop()
        self.start()


class _PortTaken(Exception):
    pass


def _signal_group(proc: subprocess.Popen[bytes], signum: int) -> None:
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signum)
        else:  # pragma: no cover - Windows
            proc.send_signal(signum)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def last_lines(lines: tuple[str, ...], *, silent: str = " (it printed nothing)") -> str:
    """The end of an error message: the last few lines a server printed, or `silent`."""
    if not lines:
        return silent
    return "; its last lines: " + " | ".join(line.strip() for line in lines[-5:])


def _llamafile_launch(path: Path) -> list[str]:
    """How to run a llamafile: through `sh -c` on POSIX, directly (as an .exe) on Windows.

    A llamafile is an Actually Portable Executable; some systems refuse to exec it straight
    from Python (an "exec format error"), while a shell runs it everywhere.
    """
    if os.name == "nt":  # pragma: no cover - Windows runs it only under an .exe name
        if path.suffix.lower() != ".exe":
            raise ServerError(
                f"{path}: on Windows a llamafile runs only under a name ending in .exe; "
                f"rename it (and see the README: a llamafile over 4 GB cannot run there)"
            )
        return [str(path)]
    return ["sh", "-c", 'exec "$0" "$@"', str(path)]


def _make_executable(path: Path) -> None:
    if not path.is_file():
        raise ServerError(f"{path} is not a file")
    try:
        make_executable(path)
    except OSError as exc:
        raise ServerError(f"cannot make {path} executable: {exc}") from None


def _health(url: str) -> str:
    """'ok', 'loading' (503), or 'down' (nothing answers, or not as llama.cpp does)."""
    try:
        with _NO_PROXY.open(f"{url}/health", timeout=5) as response:
            return "ok" if response.status == 200 else "down"
    except urllib.error.HTTPError as exc:
        return "loading" if exc.code == 503 else "down"
    except (OSError, ValueError):
        return "down"


def _served_alias(url: str) -> str | None:
    """The alias the server at `url` reports, or None if it gives none."""
    try:
        with _NO_PROXY.open(f"{url}/props", timeout=5) as response:
            props = json.loads(read_answer(response, f"{url}/props"))
    except (OSError, ValueError, ServerError):
        props = None
    if isinstance(props, dict) and isinstance(props.get("model_alias"), str):
        return str(props["model_alias"])
    try:  # older servers (llamafile's) name the alias only in the OpenAI-style model list
        with _NO_PROXY.open(f"{url}/v1/models", timeout=5) as response:
            models = json.loads(read_answer(response, f"{url}/v1/models"))
        return str(models["data"][0]["id"])
    except (OSError, ValueError, KeyError, IndexError, TypeError, ServerError):
        return None
