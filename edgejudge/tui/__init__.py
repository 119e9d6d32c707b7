"""The Textual TUI: `edgejudge tui`, or plain `edgejudge` in a terminal."""

from __future__ import annotations

from edgejudge.tui.app import EdgeJudgeApp, run_tui

__all__ = ["EdgeJudgeApp", "run_tui"]
