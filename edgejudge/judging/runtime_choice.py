"""Which runtime carries a judge, and opening it: in-process, a server we start, or a URL.

The rules, the same for the API, the CLI and the TUI:
- a server URL means that server;
- otherwise `runtime="server"` starts llama-server on the GGUF file (or runs the llamafile),
  and `runtime="inprocess"` loads the GGUF file into this process;
- left unset, a llamafile (a catalog entry of kind `llamafile`, or a `.llamafile` path) runs
  as a server and everything else in-process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from edgejudge.errors import ModelLoadError, ServerError
from edgejudge.models.catalog import ModelEntry, find_entry
from edgejudge.models.resolve import LocalModel, looks_like_path, resolve_model
from edgejudge.runtime.base import Runtime

RuntimeName = Literal["inprocess", "server"]
RUNTIMES: tuple[RuntimeName, ...] = ("inprocess", "server")
LLAMAFILE_SUFFIXES = (".llamafile", ".exe")


@dataclass(frozen=True)
class RuntimeOptions:
    """How to run a model; every field has a default that suits a laptop."""

    runtime: RuntimeName | None = None  # None: a llamafile runs as a server, the rest in-process
    server_url: str | None = None
    api_key: str | None = None  # for server_url; None: $EDGEJUDGE_API_KEY
    slots: int | None = None  # judgments at once; None: 4 in-process, 1 for a server (-np)
    llama_server: str | os.PathLike[str] | None = None
    context_length: int | None = None
    n_gpu_layers: int | None = None
    n_threads: int | None = None
    verbose: bool = False

    def judge_arguments(self) -> dict[str, Any]:
        """These options as `Judge` keyword arguments (the names are the same)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


def kind_of(local: LocalModel) -> Literal["gguf", "llamafile"]:
    """Whether a model on disk is a GGUF file or a llamafile executable."""
    if local.entry is not None:
        return local.entry.kind
    return "llamafile" if local.path.suffix.lower() in LLAMAFILE_SUFFIXES else "gguf"


def choose(local: LocalModel | None, options: RuntimeOptions) -> RuntimeName:
    """The runtime `options` ask for, or the default for this model."""
    if options.server_url:
        if options.runtime == "inprocess":
            raise ServerError("--server-url needs the server runtime, not --runtime inprocess")
        return "server"
    if options.runtime is not None:
        if options.runtime not in RUNTIMES:
            raise ServerError(f"unknown runtime {options.runtime!r} (known: {', '.join(RUNTIMES)})")
        return options.runtime
    return "server" if local is not None and kind_of(local) == "llamafile" else "inprocess"


def catalog_entry(
    model: str | os.PathLike[str] | None, catalog: dict[str, ModelEntry] | None = None
) -> ModelEntry | None:
    """The catalog entry `model` names, if it names one (not a path)."""
    if model is None or looks_like_path(model):
        return None
    return find_entry(os.fspath(model), catalog)


def open_runtime(
    model: str | os.PathLike[str] | None,
    options: RuntimeOptions,
    *,
    download: bool = False,
) -> Runtime:
    """Open the runtime for `model`."""
    if options.slots is not None and options.slots < 1:
        raise ValueError("slots must be at least 1")
    if options.server_url:
        choose(None, options)
        return _connect(model, options)
    if model is None:
        raise ModelLoadError("no model given: name one (--model) or give --server-url", "")
    local = resolve_model(model, download=download)
    entry = local.entry
    context = options.context_length or (entry.context_length if entry else None)
    kind = kind_of(local)
    if choose(local, options) == "server":
        from edgejudge.runtime.server import ServerRuntime

        runtime: Runtime = ServerRuntime.launch(
            local.path,
            kind=kind,
            context_length=context,
            slots=options.slots or 1,
            binary=options.llama_server,
            n_gpu_layers=options.n_gpu_layers,
            n_threads=options.n_threads,
            model_name=local.name,
            verbose=options.verbose,
        )
        return runtime
    if kind == "llamafile":
        raise ModelLoadError(
            f"{local.name!r} is a llamafile executable, which the in-process runtime cannot "
            f"load; run it with --runtime server, or use a GGUF build of the same model",
            str(local.path),
        )
    from edgejudge.runtime.llama_cpp import DEFAULT_SLOTS, LlamaCppRuntime

    runtime = LlamaCppRuntime(
        local.path,
        context_length=context,
        slots=options.slots or DEFAULT_SLOTS,
        n_gpu_layers=options.n_gpu_layers,
        n_threads=options.n_threads,
        model_name=local.name,
        verbose=options.verbose,
    )
    return runtime


def _connect(model: str | os.PathLike[str] | None, options: RuntimeOptions) -> Runtime:
    from edgejudge.runtime.server import ServerRuntime

    assert options.server_url
    name = None
    if model is not None:  # results carry the name asked for: a catalog name or a file name
        name = Path(model).name if looks_like_path(model) else os.fspath(model)
    runtime = ServerRuntime.connect(options.server_url, api_key=options.api_key, model_name=name)
    expected = _expected_file(model)
    served = Path(runtime.served_model).name
    if expected and served != expected:
        runtime.close()
        raise ServerError(
            f"the server at {options.server_url} serves {served!r}, not {expected!r} "
            f"({model}); leave out --model to judge with whatever it serves"
        )
    return runtime


def _expected_file(model: str | os.PathLike[str] | None) -> str | None:
    """The GGUF file name a server must be serving for `model`, when that is known."""
    if model is None:
        return None
    if looks_like_path(model):
        path = Path(model)
        return None if path.suffix.lower() in LLAMAFILE_SUFFIXES else path.name
    entry = catalog_entry(model)
    return entry.filename if entry is not None and entry.kind == "gguf" else None
