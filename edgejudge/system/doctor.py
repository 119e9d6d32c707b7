"""`edgejudge doctor`: what this machine and this llama.cpp build can do, and what to fix.

The commonest trouble with llama-cpp-python is a CPU-only build on a machine with a GPU
(pip builds for the CPU unless told otherwise), so that gets its own exact advice.
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path

from edgejudge import __version__
from edgejudge.models.catalog import ModelEntry, load_catalog
from edgejudge.models.download import offline_reason
from edgejudge.models.store import installed_path
from edgejudge.paths import AMX_ENV, CACHE_ENV, CONFIG_ENV, cache_dir, config_dir, folder_problem
from edgejudge.system import hardware
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
    fits: dict[str, bool | None] = field(default_factory=dict)
    advice: str | None = None
    repacking_off: bool = False  # AMX CPU: see hardware.avoid_weight_repacking


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
    memory = hardware.total_memory()
    installed = {name: p for name, e in catalog.items() if (p := installed_path(e)) is not None}
    return Report(
        llama_version=build["version"],
        backends=build["backends"],
        gpu_offload=build["gpu_offload"],
        gpu=gpu,
        cores=hardware.physical_cores(),
        memory=memory,
        available=hardware.available_memory(),
        cache=cache_dir(),
        free_disk=hardware.free_disk(cache_dir()),
        config=config_dir(),
        offline=offline_reason(),
        installed=installed,
        fits={name: hardware.fits_in_memory(e.ram_gb, memory) for name, e in catalog.items()},
        advice=reinstall_advice(gpu, build["gpu_offload"]),
        repacking_off=hardware.avoid_weight_repacking(),
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
    fit = [name for name, ok in report.fits.items() if ok]
    too_big = [name for name, ok in report.fits.items() if ok is False]
    lines.append(f"fit in memory:  {', '.join(fit) or 'none'}")
    if too_big:
        lines.append(f"too big here:   {', '.join(too_big)}")
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
