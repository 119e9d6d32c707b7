"""llama-server's prompt cache, used where it keeps every verdict: server_cache.py.

The decisions are checked on their own first (no server); then a real llama-server that
edgejudge started judges long rows on three metrics, a row's metrics one after another,
reusing its cache where the rule allows, and gives exactly the verdicts the in-process
runtime gives each prompt evaluated alone.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from edgejudge import Judge
from edgejudge.runtime.inprocess.llama_cpp import LlamaCppRuntime
from edgejudge.runtime.llama_server.prompt_cache import SlotCache
from edgejudge.runtime.llama_server.server import ServerRuntime
from tests.support.cases import TEN_FAITHFULNESS

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
RAG = [json.loads(line) for line in (EXAMPLES / "rag.jsonl").read_text().splitlines()]
ROWS = [{k: v for k, v in row.items() if k != "id"} for row in RAG[:2]] + [TEN_FAITHFULNESS[2]]
METRICS = ("response-faithfulness-5point", "response-relevance-5point",
           "response-faithfulness-binary")  # fmt: skip


def test_the_cache_is_asked_for_only_where_the_servers_cut_keeps_the_rule() -> None:
    cache = SlotCache(512, enabled=True)
    first = list(range(1000))
    assert not cache.reuse(first)  # nothing in the slot yet
    cache.after(first, reused=False, evaluated=1000)
    assert cache.reuse([*first[:700], *range(5000, 5400)])  # 400 left: one long piece
    assert not cache.reuse([*first[:700], *range(5000, 5040)])  # 40 left: a short piece
    assert not cache.reuse([*first[:600], *range(5000, 5450)])  # 512 + 38: short last piece
    assert not cache.reuse([*first, *range(5000, 5400)])  # would reuse the answer's cells
    assert not cache.reuse([*first[:700], *range(5000, 5330)])  # 1030: short when cold
    assert not cache.reuse([*first[:999], *range(5000, 5400)])  # 999: off the granule
    assert cache.reuse([*first[:996], *range(5000, 5400)])  # on it
    cache.after([*first[:700], *range(5000, 5400)], reused=True, evaluated=400)
    stats = cache.stats
    assert (stats.prompts, stats.prompt_tokens, stats.reused_tokens, stats.hits) == (
        2, 2100, 700, 1,
    )  # fmt: skip
    assert not SlotCache(512, enabled=False).reuse(first)


def judged(runtime: Any) -> dict[tuple[int, str], Any]:
    judges = {m: Judge(None, m, runtime=runtime, max_tokens=24) for m in METRICS}
    order = [(r, m) for r in range(len(ROWS)) for m in METRICS]
    return {(r, m): replace(judges[m].evaluate(ROWS[r]), seconds=0.0) for r, m in order}


def served(demo_path: Path, llama_server: Path, *, cache: bool) -> tuple[Any, Any]:
    """Every judgment through a llama-server edgejudge starts, and its cache's figures."""
    server = ServerRuntime.launch(demo_path, context_length=4096, binary=llama_server,
                                  model_name="demo", prompt_cache=cache)  # fmt: skip
    try:
        return judged(server), server.prefix_cache
    finally:
        server.close()


def agree(local: Any, served: Any) -> bool:
    """The same text and decision, and probabilities within what the server can report."""
    if (local.raw, local.verdict.fields()) != (served.raw, served.verdict.fields()):
        return False
    ours, theirs = local.probabilities or {}, served.probabilities or {}
    return ours.keys() == theirs.keys() and all(abs(ours[k] - theirs[k]) < 1e-6 for k in ours)


@pytest.mark.model
@pytest.mark.server
def test_a_server_reusing_its_prompt_cache_gives_the_verdicts_of_prompts_alone(
    demo_path: Path, llama_server: Path
) -> None:
    """Through the cache: exactly the server's verdicts with every prompt evaluated in full,
    probabilities included; and the in-process verdicts (the server reports probabilities
    as rounded log-probabilities, so those agree within 1e-6)."""
    runtime = LlamaCppRuntime(demo_path, context_length=4096, model_name="demo", slots=1,
                              prefix_cache_mib=0)  # fmt: skip
    try:
        alone = judged(runtime)
    finally:
        runtime.close()
    full, off = served(demo_path, llama_server, cache=False)
    cached, stats = served(demo_path, llama_server, cache=True)
    assert off is None and stats is not None
    assert cached == full  # bit for bit
    differ = [key for key in alone if not agree(alone[key], cached[key])]
    assert not differ, [(alone[k], cached[k]) for k in differ]
    # A row's second or third metric reused its head where the head it shares ends on the
    # granule (the server reuses all it shares, so elsewhere the prompt is evaluated in
    # full; so are the close-outs, whose prompts extend the answer's cells).
    assert stats.hits >= 1 and stats.reused_tokens > 1000, stats.line()
