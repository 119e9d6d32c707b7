"""How to run a model: one options object that every shell builds once and passes through.

The CLI's option groups, the TUI's session, the pytest plugin and the integrations build a
`RuntimeOptions`; `Judge(..., runtime=options)` hands it to the runtime that reads it. A new
runtime option is a field here and the code of the runtime that reads it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Literal

RuntimeName = Literal["inprocess", "server"]
RUNTIMES: tuple[RuntimeName, ...] = ("inprocess", "server")


@dataclass(frozen=True)
class RuntimeOptions:
    """How to run a model; every field has a default that suits a laptop."""

    runtime: RuntimeName | None = None  # None: a llamafile runs as a server, the rest in-process
    # A server someone else runs, or several serving the same model (one batch over all).
    server_url: str | Sequence[str] | None = None
    api_key: str | None = None  # for server_url; None: $EDGEJUDGE_API_KEY
    # judgments at once; None: in-process 1 on a CPU, 4 on a GPU; 1 for a server (-np)
    slots: int | None = None
    prefix_cache_mib: int | None = None  # in-process head cache; None: from the model, 0: off
    engine: str | None = None  # what serves server_url (profiles.ENGINE_NAMES); None: detect
    concurrency: int | None = None  # requests in flight per server URL; None: its slots
    served_model: str | None = None  # the engine's name for the model; None: the one it serves
    allow_unconstrained: bool = False  # judge through an engine that ignores the grammar
    llama_server: str | os.PathLike[str] | None = None
    context_length: int | None = None
    # llama.cpp's KV cache type for a runtime edgejudge starts: None or "f16" (the default),
    # "q8_0" (about half the memory; it changes the computation, so verdicts may differ and
    # the journal records it)
    kv_type: str | None = None
    n_gpu_layers: int | None = None
    n_threads: int | None = None
    verbose: bool = False


FIELDS = tuple(field.name for field in fields(RuntimeOptions))
