"""`edgejudge doctor`: what this machine and this llama.cpp build can do, and what to fix.

The commonest trouble with llama-cpp-python is a CPU-only build on a machine with a GPU
(pip builds for the CPU unless told otherwise), so that gets its own exact advice.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from edgejudge import __version__
from edgejudge.models.catalog import ModelEntry, load_catalog
from edgejudge.models.download import offline_reason
from edgejudge.models.store import installed_path
from edgejudge.paths import AMX_ENV, CACHE_ENV, CONFIG_ENV, cache_dir, config_dir, folder_problem
from edgejudge.system import hardware
from edgejudge.system.memory import (
    FIT_SHARE,
    ModelShape,
    Need,
    fits,
    need,
    prefix_cache_budget,
    shape_from_gguf,
)
from edgejudge.util.sizes import human_size

REINSTALL = 'CMAKE_ARGS="{flag}" pip install --force-reinstall --no-cache-dir llama-cpp-python'
GPU_FLAGS = {"apple": "-DGGML_METAL=on", "nvidia": "-DGGML_CUDA=on", "amd": "-DGGML_HIP=on"}
GPU_NAMES = {"apple": "Apple GPU (Metal)", "nvidia": "NVIDIA GPU (CUDA)", "amd": "AMD GPU (ROCm)"}


@dataclass
class Report:
    """Everything `doctor` found."""

    llama_version: str
    backends: list[str]
    gpu_offload: bool
    gpu: str | None
    cores: int
    memory: int | None
    available: int | None
    cache: Path
    free_disk: int
    config: Path
    offline: str | None
    installed: dict[str, Path] = field(default_factory=dict)
    fits: dict[str, bool | None] = field(default_factory=dict)  # at the catalog's context
    # Each model's memory at NEED_CONTEXTS tokens and its catalog context (None: unknown).
    needs: dict[str, dict[int, Need | None]] = field(default_factory=dict)
    advice: str | None = None
    repacking_off: bool = False  # AMX CPU: see hardware.avoid_weight_repacking
    busy: float | None = None  # cores other work keeps busy now


# The contexts doctor sizes each model at: most judgments fit 4k; long RAG rows want 8k.
NEED_CONTEXTS = (4096, 8192)


def model_need(
    entry: ModelEntry, context: int, *, available: int | None, path: Path | None = None
) -> Need | None:
    """The memory `entry` needs judging at `context` tokens here, its prefix cache full: from
    the GGUF header when the file is installed (`path`), else from the catalog's shape."""
    return model_needs(entry, [context], available=available, path=path)[context]


def model_needs(
    entry: ModelEntry, contexts: Iterable[int], *, available: int | None, path: Path | None
) -> dict[int, Need | None]:
    """`model_need` at each of `contexts`, the header read once."""
    weights = entry.approx_bytes
    shape: ModelShape | None = entry.shape.model_shape() if entry.shape else None
    if path is not None and entry.kind == "gguf":
        from edgejudge.errors import EdgeJudgeError
        from edgejudge.runtime.gguf import read_gguf

        try:
            shape = shape_from_gguf(read_gguf(path)) or shape
            weights = path.stat().st_size
        except (EdgeJudgeError, OSError):
            pass  # a damaged file: `models verify` says so; the catalog's figures stand
    if shape is None or weights is None:
        return dict.fromkeys(contexts)
    return {
        ctx: need(weights, shape, ctx, prefix_cache=prefix_cache_budget(
            shape, ctx, weights=weights, available=available))
        for ctx in contexts
    }  # fmt: skip


def catalog_fits(
    entry: ModelEntry, need_at_context: Need | None, memory: int | None
) -> bool | None:
    """Whether `entry` fits this machine at its catalog context: from its memory need, or
    from the catalog's `ram_gb` for an entry with no shape."""
    if need_at_context is not None:
        return fits(need_at_context.total, memory)
    return fits(entry.ram_bytes, memory)


def reinstall_advice(gpu: str | None, gpu_offload: bool) -> str | None:
    """The reinstall command when llama.cpp cannot use the GPU this machine has."""
    if gpu is None or gpu_offload or gpu not in GPU_FLAGS:
        return None
    return REINSTALL.format(flag=GPU_FLAGS[gpu])


def folder_problems() -> list[str]:
    """What is wrong with edgejudge's cache and config folders (`EDGEJUDGE_CACHE_DIR` or
    `EDGEJUDGE_CONFIG_DIR` naming a file, say); empty when both can be used."""
    return [p for env in (CACHE_ENV, CONFIG_ENV) if (p := folder_problem(env)) is not None]


def examine(catalog: dict[str, ModelEntry] | None = None) -> Report:
    """Look at the machine, the llama.cpp build and the model store."""
    from edgejudge.runtime.inprocess.llama_cpp import build_info

    build = build_info()
    catalog = load_catalog() if catalog is None else catalog
    gpu = hardware.detect_gpu()
    memory, available = hardware.total_memory(), hardware.available_memory()
    installed = {name: p for name, e in catalog.items() if (p := installed_path(e)) is not None}
    needs = {
        name: model_needs(
            e,
            sorted({*NEED_CONTEXTS, e.context_length}),
            available=available,
            path=installed.get(name),
        )  # fmt: skip
        for name, e in catalog.items()
    }
    return Report(
        llama_version=build["version"],
        backends=build["backends"],
        gpu_offload=build["gpu_offload"],
        gpu=gpu,
        cores=hardware.physical_cores(),
        memory=memory,
        available=available,
        cache=cache_dir(),
        free_disk=hardware.free_disk(cache_dir()),
        config=config_dir(),
        offline=offline_reason(),
        installed=installed,
        fits={
            name: catalog_fits(e, needs[name][e.context_length], memory)
            for name, e in catalog.items()
        },
        needs=needs,
        advice=reinstall_advice(gpu, build["gpu_offload"]),
        repacking_off=hardware.avoid_weight_repacking(),
        busy=hardware.busy_cores(),
    )


def render(report: Report) -> list[str]:
    """The report as lines of text."""
    offload = "yes" if report.gpu_offload else "no"
    lines = [
        f"edgejudge {__version__} · Python {sys.version.split()[0]} · "
        f"{platform.system()} {platform.machine()}",
        f"llama.cpp:      llama-cpp-python {report.llama_version}, backends "
        f"{', '.join(report.backends) or '?'}; GPU offload: {offload}",
        f"GPU:            {GPU_NAMES.get(report.gpu or '', 'none found')}",
        f"CPU:            {report.cores} physical cores"
        + (
            f"; AMX: weight repacking off (llama.cpp's AMX kernels crash on some such CPUs; "
            f"{AMX_ENV}=1 turns them on)"
            if report.repacking_off
            else ""
        ),
        *busy_lines(report),
        f"memory:         {human_size(report.memory)} total"
        + (f", {human_size(report.available)} available" if report.available is not None else ""),
        f"model cache:    {report.cache} ({human_size(report.free_disk)} free)",
        f"user catalog:   {report.config / 'models.toml'}",
        f"downloads:      {'off (' + report.offline + ')' if report.offline else 'on'}",
    ]
    installed = ", ".join(
        f"{name} ({human_size(path.stat().st_size)})" for name, path in report.installed.items()
    )
    lines.append(f"installed:      {installed or 'none'}")
    lines += need_lines(report)
    if report.advice:
        lines += [
            "",
            f"! This machine has an {GPU_NAMES[report.gpu or '']} but llama.cpp was built "
            "for the CPU only, so judging will be slow. Rebuild it with GPU support:",
            f"    {report.advice}",
        ]
    elif report.gpu and report.gpu_offload:
        lines.append("GPU offload is on: all layers go to the GPU by default (--gpu-layers).")
    return lines


# Other work on this many cores' worth of CPU or more makes the machine "busy".
BUSY_CORES = 0.5


def busy_lines(report: Report) -> list[str]:
    """A line saying the machine is busy, when other work keeps half a core or more busy:
    llama.cpp's threads wait for each other at every step, so one whose core is taken holds
    up the rest, and a judgment slows far more than the busy share."""
    if report.busy is None or report.busy < BUSY_CORES:
        return []
    return [
        f"load:           busy: other work keeps {report.busy:.1f} CPUs busy now; judgments "
        "run slower while it lasts (`--threads` under the free cores helps)"
    ]


def need_lines(report: Report) -> list[str]:
    """Which models fit here at each of NEED_CONTEXTS, and the memory each needs there."""
    lines = []
    for ctx in NEED_CONTEXTS:
        fit = [name for name in report.needs if _fits_at(report, name, ctx)]
        lines.append(f"fit at {ctx // 1024}k:{' ' * 6}{', '.join(fit) or 'none'}")
    lines.append(
        "memory needed:  weights + KV cache + buffers + prefix cache; fits: within "
        f"{FIT_SHARE:.0%} of {human_size(report.memory)}"
    )
    header = ["model", "weights"]
    for ctx in NEED_CONTEXTS:
        header += [f"KV {ctx // 1024}k", f"needs {ctx // 1024}k"]
    rows = [header]
    for name, by in report.needs.items():
        row = [name, human_size(next((n.weights for n in by.values() if n), None))]
        for ctx in NEED_CONTEXTS:
            found = by.get(ctx)
            if found is None:
                row += ["?", "?"]
            else:
                mark = " ok" if _fits_at(report, name, ctx) else " no"
                row += [human_size(found.kv), human_size(found.total) + mark]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        right = zip(row[1:], widths[1:], strict=True)
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in right]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def _fits_at(report: Report, name: str, context: int) -> bool:
    found = report.needs.get(name, {}).get(context)
    return found is not None and bool(fits(found.total, report.memory))
