"""What the TUI remembers between runs: last model, metric, tab, theme and batch files."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from edgejudge.io.atomic import write_text_atomic
from edgejudge.paths import config_dir

SETTINGS_FILE = "tui.json"


class TuiSettings(BaseModel):
    """The TUI's remembered choices; unknown or broken values fall back to defaults."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    metric: str | None = None
    tab: str = "judge"
    theme: str | None = None
    runtime: str = "auto"  # the Judge tab's runtime picker: auto, inprocess, server:N
    batch_input: str = ""
    batch_output: str = ""

    @classmethod
    def load(cls) -> TuiSettings:
        """The saved settings, or defaults if there are none or they cannot be read."""
        path = settings_path()
        try:
            return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, ValidationError):
            return cls()

    def save(self) -> None:
        """Write the settings atomically; a failure to write is not worth stopping for."""
        try:
            write_text_atomic(settings_path(), self.model_dump_json(indent=2) + "\n")
        except OSError:
            pass


def settings_path() -> Path:
    """`CONFIG/tui.json`."""
    return config_dir() / SETTINGS_FILE
