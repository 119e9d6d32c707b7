"""The decoder gives its OpenMP team back when it runs out of work (runtime/openmp.py).

libgomp keeps a team of threads for every thread that ran llama.cpp, and once it manages
more threads than cores its barriers sleep instead of spinning: an idle judge would slow
every other judge in the process (scripts/bench.py measures the speed; this test checks the
mechanism, by the process's threads).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgejudge.runtime.base import Finished, Sampling
from edgejudge.runtime.inprocess.llama_cpp import LlamaCppRuntime
from edgejudge.runtime.inprocess.openmp import _libgomp

pytestmark = pytest.mark.model


def threads() -> set[str]:
    return set(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_an_idle_decoder_keeps_no_openmp_team(demo_path: Path) -> None:
    runtime = LlamaCppRuntime(demo_path, context_length=1024, n_threads=2, slots=1)
    try:
        if _libgomp() is None:
            pytest.skip("this llama.cpp build does not run on libgomp")
        prompt = runtime.text_tokens("The capital of France is")
        before = threads()
        during: set[str] = set()
        pieces = runtime.generate(prompt, grammar=None, max_tokens=8, sampling=Sampling())
        for piece in pieces:
            if isinstance(piece, Finished):
                break
            during = during or threads()
        # While it generates, the worker leads a team: llama.cpp's second thread is OpenMP's.
        assert len(during - before) >= 1, (before, during)
        deadline = time.monotonic() + 10
        while threads() != before and time.monotonic() < deadline:
            time.sleep(0.01)
        assert threads() == before  # the team went once the decoder had nothing to do
        # And the next generation makes a new one.
        again = [p for p in runtime.generate(prompt, grammar=None, max_tokens=8,
                                             sampling=Sampling())]  # fmt: skip
        assert isinstance(again[-1], Finished) and again[-1].completion_tokens > 0
    finally:
        runtime.close()


SHOW_SPIN = """
import ctypes, os
from edgejudge.runtime.inprocess.llama_cpp import _import_llama_cpp
_import_llama_cpp()
try:
    gomp = ctypes.CDLL("libgomp.so.1", mode=os.RTLD_NOLOAD)
except OSError:
    print("no libgomp")
else:
    gomp.omp_display_env(1)
"""


def _spin_count(**env: str) -> str:
    """libgomp's spin count in a fresh process that loaded llama.cpp through edgejudge."""
    chosen = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
    environ = {k: v for k, v in os.environ.items() if k not in chosen}
    out = subprocess.run([sys.executable, "-c", SHOW_SPIN], env={**environ, **env},
                         capture_output=True, text=True, check=True)  # fmt: skip
    if "no libgomp" in out.stdout:
        pytest.skip("this llama.cpp build does not run on libgomp")
    found = re.search(r"GOMP_SPINCOUNT = '(\d+)'", out.stderr)
    assert found, out.stderr
    return found.group(1)


def test_openmp_threads_wait_passively_unless_the_user_chose_otherwise() -> None:
    assert _spin_count() == "0"  # they sleep at once, rather than hold a core spinning
    assert _spin_count(OMP_WAIT_POLICY="active") != "0"  # the user's choice is kept
    assert _spin_count(GOMP_SPINCOUNT="1000") == "1000"
