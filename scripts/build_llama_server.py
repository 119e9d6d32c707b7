"""Build llama.cpp's `llama-server` from the llama-cpp-python sdist, for the server runtime.

The sdist on PyPI carries llama.cpp's sources (vendor/llama.cpp, tools/server included), so
the server built here is the same llama.cpp version as the in-process runtime. The binary
goes to edgejudge's cache directory and is reused while it still runs:

    python scripts/build_llama_server.py          # prints the binary's path
    python scripts/build_llama_server.py --force  # build again

It needs cmake and a C++ compiler; nothing is fetched but the sdist (from pip's cache or the
package index). The embedded web UI, TLS and downloads are switched off.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import version
from pathlib import Path

from filelock import FileLock

from edgejudge.runtime.server_process import built_server_path

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


def works(binary: Path) -> bool:
    """Whether `binary` runs (`--version` exits 0)."""
    try:
        done = subprocess.run([str(binary), "--version"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def fetch_sdist(llama_version: str, folder: Path) -> Path:
    """Download (or take from pip's cache) the llama-cpp-python sdist into `folder`."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary",
         ":all:", "--dest", str(folder), f"llama-cpp-python=={llama_version}"],
        check=True,
    )  # fmt: skip
    [sdist] = folder.glob("llama_cpp_python-*.tar.gz")
    return sdist


def build(llama_version: str, target: Path) -> None:
    """Configure and build `llama-server` from the sdist, then move it to `target`."""
    with tempfile.TemporaryDirectory(prefix="edgejudge-llama-server-") as temp:
        work = Path(temp)
        sdist = fetch_sdist(llama_version, work)
        with tarfile.open(sdist) as archive:
            archive.extractall(work, filter="data")
        [source] = work.glob("llama_cpp_python-*/vendor/llama.cpp")
        out = work / "build"
        jobs = str(os.cpu_count() or 2)
        subprocess.run(["cmake", "-S", str(source), "-B", str(out), *CMAKE_OPTIONS], check=True)
        subprocess.run(
            ["cmake", "--build", str(out), "--target", "llama-server", "-j", jobs], check=True
        )
        [built] = out.glob("bin/llama-server")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(target.name + ".tmp")
        shutil.copy2(built, staging)
        os.replace(staging, target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="build even if a working one exists")
    args = parser.parse_args()
    if shutil.which("cmake") is None:
        print("build_llama_server: cmake is needed (pip install cmake)", file=sys.stderr)
        return 1
    llama_version = version("llama-cpp-python")
    target = built_server_path()  # where edgejudge looks when none is configured
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / ".build.lock")):
        if args.force or not works(target):
            print(f"building llama-server {llama_version} (several minutes)…", file=sys.stderr)
            build(llama_version, target)
            if not works(target):
                print(f"build_llama_server: {target} does not run", file=sys.stderr)
                return 1
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
