"""The one judge model the TUI has loaded, shared by the Judge and Batch tabs.

Loading happens in a worker thread (it takes seconds for a real judge, and a server has to
start); judging with another metric reuses the loaded model through `Judge.with_metric`.
Changing the runtime frees the loaded model: the next judgment loads it the new way.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from edgejudge.core.metrics import AnyMetric
from edgejudge.judging.judge import Judge
from edgejudge.runtime.options import RuntimeOptions

AUTO = "auto"
# The runtime picker's choices: (label, value). "server:N" is a server with N slots.
RUNTIME_CHOICES = (
    ("auto", AUTO),
    ("in-process", "inprocess"),
    ("server", "server:1"),
    ("server ×2", "server:2"),
    ("server ×4", "server:4"),
)


def runtime_choice(options: RuntimeOptions) -> str:
    """The picker value for `options`."""
    if options.runtime == "server":
        return f"server:{options.slots or 1}"
    return options.runtime or AUTO


def with_choice(options: RuntimeOptions, choice: str) -> RuntimeOptions:
    """`options` with the runtime (and slots) a picker value names."""
    if choice.startswith("server"):
        slots = int(choice.partition(":")[2] or options.slots or 1)
        return replace(options, runtime="server", slots=slots)
    return replace(options, runtime="inprocess" if choice == "inprocess" else None, slots=None)


def model_busy(workers: Iterable[Any]) -> bool:
    """Whether a judgment or batch is using the model now: a running worker of the `model`
    group (the Judge and Batch tabs run theirs in that group, one at a time)."""
    return any(w.group == "model" and w.is_running for w in workers)


class ModelSession:
    """Keeps at most one model loaded; thread-safe."""

    def __init__(self, options: RuntimeOptions | None = None) -> None:
        self._lock = threading.Lock()
        self._judge: Judge | None = None
        self._model: str | None = None
        self.options = options or RuntimeOptions()

    @property
    def loaded(self) -> str | None:
        """The name of the model in memory, if any."""
        return self._model

    @property
    def slots(self) -> int:
        """How many judgments the loaded model takes at once (1 if none is loaded)."""
        judge = self._judge
        return judge.slots if judge is not None else 1

    def is_loaded(self, model: str) -> bool:
        """Whether `model` is the one in memory (judging with it will not load anything)."""
        return self._judge is not None and self._model == model

    def set_options(self, options: RuntimeOptions) -> None:
        """Run models this way from now on; frees the loaded model if the way changed."""
        with self._lock:
            if options != self.options:
                self._close()
                self.options = options

    def judge(self, model: str, metric: AnyMetric) -> Judge:
        """A judge for `model` with `metric`, loading the model (and freeing another) if needed."""
        with self._lock:
            if self._judge is None or self._model != model:
                self._close()
                self._judge = Judge(model, metric, runtime=self.options)
                self._model = model
            return self._judge.with_metric(metric)

    def cancel(self) -> None:
        """Stop the judgments now generating, if any."""
        judge = self._judge
        if judge is not None:
            judge.cancel()

    def close(self) -> None:
        """Free the model (and stop a server edgejudge started for it)."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._judge is not None:
            self._judge.close()
        self._judge, self._model = None, None
