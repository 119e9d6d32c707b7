"""The decoder gives its OpenMP team back when it runs out of work (runtime/openmp.py).

libgomp keeps a team of threads for every thread that ran llama.cpp, and once it manages
more threads than cores its barriers sleep instead of spinning: an idle judge would slow
every other judge in the process (scripts/bench.py measures the speed; this test checks the
mechanism, by the process's threads).
"""

from __future__ import annotations

import os
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
