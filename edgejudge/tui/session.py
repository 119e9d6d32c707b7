"""The one judge model the TUI has loaded, shared by the Judge and Batch tabs.

Loading happens in a worker thread (it takes seconds for a real judge); judging with another
metric reuses the loaded model through `Judge.with_metric`.
"""

from __future__ import annotations

import threading

from edgejudge.core import Metric
from edgejudge.judge import Judge


class ModelSession:
    """Keeps at most one model loaded; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._judge: Judge | None = None
        self._model: str | None = None

    @property
    def loaded(self) -> str | None:
        """The name of the model in memory, if any."""
        return self._model

    def is_loaded(self, model: str) -> bool:
        """Whether `model` is the one in memory (judging with it will not load anything)."""
        return self._judge is not None and self._model == model

    def judge(self, model: str, metric: Metric) -> Judge:
        """A judge for `model` with `metric`, loading the model (and freeing another) if needed."""
        with self._lock:
            if self._judge is None or self._model != model:
                self._close()
                self._judge = Judge(model, metric)
                self._model = model
            return self._judge.with_metric(metric)

    def cancel(self) -> None:
        """Stop the judgment now generating, if any."""
        judge = self._judge
        if judge is not None:
            judge.cancel()

    def close(self) -> None:
        """Free the model."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._judge is not None:
            self._judge.close()
        self._judge, self._model = None, None
