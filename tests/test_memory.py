"""The memory a judge needs (edgejudge.system.memory), the defaults drawn from it, and what
`doctor` and `models list` say fits: the arithmetic checked against the figures the model
cards publish and against the demo models' own GGUF headers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from edgejudge.cli import main
from edgejudge.models.catalog import ModelEntry, load_catalog
from edgejudge.runtime.gguf import GGUFInfo, read_gguf
from edgejudge.system import doctor
from edgejudge.system.memory import (
    DEFAULT_CONTEXT,
    FIT_SHARE,
    PREFIX_CACHE_SHARE,
    SMALLEST_DEFAULT_CONTEXT,
    ModelShape,
    buffers,
    default_context,
    fits,
    need,
    prefix_cache_budget,
    shape_from_gguf,
)

KIB, MIB, GIB = 2**10, 2**20, 2**30
FLOW = ModelShape(layers=32, kv_heads=32, head_size=96, vocab=32064)  # Phi-3.5-mini
SELENE = ModelShape(layers=32, kv_heads=8, head_size=128, vocab=128256)  # Llama-3.1-8B


def test_kv_size_per_token_follows_layers_heads_and_the_cache_type() -> None:
    # Phi-3.5-mini has no grouped-query attention: 384 KiB of f16 a token, 3 GiB at 8k.
    assert FLOW.kv_bytes_per_token() == 384 * KIB
    assert FLOW.kv_bytes(8192) == 3 * GIB
    assert SELENE.kv_bytes_per_token() == 128 * KIB  # 8 KV heads of 128
    # q8_0 stores 32 values in 34 bytes: 17/32 of f16.
    assert FLOW.kv_bytes_per_token("q8_0") == 384 * KIB * 17 // 32
    # A value width that differs from the key's counts as it is.
    assert ModelShape(2, 1, 64, 10, value_size=32).kv_bytes_per_token() == 2 * (64 + 32) * 2


def test_the_catalog_shapes_match_the_demo_files_headers(
    demo_path: Path, instruct_path: Path
) -> None:
    catalog = load_catalog()
    for name, path in (("demo", demo_path), ("demo-instruct", instruct_path)):
        shape = catalog[name].shape
        assert shape is not None
        assert shape_from_gguf(read_gguf(path)) == shape.model_shape(), name
    # Every built-in judge says its shape, so doctor can size it before it is downloaded.
    assert all(entry.shape is not None for entry in catalog.values())


def _info(tmp_path: Path, size: int, trained: int | None, **meta: object) -> GGUFInfo:
    path = tmp_path / "model.gguf"
    with path.open("wb") as handle:
        handle.truncate(size)  # sparse: only its size matters here
    metadata = {"general.architecture": "phi3", "phi3.block_count": 32,
                "phi3.attention.head_count": 32, "phi3.embedding_length": 3072, **meta}  # fmt: skip
    if trained:
        metadata["phi3.context_length"] = trained
    tensors = {"token_embd.weight": (3072, 32064)}
    return GGUFInfo(path, 3, 0, metadata, tensors)


def test_the_shape_is_read_from_the_header(tmp_path: Path) -> None:
    # No head_count_kv: every head has its own keys and values; the vocabulary from the
    # embedding's shape.
    assert shape_from_gguf(_info(tmp_path, 10, None)) == FLOW
    grouped = _info(tmp_path, 10, None, **{"phi3.attention.head_count_kv": 8})
    assert shape_from_gguf(grouped) == ModelShape(32, 8, 96, 32064)
    missing = _info(tmp_path, 10, None)
    del missing.metadata["phi3.block_count"]
    assert shape_from_gguf(missing) is None


def test_the_default_context_is_never_the_trained_one_when_that_cannot_fit(
    tmp_path: Path,
) -> None:
    weights = int(2.4e9)
    info = _info(tmp_path, weights, 131072)  # Phi-3.5: 131072 tokens would be 48 GiB of KV
    assert default_context(info, available=None) == DEFAULT_CONTEXT
    assert default_context(info, available=64 * GIB) == DEFAULT_CONTEXT
    assert default_context(_info(tmp_path, weights, 2048), available=64 * GIB) == 2048
    # 6 GB free: 8k (2.4 GB + 3.2 GB + buffers) is over 80% of it, 4k (4.3 GB) is not.
    assert default_context(info, available=8 * 10**9) == 8192
    assert default_context(info, available=6 * 10**9) == 4096
    # Nothing fits: the smallest default, and the error at load says what is wrong.
    assert default_context(info, available=GIB) == SMALLEST_DEFAULT_CONTEXT


def test_the_prefix_cache_budget_is_a_context_long_head_within_a_share_of_free_memory() -> None:
    weights = int(2.4e9)
    head = FLOW.kv_bytes(4096)
    assert prefix_cache_budget(FLOW, 4096, weights=weights, available=None) == head
    assert prefix_cache_budget(FLOW, 4096, weights=weights, available=64 * GIB) == head
    tight = 6 * GIB
    left = tight - weights - head - buffers(FLOW)
    budget = prefix_cache_budget(FLOW, 4096, weights=weights, available=tight)
    assert budget == int(PREFIX_CACHE_SHARE * left) < head
    assert prefix_cache_budget(FLOW, 4096, weights=weights, available=GIB) == 0


def test_need_adds_the_parts_and_fits_keeps_a_margin() -> None:
    found = need(10**9, SELENE, 4096, prefix_cache=5)
    assert found.total == 10**9 + SELENE.kv_bytes(4096) + buffers(SELENE) + 5
    assert fits(int(FIT_SHARE * 10**10), 10**10) is True
    assert fits(int(FIT_SHARE * 10**10) + 1, 10**10) is False
    assert fits(None, 10**10) is None and fits(5, None) is None


def _entry(**fields: object) -> ModelEntry:
    base = {"name": "x", "kind": "gguf", "family": "flow-judge", "source": "huggingface",
            "repo": "a/b", "file": "x.gguf", "size_gb": 2.4, "context_length": 8192}  # fmt: skip
    return ModelEntry.model_validate({**base, **fields})


def test_doctor_sizes_a_model_from_the_catalog_and_an_installed_one_from_its_file(
    demo_path: Path,
) -> None:
    flow = _entry(shape={"layers": 32, "kv_heads": 32, "head_size": 96, "vocab": 32064})
    found = doctor.model_need(flow, 8192, available=None)
    assert found is not None
    assert (found.weights, found.kv, found.prefix_cache) == (int(2.4e9), 3 * GIB, 3 * GIB)
    # No shape: unknown, unless the catalog gives ram_gb.
    assert doctor.model_need(_entry(), 4096, available=None) is None
    assert doctor.catalog_fits(_entry(ram_gb=4.0), None, 10 * 10**9) is True
    assert doctor.catalog_fits(_entry(ram_gb=9.0), None, 10 * 10**9) is False
    assert doctor.catalog_fits(_entry(), None, 10 * 10**9) is None
    # Installed: the file's size and header win over a catalog shape that is wrong.
    wrong = _entry(shape={"layers": 1, "kv_heads": 1, "head_size": 8, "vocab": 9})
    installed = doctor.model_need(wrong, 4096, available=None, path=demo_path)
    assert installed is not None
    assert installed.weights == os.path.getsize(demo_path)
    assert installed.kv == (shape_from_gguf(read_gguf(demo_path)) or FLOW).kv_bytes(4096)


def test_doctor_names_what_fits_at_4k_and_8k(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A 16 GB laptop with 12 GB free: Flow-Judge fits at both, Phi-4 at 4k only (9 GB of
    # weights), the 70B Root Judge at neither.
    monkeypatch.setattr(doctor.hardware, "total_memory", lambda: 16 * 10**9)
    monkeypatch.setattr(doctor.hardware, "available_memory", lambda: 12 * 10**9)
    report = doctor.examine()
    lines = doctor.need_lines(report)
    at = {line.split(":")[0]: line.split(":", 1)[1] for line in lines if line.startswith("fit at")}
    assert "flow-judge-v0.1," in at["fit at 4k"] + "," and "flow-judge-v0.1," in at["fit at 8k"]
    assert "root-judge" not in at["fit at 4k"]
    phi4 = report.needs["phi-4"]
    assert phi4[4096] is not None and phi4[8192] is not None
    assert (" phi-4" in at["fit at 4k"]) == bool(fits(phi4[4096].total, 16 * 10**9))
    row = next(line for line in lines if line.strip().startswith("flow-judge-v0.1 "))
    assert "3.22 GB" in row  # the KV cache at 8k: 3 GiB
    assert main(["models", "list", "--json"]) == 0
    records = {r["name"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    memory = records["selene-1-mini"]["memory"]
    assert memory["kv"] == SELENE.kv_bytes(8192) and memory["total"] > memory["weights"]
    assert records["root-judge"]["fits"] is False


def test_doctor_says_when_other_work_keeps_the_cpus_busy() -> None:
    # /proc/stat's cpu line: user nice system idle iowait irq softirq steal.
    before = [100, 0, 50, 1000, 10, 0, 0, 0]
    half = [150, 0, 100, 1090, 10, 0, 0, 0]  # 100 busy of 190 ticks
    assert doctor.hardware.busy_between(before, half, 2) == pytest.approx(2 * 100 / 190)
    assert doctor.hardware.busy_between(before, before, 2) == 0.0
    report = doctor.examine()
    report.busy = 0.2
    assert doctor.busy_lines(report) == []
    report.busy = 1.6
    [line] = doctor.busy_lines(report)
    assert "1.6 CPUs busy" in line and line in doctor.render(report)
