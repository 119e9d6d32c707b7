"""Metric validation, presets and TOML metric files."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from edgejudge.core import PRESETS, Metric, get_preset, metric_from_dict
from edgejudge.errors import MetricError
from edgejudge.io.metric_files import load_metric_file, resolve_metric


def _data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "m",
        "criteria": "c",
        "rubric": [{"score": 0, "description": "bad"}, {"score": 1, "description": "good"}],
        "required_inputs": ["query"],
        "required_output": "response",
    }
    data.update(overrides)
    return data


def test_the_presets_with_their_scales() -> None:
    assert len(PRESETS) == 15  # Flow-Judge's nine, hallucination-detection, five conversation
    scales = {name: metric.scores for name, metric in PRESETS.items()}
    assert scales["response-faithfulness-binary"] == (0, 1)
    assert scales["response-relevance-3point"] == (1, 2, 3)
    assert scales["response-correctness-5point"] == (1, 2, 3, 4, 5)
    assert get_preset("response-faithfulness-5point").required_inputs == ("query", "context")
    assert scales["hallucination-detection"] == (0, 1)


def test_unknown_preset_lists_the_presets() -> None:
    with pytest.raises(MetricError, match="response-faithfulness-5point"):
        get_preset("faithfulness")


@pytest.mark.parametrize("scores", [(0, 1), (1, 2, 3), tuple(range(1, 6)), tuple(range(0, 11))])
def test_valid_scales(scores: tuple[int, ...]) -> None:
    rubric = [{"score": s, "description": f"d{s}"} for s in scores]
    assert metric_from_dict(_data(rubric=rubric), source="t").scores == scores


@pytest.mark.parametrize(
    ("rubric", "message"),
    [
        ([{"score": 1, "description": "only"}], "2 to 11"),
        ([{"score": s, "description": "x"} for s in range(12)], "2 to 11"),
        ([{"score": 1, "description": "a"}, {"score": 1, "description": "b"}], "repeated: \\[1\\]"),
        ([{"score": 1.5, "description": "a"}, {"score": 2, "description": "b"}], "rubric.0.score"),
        ([{"score": True, "description": "a"}, {"score": 2, "description": "b"}], "rubric.0.score"),
        (
            [{"score": 1, "description": ""}, {"score": 2, "description": "b"}],
            "rubric.0.description",
        ),
        ([{"score": -1, "description": "a"}, {"score": 2, "description": "b"}], "non-negative"),
    ],
)
def test_invalid_rubrics_name_the_field(rubric: list[object], message: str) -> None:
    with pytest.raises(MetricError, match=message) as info:
        metric_from_dict(_data(rubric=rubric), source="my.toml")
    assert str(info.value).startswith("my.toml: field 'rubric")


def test_missing_and_unknown_fields_are_named() -> None:
    data = _data()
    del data["criteria"]
    with pytest.raises(MetricError, match="field 'criteria'"):
        metric_from_dict(data, source="x")
    with pytest.raises(MetricError, match="field 'colour'"):
        metric_from_dict(_data(colour="red"), source="x")


def test_bad_field_names_and_output_clash() -> None:
    with pytest.raises(MetricError, match="required_inputs"):
        metric_from_dict(_data(required_inputs=["<query>"]), source="x")
    with pytest.raises(MetricError, match="also listed as an input"):
        metric_from_dict(_data(required_inputs=["response"]), source="x")


TOML = """
name = "helpfulness-10"
criteria = "How helpful is the response?"
required_inputs = ["query"]
required_output = "response"
{rubric}
"""


def test_toml_metric_file(tmp_path: Path) -> None:
    rubric = "\n".join(f'[[rubric]]\nscore = {s}\ndescription = "level {s}"' for s in range(11))
    path = tmp_path / "helpful.toml"
    path.write_text(TOML.format(rubric=rubric))
    metric = load_metric_file(path)
    assert metric.scores == tuple(range(11))
    assert resolve_metric(str(path)) == metric
    assert resolve_metric(metric) is metric


def test_toml_errors_name_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        TOML.format(
            rubric='[[rubric]]\nscore = "high"\ndescription = "x"\n'
            '[[rubric]]\nscore = 2\ndescription = "y"'
        )
    )
    with pytest.raises(MetricError, match=r"bad\.toml: field 'rubric\.0\.score'"):
        load_metric_file(path)
    path.write_text("name = [unclosed")
    with pytest.raises(MetricError, match="not valid TOML"):
        load_metric_file(path)
    with pytest.raises(MetricError, match="not found"):
        load_metric_file(tmp_path / "absent.toml")


def test_metric_is_immutable() -> None:
    metric = get_preset("response-relevance-binary")
    with pytest.raises(ValidationError):
        metric.name = "other"  # type: ignore[misc]
    assert isinstance(metric, Metric)


def test_saved_metrics_round_trip_and_resolve_by_name() -> None:
    from edgejudge.io.metric_files import save_metric, user_metrics, user_metrics_dir

    tricky = get_preset("response-correctness-3point").model_copy(
        update={
            "name": "my-correctness",
            "title": None,
            "criteria": 'Quotes " and \\ backslashes,\nnew lines, tabs\t and ünïcödé — all kept.',
        }
    )
    path = save_metric(tricky)
    assert path == user_metrics_dir() / "my-correctness.toml"
    assert load_metric_file(path) == tricky
    assert resolve_metric("my-correctness") == tricky
    (user_metrics_dir() / "broken.toml").write_text("name = [", encoding="utf-8")
    found = {m.name: m for m in user_metrics()}
    assert found["my-correctness"].metric == tricky
    assert found["broken"].metric is None and "not valid TOML" in str(found["broken"].problem)


def test_a_saved_metric_may_not_take_a_presets_name() -> None:
    from edgejudge.io.metric_files import save_metric

    with pytest.raises(MetricError, match="preset"):
        save_metric(get_preset("response-faithfulness-5point"))
