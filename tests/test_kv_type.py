"""`--kv-type q8_0` on the real demo model in real llama.cpp: what it does to memory and to
verdicts.

llama.cpp's q8_0 KV cache stores 32 values in 34 bytes, 17/32 of f16's, and the prefix
cache's snapshots (each a sequence's cells, as llama.cpp writes them) shrink with it. It
changes the computation, so verdicts may differ from f16's: the probabilities here do, the
journal's identity records the type, and the prefix cache still changes no q8_0 verdict.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from edgejudge import Judge, JudgeResult, RuntimeOptions
from edgejudge.errors import SettingsError
from edgejudge.runtime.inprocess.llama_cpp import LlamaCppRuntime
from edgejudge.runtime.llama_server.process import ServerProcess
from tests.support.cases import TEN_FAITHFULNESS

ROW = TEN_FAITHFULNESS[1]
METRICS = ("response-faithfulness-5point", "response-relevance-5point")


def judged(path: Path, kv_type: str, mib: int) -> dict[str, Any]:
    """The row judged on both metrics, then the first again; the cache's peak and the
    identity a journal would record."""
    runtime = LlamaCppRuntime(path, context_length=2048, model_name="demo", slots=1,
                              prefix_cache_mib=mib, kv_type=kv_type)  # fmt: skip
    try:
        judges = [Judge(None, m, runtime=runtime, max_tokens=12) for m in METRICS]
        results = [replace(j.evaluate(ROW), seconds=0.0) for j in (*judges, judges[0])]
        return {
            "results": results,
            "peak": runtime.prefix_cache.peak_bytes,
            "identity": judges[0].identity(),
        }
    finally:
        runtime.close()


@pytest.fixture(scope="module")
def runs(demo_path: Path) -> dict[str, dict[str, Any]]:
    return {
        "f16": judged(demo_path, "f16", 256),
        "q8_0": judged(demo_path, "q8_0", 256),
        "q8_0 cold": judged(demo_path, "q8_0", 0),
    }


@pytest.mark.model
def test_q8_0_takes_17_32nds_of_the_kv_memory(runs: dict[str, dict[str, Any]]) -> None:
    f16, q8 = runs["f16"]["peak"], runs["q8_0"]["peak"]
    assert f16 > 0  # the row's head was kept once for its second metric
    assert q8 / f16 == pytest.approx(17 / 32, rel=0.03)


@pytest.mark.model
def test_q8_0_changes_the_computation_and_the_journal_says_so(
    runs: dict[str, dict[str, Any]],
) -> None:
    f16, q8 = runs["f16"]["results"], runs["q8_0"]["results"]
    for result in (*f16, *q8):
        assert isinstance(result, JudgeResult) and result.distribution is not None
    # The same prompts give other floats: the option reached llama.cpp.
    assert [r.distribution for r in f16] != [r.distribution for r in q8]
    assert "kv_type" not in runs["f16"]["identity"]  # f16 journals are as they were
    assert runs["q8_0"]["identity"]["kv_type"] == "q8_0"
    # Otherwise the two judges are alike, so only the KV type keeps their runs apart.
    rest = {k: v for k, v in runs["q8_0"]["identity"].items() if k != "kv_type"}
    assert rest == runs["f16"]["identity"]


@pytest.mark.model
def test_q8_0_verdicts_are_deterministic_and_the_prefix_cache_changes_none(
    runs: dict[str, dict[str, Any]],
) -> None:
    cached, cold = runs["q8_0"]["results"], runs["q8_0 cold"]["results"]
    assert cached == cold  # bit for bit, probabilities included
    assert cached[2] == cached[0]  # judged again, after the other metric
    assert runs["q8_0 cold"]["peak"] == 0


def test_an_unknown_kv_type_or_one_for_a_server_someone_else_runs_is_refused() -> None:
    with pytest.raises(SettingsError, match="unknown KV cache type 'q4'"):
        Judge("demo", METRICS[0], runtime=RuntimeOptions(kv_type="q4"))
    with pytest.raises(SettingsError, match="--kv-type"):
        elsewhere = RuntimeOptions(kv_type="q8_0", server_url="http://127.0.0.1:9")
        Judge(None, METRICS[0], runtime=elsewhere)


def test_llama_server_gets_the_kv_type_as_ctk_and_ctv(tmp_path: Path) -> None:
    def command(kv_type: str) -> list[str]:
        process = ServerProcess(model=tmp_path / "m.gguf", kind="gguf", context_per_slot=512,
                                binary=tmp_path / "llama-server", kv_type=kv_type)  # fmt: skip
        return process.command(8080)

    assert "-ctk" not in command("f16")
    flags = command("q8_0")
    assert flags[flags.index("-ctk") + 1] == flags[flags.index("-ctv") + 1] == "q8_0"
