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
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from edgejudge.constants import PREFIX_CACHE_MIB
from edgejudge.errors import ModelLoadError, ServerError, SettingsError
from edgejudge.models.catalog import ModelEntry, find_entry
from edgejudge.models.resolve import LocalModel, looks_like_path, resolve_model
from edgejudge.runtime.base import Runtime
from edgejudge.runtime.limits import bounded_threads, check_context
from edgejudge.runtime.options import FIELDS, RUNTIMES, RuntimeName, RuntimeOptions

LLAMAFILE_SUFFIXES = (".llamafile", ".exe")


def kind_of(local: LocalModel) -> Literal["gguf", "llamafile"]:
    """Whether a model on disk is a GGUF file or a llamafile executable."""
    if local.entry is not None:
        return local.entry.kind
    return "llamafile" if local.path.suffix.lower() in LLAMAFILE_SUFFIXES else "gguf"


def as_options(
    runtime: RuntimeOptions | RuntimeName | Runtime | None, deprecated: dict[str, Any]
) -> RuntimeOptions | None:
    """The options a judge opens its runtime with: `runtime` as given (a name: the defaults
    for it), with the runtime options once given as `Judge` keyword arguments (deprecated)
    laid over it; None for a runtime already open, which those arguments never reached."""
    unknown = sorted(set(deprecated) - set(FIELDS))
    if unknown:
        raise TypeError(f"Judge() got an unexpected keyword argument {unknown[0]!r}")
    if deprecated:
        given = ", ".join(f"{name}=" for name in deprecated)
        warnings.warn(
            f"Judge({given}...) is deprecated and goes in the next release: pass "
            f"runtime=RuntimeOptions({given}...) (from edgejudge import RuntimeOptions)",
            DeprecationWarning,
            stacklevel=3,
        )
    if runtime is None or isinstance(runtime, str):
        return RuntimeOptions(runtime=runtime, **deprecated)  # type: ignore[arg-type]
    if isinstance(runtime, RuntimeOptions):
        return replace(runtime, **deprecated)
    return None


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
    """Open the runtime for `model`. A context llama.cpp cannot take fails first, in one line,
    before a model is looked up or downloaded (the runtimes check it, and their slots, again
    for callers that open them directly; `limits`); more threads than CPUs are cut to the
    CPUs, with a warning."""
    check_context(options.context_length)
    if options.slots is not None and options.slots < 1:
        raise SettingsError("slots must be at least 1")
    if options.prefix_cache_mib is not None and options.prefix_cache_mib < 0:
        raise ValueError("the prefix cache's memory cannot be negative (0 turns it off)")
    threads, note = bounded_threads(options.n_threads)
    if note:
        warnings.warn(note, stacklevel=2)
        options = replace(options, n_threads=threads)
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
        from edgejudge.runtime.llama_server.server import ServerRuntime

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
    from edgejudge.runtime.inprocess.llama_cpp import LlamaCppRuntime

    budget = options.prefix_cache_mib
    runtime = LlamaCppRuntime(
        local.path,
        context_length=context,
        slots=options.slots,
        prefix_cache_mib=PREFIX_CACHE_MIB if budget is None else budget,
        n_gpu_layers=options.n_gpu_layers,
        n_threads=options.n_threads,
        model_name=local.name,
        verbose=options.verbose,
    )
    return runtime


def server_urls(options: RuntimeOptions) -> list[str]:
    """The server URLs `options` name (one string, or several)."""
    urls = options.server_url
    if not urls:
        return []
    return [urls] if isinstance(urls, str) else list(urls)


def _connect(model: str | os.PathLike[str] | None, options: RuntimeOptions) -> Runtime:
    from edgejudge.runtime.serving.pool import Pool

    urls = server_urls(options)
    opened: list[tuple[Runtime, str]] = []
    try:
        for url in urls:
            opened.append(_connect_one(model, options, url))
    except BaseException:
        for runtime, _ in opened:
            runtime.close()
        raise
    if len(opened) == 1:
        return opened[0][0]
    return Pool([r for r, _ in opened], [served for _, served in opened])


def _connect_one(
    model: str | os.PathLike[str] | None, options: RuntimeOptions, url: str
) -> tuple[Runtime, str]:
    """The runtime for one server URL, and the name of the model it serves."""
    from edgejudge.paths import API_KEY_ENV
    from edgejudge.runtime.llama_server.server import ServerRuntime
    from edgejudge.runtime.serving.profiles import ENGINE_NAMES
    from edgejudge.runtime.serving.remote import EngineRuntime, detect

    if options.concurrency is not None and options.concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    name = None
    if model is not None:  # results carry the name asked for: a catalog name or a file name
        name = Path(model).name if looks_like_path(model) else os.fspath(model)
    key = options.api_key if options.api_key is not None else os.environ.get(API_KEY_ENV) or None
    engine = options.engine or "auto"
    if engine != "auto" and engine not in ENGINE_NAMES:
        raise ServerError(f"unknown engine {engine!r} (known: auto, {', '.join(ENGINE_NAMES)})")
    if engine == "auto":
        engine = detect(url, api_key=key)  # a URL that is not http(s) is refused there
    if engine != "llama-server":
        runtime = EngineRuntime(
            url,
            engine,  # type: ignore[arg-type]  # checked against ENGINE_NAMES above
            api_key=key,
            served_model=options.served_model,
            model_name=name,
            concurrency=options.concurrency,
            context_length=options.context_length,
            allow_unconstrained=options.allow_unconstrained,
        )
        return runtime, runtime.served_model
    server = ServerRuntime.connect(url, api_key=key, model_name=name)
    if options.concurrency:
        server.slots = options.concurrency
    expected = _expected_file(model)
    served = Path(server.served_model).name
    if expected and served != expected:
        server.close()
        raise ServerError(
            f"the server at {url} serves {served!r}, not {expected!r} "
            f"({model}); leave out --model to judge with whatever it serves"
        )
    return server, served


def _expected_file(model: str | os.PathLike[str] | None) -> str | None:
    """The GGUF file name a server must be serving for `model`, when that is known."""
    if model is None:
        return None
    if looks_like_path(model):
        path = Path(model)
        return None if path.suffix.lower() in LLAMAFILE_SUFFIXES else path.name
    entry = catalog_entry(model)
    return entry.filename if entry is not None and entry.kind == "gguf" else None
