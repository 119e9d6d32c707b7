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
MODEL = "./judge.gguf"
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
def opened(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[RuntimeOptions]:
    """The options each `Judge` opened its runtime with (a scripted runtime for the model
    file, which is located on disk first, as any model is)."""
    (tmp_path / "judge.gguf").touch()
    monkeypatch.chdir(tmp_path)
    seen: list[RuntimeOptions] = []

    def open_located(model: Any, options: RuntimeOptions) -> FakeRuntime:
        seen.append(options)
        return FakeRuntime(ANSWER)

    monkeypatch.setattr(judge_module, "open_located", open_located)
    return seen


def test_runtime_options_reach_the_runtime_as_given(opened: list[RuntimeOptions]) -> None:
    options = RuntimeOptions(runtime="inprocess", n_threads=1, slots=2)
    with Judge(MODEL, "response-faithfulness-5point", runtime=options) as judge:
        assert judge.evaluate(FAITHFUL).score == 4
    with Judge(MODEL, "response-faithfulness-5point", runtime="server"):
        pass
    assert opened == [options, RuntimeOptions(runtime="server")]


def test_old_keyword_arguments_still_work_with_a_deprecation_warning(
    opened: list[RuntimeOptions],
) -> None:
    with pytest.warns(DeprecationWarning, match=r"runtime=RuntimeOptions\(n_threads=, slots=") as w:
        Judge(MODEL, "response-faithfulness-5point", runtime="inprocess", n_threads=1, slots=2)
    assert w[0].filename == __file__  # the warning points at the caller's line
    with pytest.warns(DeprecationWarning):
        Judge(
            MODEL,
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
        Judge(MODEL, "response-faithfulness-5point", n_thread=1)
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


def test_a_model_name_is_resolved_once_on_the_way_to_its_runtime(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from edgejudge.judging import runtime_choice
    from edgejudge.models import resolve

    calls: list[str] = []
    for name in ("looks_like_path", "find_entry"):
        real = getattr(resolve, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(resolve, name, counted)
    connected: list[tuple[str | None, str | None]] = []

    def connect(options: RuntimeOptions, *, name: str | None, served_file: str | None) -> Any:
        connected.append((name, served_file))
        return FakeRuntime(ANSWER)

    monkeypatch.setattr(runtime_choice, "connect", connect)
    options = RuntimeOptions(server_url="http://127.0.0.1:9")
    with Judge("flow-judge-v0.1", "response-faithfulness-5point", runtime=options) as judge:
        assert judge.model is not None and judge.model.kind == "remote"
        assert judge.model.family == judge.format.family == "flow-judge"
    assert sorted(calls) == ["find_entry", "looks_like_path"]
    assert connected == [("flow-judge-v0.1", "flow-judge-v0.1-Q4_K_M.gguf")]


def test_a_metrics_judge_is_a_view_of_one_loaded_model() -> None:
    runtime = FakeRuntime(ANSWER)
    with Judge(None, "response-faithfulness-5point", runtime=runtime) as judge:
        judge.probabilities = False  # a judge's own settings, as before (scripts/bench.py)
        other = judge.with_metric("response-relevance-5point")
        assert other.runtime is judge.runtime and other.format is judge.format
        assert other.probabilities is False and judge.pipeline.probabilities is False
        assert (other.metric.name, judge.metric.name) == (
            "response-relevance-5point",
            "response-faithfulness-5point",
        )
        other.close()  # a view never closes the model
        assert not runtime.closed
