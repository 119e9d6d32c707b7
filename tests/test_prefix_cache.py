"""The prefix cache changes no verdict, on the real demo model in real llama.cpp.

The rule it relies on is found here on this build (pieces of 64 tokens or more cut on
multiples of 4 evaluate alike; a shorter piece, or a cut off the granule, does not), and
every way of reaching a
judgment (cold, after the row's other metrics, after other rows, in another order, with the
cache full and evicting) gives the same verdict and probabilities, bit for bit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgejudge import Judge
from edgejudge.runtime.inprocess.llama_cpp import LlamaCppRuntime
from tests.support.cases import TEN_FAITHFULNESS

pytestmark = pytest.mark.model

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
RAG = [json.loads(line) for line in (EXAMPLES / "rag.jsonl").read_text().splitlines()]
METRICS = (
    "response-faithfulness-5point",
    "response-relevance-5point",
    "response-faithfulness-binary",
)
ROWS = [{k: v for k, v in row.items() if k != "id"} for row in (RAG[0], RAG[1])]
ROWS.append(TEN_FAITHFULNESS[1])


def runtime_for(path: Path, mib: int) -> LlamaCppRuntime:
    return LlamaCppRuntime(path, context_length=4096, model_name="demo", slots=1,
                           prefix_cache_mib=mib)  # fmt: skip


def judged(runtime: LlamaCppRuntime, order: list[tuple[int, str]]) -> dict[tuple[int, str], Any]:
    """Each (row, metric) in `order`, judged one after another: its whole result but the
    time it took (the verdict's probabilities as floats, unrounded)."""
    judges = {metric: Judge(None, metric, runtime=runtime, max_tokens=24) for metric in METRICS}
    return {(r, m): replace(judges[m].evaluate(ROWS[r]), seconds=0.0) for r, m in order}


@pytest.fixture(scope="module")
def cold(demo_path: Path) -> dict[tuple[int, str], Any]:
    """Every judgment with no cache at all: each prompt evaluated in full from cell 0."""
    runtime = runtime_for(demo_path, 0)
    try:
        results = judged(runtime, [(r, m) for r in range(len(ROWS)) for m in METRICS])
        assert runtime.prefix_cache.reused_tokens == 0
        return results
    finally:
        runtime.close()


def logits_hash(runtime: LlamaCppRuntime, tokens: list[int], cuts: list[int]) -> str:
    """The last token's logits for `tokens` evaluated in pieces ending at `cuts`, in a
    context of its own (low-level llama.cpp, as the decoder drives it)."""
    import llama_cpp as lc

    params = lc.llama_context_default_params()
    params.n_ctx, params.n_batch, params.n_ubatch = 2048, 512, 512
    params.n_threads = params.n_threads_batch = runtime.n_threads
    params.flash_attn_type = lc.LLAMA_FLASH_ATTN_TYPE_AUTO
    params.swa_full = params.kv_unified = True
    ctx = lc.llama_init_from_model(runtime._model.model, params)
    batch = lc.llama_batch_init(512, 0, 1)
    try:
        start = 0
        for end in [*cuts, len(tokens)]:
            for i, position in enumerate(range(start, end)):
                batch.token[i], batch.pos[i], batch.n_seq_id[i] = tokens[position], position, 1
                batch.seq_id[i][0], batch.logits[i] = 0, position == len(tokens) - 1
            batch.n_tokens = end - start
            assert lc.llama_decode(ctx, batch) == 0
            start = end
        n_vocab = lc.llama_vocab_n_tokens(lc.llama_model_get_vocab(runtime._model.model))
        logits = np.ctypeslib.as_array(lc.llama_get_logits_ith(ctx, -1), shape=(n_vocab,))
        return hashlib.sha256(logits.tobytes()).hexdigest()
    finally:
        lc.llama_batch_free(batch)
        lc.llama_free(ctx)


def test_the_rule_holds_on_this_build_and_a_short_piece_or_a_cut_off_the_granule_breaks_it(
    demo_path: Path,
) -> None:
    """Pieces of 64+ tokens cut on multiples of 4: the floats of llama.cpp's own pieces; a
    63- or 32-token piece: not; cuts off the granule: not always (the quantized matrix
    multiplication takes tokens four at a time, and the few left over at a piece's end one
    at a time, which rounds differently)."""
    runtime = runtime_for(demo_path, 64)
    try:
        tokens = runtime.text_tokens(RAG[2]["context"])[:600]
        alone = logits_hash(runtime, tokens, [512])  # llama.cpp's own pieces
        for cuts in ([64, 512], [68, 512], [100, 512], [300], [300, 536], [128, 364]):
            assert logits_hash(runtime, tokens, cuts) == alone, cuts
        assert logits_hash(runtime, tokens, [63, 512]) != alone
        assert logits_hash(runtime, tokens, [480, 512]) != alone  # a 32-token piece
        off = [cuts for cuts in ([101, 512], [102, 512], [103, 512], [301], [257])
               if logits_hash(runtime, tokens, cuts) != alone]  # fmt: skip
        assert len(off) >= 3, off
    finally:
        runtime.close()


@pytest.fixture(scope="module")
def cached(demo_path: Path) -> Iterator[LlamaCppRuntime]:
    runtime = runtime_for(demo_path, 1024)
    yield runtime
    runtime.close()


def test_a_rows_metrics_then_other_rows_reuse_heads_and_change_nothing(
    cold: dict[tuple[int, str], Any], cached: LlamaCppRuntime
) -> None:
    row_major = [(r, m) for r in range(len(ROWS)) for m in METRICS]
    assert judged(cached, row_major) == cold
    stats = cached.prefix_cache
    assert "64+ tokens cut on multiples of 4 evaluate alike" in stats.rule
    # the rows' own heads and the template's head came from the cache
    assert stats.hit_rate > 0.4 and stats.hits >= len(row_major) - 1


def test_another_order_and_a_warm_cache_change_nothing(
    cold: dict[tuple[int, str], Any], cached: LlamaCppRuntime
) -> None:
    metric_major = [(r, m) for m in reversed(METRICS) for r in reversed(range(len(ROWS)))]
    before = cached.prefix_cache.restores
    assert judged(cached, metric_major) == cold
    assert cached.prefix_cache.restores > before  # rows' heads came back from snapshots


def test_a_full_cache_that_evicts_changes_nothing(
    cold: dict[tuple[int, str], Any], demo_path: Path
) -> None:
    runtime = runtime_for(demo_path, 48)  # room for one long head's snapshot at a time
    try:
        order = [(r, m) for m in METRICS for r in range(len(ROWS))]
        assert judged(runtime, order) == cold
        stats = runtime.prefix_cache
        assert stats.evictions > 0 and stats.peak_bytes <= 48 * 2**20
    finally:
        runtime.close()
