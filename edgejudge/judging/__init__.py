"""Judging: what turns a model, a metric and inputs into verdicts, on any runtime.

- `judge.py`: the `Judge` API (open a runtime, hold its slots, cancel; a view per metric);
- `choices.py`: the metrics, format and sampling a judge is built with, before any load;
- `pipeline.py`: one judgment, from a format's messages to a `JudgeResult`;
- `scheduler.py`: many judgments in the runtime's slots, and the restart of a dead server;
- `result.py`: `JudgeResult`, the verdict and how it was reached;
- `batch.py`: JSONL in, one flushed, resumable line per row out;
- `runtime_choice.py`: a judge's runtime options checked, its resolved model located, and the
  runtime table (`runtime/open.py`) asked to open it.
"""
