"""Runtimes: the only code that knows llama.cpp. All speak `edgejudge.runtime.base.Runtime`."""

from __future__ import annotations

from edgejudge.runtime.base import Chunk, Finished, Runtime, Sampling

__all__ = ["Chunk", "Finished", "Runtime", "Sampling"]
