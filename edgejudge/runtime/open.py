"""Which runtime carries a model, and opening it: a table from runtime name to opener.

The rules, the same for the API, the CLI and the TUI:
- a server URL means that server (`connect`);
- otherwise `runtime="server"` starts llama-server on the GGUF file (or runs the llamafile),
  and `runtime="inprocess"` loads the GGUF file into this process;
- left unset, a llamafile runs as a server and everything else in-process.

A runtime is given a file, never a name (`ModelFile`, built by the layer that resolved the
name). Adding a runtime is one module and one row of `OPENERS`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edgejudge.errors import ModelLoadError, ServerError
from edgejudge.runtime.base import Runtime
from edgejudge.runtime.options import RUNTIMES, RuntimeName, RuntimeOptions


@dataclass(frozen=True)
class ModelFile:
    """A model on disk, as a runtime needs it."""

    path: Path
    kind: Literal["gguf", "llamafile"]
    name: str  # what results call it: a catalog name, or the file's name
    context_length: int | None  # None: the runtime's default


def choose(kind: Literal["gguf", "llamafile"] | None, options: RuntimeOptions) -> RuntimeName:
    """The runtime `options` ask for, or the default for a model of `kind` (None: none)."""
    if options.server_url:
        if options.runtime == "inprocess":
            raise ServerError("--server-url needs the server runtime, not --runtime inprocess")
        return "server"
    if options.runtime is not None:
        if options.runtime not in RUNTIMES:
            raise ServerError(f"unknown runtime {options.runtime!r} (known: {', '.join(RUNTIMES)})")
        return options.runtime
    return "server" if kind == "llamafile" else "inprocess"


def _inprocess(model: ModelFile, options: RuntimeOptions) -> Runtime:
    if model.kind == "llamafile":
        raise ModelLoadError(
            f"{model.name!r} is a llamafile executable, which the in-process runtime cannot "
            f"load; run it with --runtime server, or use a GGUF build of the same model",
            str(model.path),
        )
    from edgejudge.runtime.inprocess.llama_cpp import LlamaCppRuntime

    return LlamaCppRuntime(
        model.path,
        context_length=model.context_length,
        slots=options.slots,
        prefix_cache_mib=options.prefix_cache_mib,
        kv_type=options.kv_type,
        n_gpu_layers=options.n_gpu_layers,
        n_threads=options.n_threads,
        model_name=model.name,
        verbose=options.verbose,
    )


def _server(model: ModelFile, options: RuntimeOptions) -> Runtime:
    from edgejudge.runtime.llama_server.server import ServerRuntime

    return ServerRuntime.launch(
        model.path,
        kind=model.kind,
        context_length=model.context_length,
        slots=options.slots or 1,
        kv_type=options.kv_type,
        binary=options.llama_server,
        n_gpu_layers=options.n_gpu_layers,
        n_threads=options.n_threads,
        model_name=model.name,
        verbose=options.verbose,
    )


OPENERS: dict[RuntimeName, Callable[[ModelFile, RuntimeOptions], Runtime]] = {
    "inprocess": _inprocess,
    "server": _server,
}


def open_file(model: ModelFile, options: RuntimeOptions) -> Runtime:
    """The runtime `options` choose for `model`, opened on it."""
    return OPENERS[choose(model.kind, options)](model, options)


def server_urls(options: RuntimeOptions) -> list[str]:
    """The server URLs `options` name (one string, or several)."""
    urls = options.server_url
    if not urls:
        return []
    return [urls] if isinstance(urls, str) else list(urls)


def connect(options: RuntimeOptions, *, name: str | None, served_file: str | None) -> Runtime:
    """The servers `options.server_url` names, as one runtime: results carry `name` (the
    model asked for; None: the one served), and a llama.cpp server must be serving
    `served_file` where that is known."""
    from edgejudge.runtime.serving.pool import Pool

    choose(None, options)
    opened: list[tuple[Runtime, str]] = []
    try:
        for url in server_urls(options):
            opened.append(_connect_one(options, url, name, served_file))
    except BaseException:
        for runtime, _ in opened:
            runtime.close()
        raise
    if len(opened) == 1:
        return opened[0][0]
    return Pool([r for r, _ in opened], [served for _, served in opened])


def _connect_one(
    options: RuntimeOptions, url: str, name: str | None, served_file: str | None
) -> tuple[Runtime, str]:
    """The runtime for one server URL, and the name of the model it serves."""
    from edgejudge.paths import API_KEY_ENV
    from edgejudge.runtime.llama_server.server import ServerRuntime
    from edgejudge.runtime.serving.profiles import ENGINE_NAMES
    from edgejudge.runtime.serving.remote import EngineRuntime, detect

    if options.concurrency is not None and options.concurrency < 1:
        raise ValueError("concurrency must be at least 1")
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
    served = Path(server.served_model).name
    if served_file and served != served_file:
        server.close()
        raise ServerError(
            f"the server at {url} serves {served!r}, not {served_file!r} "
            f"({name}); leave out --model to judge with whatever it serves"
        )
    return server, served
