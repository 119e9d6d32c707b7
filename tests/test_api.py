"""The public API's shape: what `edgejudge` exports, `Judge`'s parameters, and the runtime
options once given to `Judge` one by one (deprecated, still working for one release)."""

from __future__ import annotations

import argparse
import ast
import inspect
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

import edgejudge
from edgejudge import Judge, RuntimeOptions
from edgejudge.judging import judge as judge_module
from tests.support.cases import FAITHFUL
from tests.support.fake_runtime import FakeRuntime

ERRORS = Path(edgejudge.__file__).with_name("errors.py")
ANSWER = "<feedback>fine</feedback>\n<score>4</score>"


def test_every_error_class_and_the_documented_names_are_exported() -> None:
    classes = [n.name for n in ast.parse(ERRORS.read_text()).body if isinstance(n, ast.ClassDef)]
    assert {"Cancelled", "FamilyError", "ServerError", "DownloadError"} <= set(classes)
    for name in [*classes, "PairResult", "RuntimeOptions", "Judge", "meta_evaluate"]:
        assert name in edgejudge.__all__, name
        assert getattr(edgejudge, name) is not None
    assert edgejudge.Cancelled.__module__ == "edgejudge.errors"


def test_judge_takes_a_dozen_parameters_and_no_runtime_option_among_them() -> None:
    parameters = inspect.signature(Judge).parameters
    named = [p for p in parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    assert len(named) <= 12, [p.name for p in named]
    options = {field.name for field in fields(RuntimeOptions)} - {"runtime"}
    assert not options & set(parameters)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[RuntimeOptions]:
    """The options each `Judge` opened its runtime with (a scripted runtime for a model)."""
    seen: list[RuntimeOptions] = []

    def open_runtime(model: Any, options: RuntimeOptions, *, download: bool) -> FakeRuntime:
        seen.append(options)
        return FakeRuntime(ANSWER)

    monkeypatch.setattr(judge_module, "open_runtime", open_runtime)
    return seen


def test_runtime_options_reach_the_runtime_as_given(opened: list[RuntimeOptions]) -> None:
    options = RuntimeOptions(runtime="inprocess", n_threads=1, slots=2)
    with Judge("demo", "response-faithfulness-5point", runtime=options) as judge:
        assert judge.evaluate(FAITHFUL).score == 4
    with Judge("demo", "response-faithfulness-5point", runtime="server"):
        pass
    assert opened == [options, RuntimeOptions(runtime="server")]


def test_old_keyword_arguments_still_work_with_a_deprecation_warning(
    opened: list[RuntimeOptions],
) -> None:
    with pytest.warns(DeprecationWarning, match=r"runtime=RuntimeOptions\(n_threads=, slots=") as w:
        Judge("demo", "response-faithfulness-5point", runtime="inprocess", n_threads=1, slots=2)
    assert w[0].filename == __file__  # the warning points at the caller's line
    with pytest.warns(DeprecationWarning):
        Judge(
            "demo",
            "response-faithfulness-5point",
            runtime=RuntimeOptions(slots=3, verbose=True),
            slots=2,
        )
    assert opened == [
        RuntimeOptions(runtime="inprocess", n_threads=1, slots=2),
        RuntimeOptions(slots=2, verbose=True),
    ]


def test_an_unknown_keyword_argument_is_a_type_error(opened: list[RuntimeOptions]) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'n_thread'"):
        Judge("demo", "response-faithfulness-5point", n_thread=1)
    assert opened == []


@pytest.mark.parametrize(
    ("value", "on"),
    [("1", True), ("true", True), (" Yes ", True), ("ON", True), ("0", False), ("no", False),
     ("", False), ("2", False)],
)  # fmt: skip
def test_every_environment_flag_reads_one_way(
    monkeypatch: pytest.MonkeyPatch, value: str, on: bool
) -> None:
    from edgejudge.cli.report import debugging
    from edgejudge.models.download import offline_reason
    from edgejudge.paths import DEBUG_ENV, OFFLINE_ENV

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv(DEBUG_ENV, value)
    monkeypatch.setenv(OFFLINE_ENV, value)
    assert debugging(argparse.Namespace()) is on
    assert (offline_reason() is not None) is on
