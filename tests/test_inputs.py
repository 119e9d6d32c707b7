"""EvalInput: both JSON shapes, and errors that name the fields."""

from __future__ import annotations

import pytest

from edgejudge.core import EvalInput, coerce_input, get_preset
from edgejudge.errors import InputError
from tests.support.cases import FAITHFUL

METRIC = get_preset("response-faithfulness-5point")


def test_flat_shape_orders_inputs_as_the_metric() -> None:
    shuffled = {"response": "r", "context": "c", "query": "q", "id": 7}
    item = coerce_input(shuffled, METRIC)
    assert item.pairs() == [("query", "q"), ("context", "c")]
    assert item.output == {"response": "r"}


def test_reference_shape() -> None:
    data = {"inputs": [{"query": "q"}, {"context": "c"}], "output": {"response": "r"}}
    assert coerce_input(data, METRIC) == coerce_input(
        {"query": "q", "context": "c", "response": "r"}, METRIC
    )


def test_of_builds_from_keywords() -> None:
    assert EvalInput.of(METRIC, **FAITHFUL).output_value == FAITHFUL["response"]


@pytest.mark.parametrize(
    ("data", "missing", "unexpected"),
    [
        ({"query": "q", "response": "r"}, ("context",), ()),
        ({"query": "q", "context": "c", "response": "r", "extra": "x"}, (), ("extra",)),
        ({"inputs": [{"query": "q"}], "output": {"response": "r"}}, ("context",), ()),
        (
            {"inputs": [{"query": "q"}, {"ctx": "c"}], "output": {"answer": "r"}},
            ("context", "response"),
            ("ctx", "answer"),
        ),
        (
            {"inputs": [{"query": "q"}, {"response": "c"}], "output": {"context": "r"}},
            ("response",),
            ("context",),
        ),
    ],
)
def test_mismatches_name_every_key(data: dict, missing: tuple, unexpected: tuple) -> None:
    with pytest.raises(InputError) as info:
        coerce_input(data, METRIC)
    assert info.value.missing == missing
    assert info.value.unexpected == unexpected
    for key in (*missing, *unexpected):
        assert key in str(info.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "must be a JSON object"),
        ({"query": 3, "context": "c", "response": "r"}, "'query' must be a string"),
        ({"inputs": [{"query": "q", "context": "c"}], "output": {"response": "r"}}, "exactly one"),
        ({"inputs": "q", "output": {"response": "r"}}, "must be a list"),
        ({"inputs": [], "output": {"response": "r"}, "more": 1}, "unexpected keys"),
    ],
)
def test_malformed_inputs(data: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        coerce_input(data, METRIC)


def test_an_input_given_twice_is_refused() -> None:
    item = EvalInput(inputs=({"query": "a"}, {"query": "b"}), output={"response": "r"})
    with pytest.raises(InputError, match="more than once: query"):
        coerce_input(item, METRIC)
