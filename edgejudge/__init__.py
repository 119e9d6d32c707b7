"""edgejudge: run small LLM-as-a-judge models locally, with grammar-forced verdicts.

The public names load on first use (PEP 562), so that the `edgejudge` command can install
its signal handlers (`edgejudge.launch`) before anything slow is imported.
"""

from __future__ import annotations

__version__ = "0.1.0"

# Each public name and the module it comes from.
_HOMES = {
    "EvalInput": "edgejudge.core",
    "Metric": "edgejudge.core",
    "RubricItem": "edgejudge.core",
    "Verdict": "edgejudge.core",
    "MetaEvaluation": "edgejudge.meta_eval.evaluation",
    "ContextOverflowError": "edgejudge.errors",
    "EdgeJudgeError": "edgejudge.errors",
    "InputError": "edgejudge.errors",
    "MetricError": "edgejudge.errors",
    "ModelFileError": "edgejudge.errors",
    "ModelLoadError": "edgejudge.errors",
    "ModelNotFoundError": "edgejudge.errors",
    "OutputBusyError": "edgejudge.errors",
    "OutputError": "edgejudge.errors",
    "ParseError": "edgejudge.errors",
    "Judge": "edgejudge.judging.judge",
    "meta_evaluate": "edgejudge.meta_eval.run",
    "JudgeResult": "edgejudge.judging.result",
}

TYPE_CHECKING = False  # not typing's: importing typing alone costs milliseconds here
if TYPE_CHECKING:
    from edgejudge.core import EvalInput, Metric, RubricItem, Verdict
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
    from edgejudge.judging.result import JudgeResult
    from edgejudge.meta_eval.evaluation import MetaEvaluation
    from edgejudge.meta_eval.run import meta_evaluate


def __getattr__(name: str) -> object:
    import importlib

    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'edgejudge' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])


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
