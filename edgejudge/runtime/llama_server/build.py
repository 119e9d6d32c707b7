"""Build llama.cpp's `llama-server` from the llama-cpp-python sdist: `edgejudge server build`.

The sdist on PyPI carries llama.cpp's sources (vendor/llama.cpp, tools/server included), so
the server built here is the same llama.cpp version as the in-process runtime, and gives
the same verdicts. The binary goes to edgejudge's cache directory (`built_server_path`,
where the server runtime looks when no other llama-server is configured) and is reused
while it still runs. It needs cmake and a C++ compiler; nothing is fetched but the sdist
(from pip's cache or the package index). The web UI, TLS and downloads are switched off.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

from edgejudge.errors import ServerError
from edgejudge.runtime.llama_server.process import built_server_path

# llama.cpp options: a self-contained, static binary with no network features.
CMAKE_OPTIONS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_CURL=OFF",
]


def build_server(*, force: bool = False, say: Callable[[str], None] | None = None) -> Path:
    """The path of a working llama-server built from this llama-cpp-python's sources,
    building it first unless one already runs (or `force`). `ServerError` if it cannot."""
    from filelock import FileLock

    llama_version = version("llama-cpp-python")
    target = built_server_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / ".build.lock")):
        if force or not works(target):
            if shutil.which("cmake") is None:
                raise ServerError(
                    "building llama-server needs cmake: pip install cmake (and a C++ compiler)"
                )
            if say is not None:
                say(f"building llama-server {llama_version} from its sources (several minutes)…")
            _build(llama_version, target)
            if not works(target):
                raise ServerError(f"the llama-server built at {target} does not run")
    return target


def works(binary: Path) -> bool:
    """Whether `binary` runs (`--version` exits 0)."""
    try:
        done = subprocess.run([str(binary), "--version"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _run(command: list[str], what: str) -> None:
    """Run a build step with its output on stderr (stdout is for the binary's path)."""
    try:
        subprocess.run(command, check=True, stdout=sys.stderr.fileno())
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ServerError(f"building llama-server failed while {what}: {exc}") from None


def _build(llama_version: str, target: Path) -> None:
    """Fetch the sdist, configure and build `llama-server`, then move it to `target`."""
    with tempfile.TemporaryDirectory(prefix="edgejudge-llama-server-") as temp:
        work = Path(temp)
        _run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary",
             ":all:", "--dest", str(work), f"llama-cpp-python=={llama_version}"],
            "fetching the llama-cpp-python sdist",
        )  # fmt: skip
        [sdist] = work.glob("llama_cpp_python-*.tar.gz")
        with tarfile.open(sdist) as archive:
            archive.extractall(work, filter="data")
        [source] = work.glob("llama_cpp_python-*/vendor/llama.cpp")
        out = work / "build"
        jobs = str(os.cpu_count() or 2)
        _run(["cmake", "-S", str(source), "-B", str(out), *CMAKE_OPTIONS], "configuring")
        _run(["cmake", "--build", str(out), "--target", "llama-server", "-j", jobs], "compiling")
        [built] = out.glob("bin/llama-server")
        staging = target.with_name(target.name + ".tmp")
        shutil.copy2(built, staging)
        os.replace(staging, target)
