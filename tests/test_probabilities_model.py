"""Score probabilities on the real demo model in real llama.cpp, checked by hand against
llama-cpp-python's own `Llama` evaluating the same prompt and answer token by token (as
generation does). The server's agreement is checked per family in test_family_models.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgejudge import Judge
from edgejudge.core import Metric, RubricItem, get_preset
from edgejudge.runtime.base import Finished, Sampling
from edgejudge.runtime.inprocess.llama_cpp import LlamaCppRuntime, plain_llama
from tests.support.cases import TEN_FAITHFULNESS

pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parent.parent

ELEVEN = Metric(
    name="eleven-point",
    criteria="How faithful is the response to the context?",
    rubric=tuple(RubricItem(score=s, description=f"faithfulness {s} of 10") for s in range(11)),
    required_inputs=("query", "context"),
    required_output="response",
)


@pytest.fixture(scope="module")
def one_slot(demo_path: Path) -> Iterator[LlamaCppRuntime]:
    runtime = LlamaCppRuntime(demo_path, context_length=4096, model_name="demo", slots=1)
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def plain(one_slot: LlamaCppRuntime) -> Any:
    """llama-cpp-python's `Llama`, with the attention kernel edgejudge uses here."""
    return plain_llama(
        one_slot.path, n_ctx=4096, n_threads=one_slot.n_threads, flash_attn=True, verbose=False
    )


def point_tokens(
    runtime: LlamaCppRuntime, judge: Judge, item: dict[str, str], raw: str, cut: bool
) -> tuple[list[int], list[int]]:
    """What the judge had evaluated at the verdict position (just after `<score>`): tokens
    evaluated as a prompt, then tokens evaluated one at a time. An answer the budget cut was
    closed out, and its decision generated from the prompt plus the answer closed so far."""
    prompt = runtime.chat_tokens(judge.messages(item))
    if cut:
        closed = prompt + runtime.text_tokens(raw[: raw.index("<score>") + len("<score>")])
        return closed[:-1], closed[-1:]
    chunks = list(
        runtime.generate(
            prompt, grammar=judge.grammar, max_tokens=judge.max_tokens, sampling=Sampling(),
            keep=True,
        )
    )  # fmt: skip
    finished = chunks[-1]
    assert isinstance(finished, Finished) and finished.kept is not None
    assert "".join(c for c in chunks if isinstance(c, str)) == raw
    kept = finished.kept
    point = len(raw[: raw.index("<score>") + len("<score>")].encode("utf-8"))
    spelled, count = b"", 0
    while len(spelled) < point:
        spelled += kept.piece(count)
        count += 1
    assert len(spelled) == point  # the decision starts on a token boundary here
    tokens = list(kept.tokens[:count])
    kept.close()
    return prompt, tokens


def probabilities_after(plain: Any, prompt: list[int], tokens: Sequence[int]) -> np.ndarray:
    """Softmax of `Llama`'s logits after the prompt (one evaluation) and then each token of
    the answer evaluated on its own, as generation evaluates them."""
    plain.reset()
    plain.eval(prompt)
    for token in tokens:
        plain.eval([token])
    logits = np.ctypeslib.as_array(plain._ctx.get_logits(), shape=(plain.n_vocab(),))
    logits = logits.astype(np.float64) - logits.max()
    return np.exp(logits) / np.exp(logits).sum()  # type: ignore[no-any-return]


def single(runtime: LlamaCppRuntime, text: str) -> int:
    (token,) = runtime.text_tokens(text)
    return token


def test_a_five_point_distribution_is_the_softmax_over_the_five_score_tokens(
    one_slot: LlamaCppRuntime, plain: Any
) -> None:
    judge = Judge(None, get_preset("response-faithfulness-5point"), runtime=one_slot,
                  max_tokens=200)  # fmt: skip
    item = TEN_FAITHFULNESS[1]
    result = judge.evaluate(item)
    assert not result.truncated  # the decision was written by the generation itself
    prompt, before = point_tokens(one_slot, judge, item, result.raw, cut=False)
    p = probabilities_after(plain, prompt, before)
    scores = [p[single(one_slot, str(s))] for s in range(1, 6)]
    expected = {s: q / sum(scores) for s, q in zip(range(1, 6), scores, strict=True)}
    assert result.probabilities is not None
    for s in range(1, 6):
        assert abs(result.probabilities[s] - expected[s]) < 1e-5
    assert result.expected_score == pytest.approx(sum(s * q for s, q in expected.items()), abs=1e-5)
    assert result.confidence == pytest.approx(max(expected.values()), abs=1e-5)


def test_one_and_ten_are_told_apart_by_a_second_evaluation(
    one_slot: LlamaCppRuntime, plain: Any
) -> None:
    # In gemma's vocabulary "10" is "1" then "0": p(10) = p(1)·p(0|1), and the score 1 is
    # "1" followed by the start of "</score>": p(1)·Σ p(t|1) over those tokens.
    judge = Judge(None, ELEVEN, runtime=one_slot, max_tokens=24)
    item = TEN_FAITHFULNESS[1]
    result = judge.evaluate(item)
    assert result.truncated  # the decision was written by the close-out's generation
    prompt, before = point_tokens(one_slot, judge, item, result.raw, cut=True)
    first = probabilities_after(plain, prompt, before)
    one, zero = single(one_slot, "1"), single(one_slot, "0")
    after_one = probabilities_after(plain, prompt, [*before, one])
    closing = {b"</score>"[:n] for n in range(1, len("</score>") + 1)}
    closers = [t for t in range(plain.n_vocab()) if plain.detokenize([t]) in closing]
    assert closers  # "<" and "</" at least
    raw = {s: first[single(one_slot, str(s))] for s in range(11) if s not in (1, 10)}
    raw[1] = first[one] * sum(after_one[t] for t in closers)
    raw[10] = first[one] * after_one[zero]
    total = sum(raw.values())
    assert result.probabilities is not None and list(result.probabilities) == list(range(11))
    for s in range(11):
        assert abs(result.probabilities[s] - raw[s] / total) < 1e-5, s
    # The first token alone would give 1 all of p("1") and 10 nothing.
    assert result.probabilities[10] > 1e-4
    assert abs(result.probabilities[1] - first[one] / total) > 1e-4


def test_a_judgment_after_batches_gets_what_it_gets_alone(demo_path: Path) -> None:
    # Sequences that ran side by side leave free cells wherever they finished in: a cache
    # laid out by them would put the next judgment's cells elsewhere and move its floats
    # (seen before the fix: after the second batch, row 1's expected score was 1.874, not
    # 1.857). And a head cut off the granule (prefix.py), or one whose first cells another
    # sequence took in a sliding-window layer (heads.py), changed the feedback itself; which
    # head the batch left depended on timing, so this failed only now and then.
    import json

    rows = [json.loads(line) for line in (ROOT / "examples/faithfulness.jsonl").open()]
    runtime = LlamaCppRuntime(demo_path, context_length=4096, model_name="demo", slots=4)
    try:
        with Judge(None, get_preset("response-faithfulness-5point"), runtime=runtime,
                   max_tokens=128) as judge:  # fmt: skip
            alone = judge.evaluate(rows[0])
            for _ in range(2):
                list(judge.evaluate_many(rows, return_exceptions=True))
                again = judge.evaluate(rows[0])
                assert again.raw == alone.raw
                assert again.probabilities == alone.probabilities
            # the head's cells survived the batches whole (its guard kept them: heads.py)
            assert runtime.prefix_cache.heads_lost == 0
    finally:
        runtime.close()
