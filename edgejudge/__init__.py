"""edgejudge: run small LLM-as-a-judge models locally, with grammar-forced verdicts.

The public names load on first use (PEP 562), so that the `edgejudge` command can install
its signal handlers (`edgejudge.launch`) before anything slow is imported.
"""

from __future__ import annotations

__version__ = "0.1.0"

# Each public name and the module it comes from (every error class of `errors` among them).
_HOMES = {
    "EvalInput": "edgejudge.core",
    "Metric": "edgejudge.core",
    "RubricItem": "edgejudge.core",
    "Verdict": "edgejudge.core",
    "PairwiseMetric": "edgejudge.core.metrics",
    "PairInput": "edgejudge.core.pairs",
    "Judge": "edgejudge.judging.judge",
    "JudgeResult": "edgejudge.judging.result",
    "PairResult": "edgejudge.judging.pairs",
    "RuntimeOptions": "edgejudge.runtime.options",
    "MetaEvaluation": "edgejudge.meta_eval.evaluation",
    "meta_evaluate": "edgejudge.meta_eval.run",
    "diff": "edgejudge.regression.compare",
    "Diff": "edgejudge.regression.compare",
    "EdgeJudgeError": "edgejudge.errors",
    "Cancelled": "edgejudge.errors",
    "MetricError": "edgejudge.errors",
    "InputError": "edgejudge.errors",
    "ParseError": "edgejudge.errors",
    "ContextOverflowError": "edgejudge.errors",
    "CatalogError": "edgejudge.errors",
    "ModelNotFoundError": "edgejudge.errors",
    "ModelLoadError": "edgejudge.errors",
    "ModelFileError": "edgejudge.errors",
    "OutputError": "edgejudge.errors",
    "OutputBusyError": "edgejudge.errors",
    "SettingsError": "edgejudge.errors",
    "SetupError": "edgejudge.errors",
    "GenerationError": "edgejudge.errors",
    "BrokenModelError": "edgejudge.errors",
    "DownloadError": "edgejudge.errors",
    "OfflineError": "edgejudge.errors",
    "ChecksumMismatchError": "edgejudge.errors",
    "DiskSpaceError": "edgejudge.errors",
    "FamilyError": "edgejudge.errors",
    "ServerError": "edgejudge.errors",
    "ServerGoneError": "edgejudge.errors",
}

TYPE_CHECKING = False  # not typing's: importing typing alone costs milliseconds here
if TYPE_CHECKING:
    from edgejudge.core import EvalInput, Metric, RubricItem, Verdict
    from edgejudge.core.metrics import PairwiseMetric
    from edgejudge.core.pairs import PairInput
    from edgejudge.errors import (
        BrokenModelError,
        Cancelled,
        CatalogError,
        ChecksumMismatchError,
        ContextOverflowError,
        DiskSpaceError,
        DownloadError,
        EdgeJudgeError,
        FamilyError,
        GenerationError,
        InputError,
        MetricError,
        ModelFileError,
        ModelLoadError,
        ModelNotFoundError,
        OfflineError,
        OutputBusyError,
        OutputError,
        ParseError,
        ServerError,
        ServerGoneError,
        SettingsError,
        SetupError,
    )
    from edgejudge.judging.judge import Judge
    from edgejudge.judging.pairs import PairResult
    from edgejudge.judging.result import JudgeResult
    from edgejudge.meta_eval.evaluation import MetaEvaluation
    from edgejudge.meta_eval.run import meta_evaluate
    from edgejudge.regression.compare import Diff, diff
    from edgejudge.runtime.options import RuntimeOptions


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
    "BrokenModelError",
    "Cancelled",
    "CatalogError",
    "ChecksumMismatchError",
    "ContextOverflowError",
    "Diff",
    "DiskSpaceError",
    "DownloadError",
    "EdgeJudgeError",
    "EvalInput",
    "FamilyError",
    "GenerationError",
    "InputError",
    "Judge",
    "JudgeResult",
    "MetaEvaluation",
    "Metric",
    "MetricError",
    "ModelFileError",
    "ModelLoadError",
    "ModelNotFoundError",
    "OfflineError",
    "OutputBusyError",
    "OutputError",
    "PairInput",
    "PairResult",
    "PairwiseMetric",
    "ParseError",
    "RubricItem",
    "RuntimeOptions",
    "ServerError",
    "ServerGoneError",
    "SettingsError",
    "SetupError",
    "Verdict",
    "diff",
    "meta_evaluate",
]
