"""A judge's runtime, opened: its options (the API's, or the deprecated keyword arguments)
checked, the model resolved by `models.resolve` located on disk, and the runtime table
(`runtime.open`) asked which runtime carries it.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

from edgejudge.errors import ModelLoadError, SettingsError
from edgejudge.models.resolve import ResolvedModel, locate
from edgejudge.runtime.base import Runtime
from edgejudge.runtime.limits import bounded_threads, check_context
from edgejudge.runtime.open import ModelFile, connect, open_file
from edgejudge.runtime.options import FIELDS, RuntimeName, RuntimeOptions
from edgejudge.system.memory import DEFAULT_KV_TYPE, check_kv_type


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


def checked(options: RuntimeOptions) -> RuntimeOptions:
    """`options`, checked before any model is located or downloaded: a context llama.cpp
    cannot take fails here, in one line (the runtimes check it, and their slots, again for
    callers that open them directly; `limits`); more threads than CPUs are cut to the CPUs,
    with a warning."""
    check_context(options.context_length)
    if options.slots is not None and options.slots < 1:
        raise SettingsError("slots must be at least 1")
    if options.prefix_cache_mib is not None and options.prefix_cache_mib < 0:
        raise ValueError("the prefix cache's memory cannot be negative (0 turns it off)")
    check_kv_type(options.kv_type)
    if options.kv_type not in (None, DEFAULT_KV_TYPE) and options.server_url:
        raise SettingsError(
            "--kv-type sets the KV cache of a runtime edgejudge starts; a server at "
            "--server-url keeps its own (llama-server's -ctk/-ctv)"
        )
    threads, note = bounded_threads(options.n_threads)
    if note:
        warnings.warn(note, stacklevel=3)
        options = replace(options, n_threads=threads)
    return options


def located(
    model: ResolvedModel | None, options: RuntimeOptions, *, download: bool = False
) -> ResolvedModel | None:
    """`model` with its file on disk, unless a server someone else runs carries it."""
    if options.server_url or model is None:
        return model
    return locate(model, download=download)


def open_runtime(
    model: ResolvedModel | None,
    options: RuntimeOptions,
    *,
    download: bool = False,
) -> Runtime:
    """Open the runtime for `model`: the options checked, then the file located, then the
    runtime the table chooses opened on it."""
    options = checked(options)
    return open_located(located(model, options, download=download), options)


def open_located(model: ResolvedModel | None, options: RuntimeOptions) -> Runtime:
    """The runtime for `model`, located (`located`), with `options` checked (`checked`)."""
    if options.server_url:
        if model is None:
            return connect(options, name=None, served_file=None)
        return connect(options, name=model.name, served_file=model.served_file)
    if model is None:
        raise ModelLoadError("no model given: name one (--model) or give --server-url", "")
    if model.path is None or model.kind == "remote":
        raise ValueError(f"{model.name} is not located: open it with open_runtime")
    context = options.context_length or model.context_length
    return open_file(ModelFile(model.path, model.kind, model.name, context), options)
