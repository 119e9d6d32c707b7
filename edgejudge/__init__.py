"""edgejudge: run small LLM-as-a-judge models locally, with grammar-forced verdicts."""

from __future__ import annotations

from edgejudge.core import EvalInput, Metric, RubricItem, Verdict
from edgejudge.core.meta_eval import MetaEvaluation
from edgejudge.errors import (
    ContextOverflowError,
    EdgeJudgeError,
    InputError,
    MetricError,
    ModelFileError,
    ModelLoadError,
    ModelNotFoundError,
    OutputBusyError,
    OutputError,
    ParseError,
)
from edgejudge.judging.judge import Judge
from edgejudge.judging.meta_eval import meta_evaluate
from edgejudge.judging.result import JudgeResult

__version__ = "0.1.0"

__all__ = [
    "ContextOverflowError",
    "EdgeJudgeError",
    "EvalInput",
    "InputError",
    "Judge",
    "JudgeResult",
    "MetaEvaluation",
    "Metric",
    "MetricError",
    "ModelFileError",
    "ModelLoadError",
    "ModelNotFoundError",
    "OutputBusyError",
    "OutputError",
    "ParseError",
    "RubricItem",
    "Verdict",
    "meta_evaluate",
]
