"""Model downloads through the real huggingface_hub code against a local hub (tests/hub_server).

Also the user catalog, offline mode, verify/rm/import, and `doctor`. Nothing here reaches
the internet or the real home directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from edgejudge.cli import main
from edgejudge.errors import (
    CatalogError,
    ChecksumMismatchError,
    DiskSpaceError,
    DownloadError,
    ModelNotFoundError,
    OfflineError,
)
from edgejudge.models.catalog import load_catalog
from edgejudge.models.download import pull
from edgejudge.models.resolve import resolve
from edgejudge.models.store import installed_path, store_path
from edgejudge.paths import CACHE_ENV, CONFIG_ENV
from edgejudge.system.doctor import reinstall_advice
from tests.support.hub_server import COMMIT, DATA, REPO, SIZE, FakeHub, register

PIP_REINSTALL = "pip install --force-reinstall --no-cache-dir llama-cpp-python"


class RecordingBar:
    """A tqdm stand-in that remembers what huggingface_hub told it."""

    made: list[RecordingBar] = []

    def __init__(self, *, total: int | None = None, initial: int = 0, **_: Any) -> None:
        self.total, self.initial, self.count = total, initial, initial
        RecordingBar.made.append(self)

    def update(self, n: float = 1) -> None:
        self.count += int(n)

    def close(self) -> None:
        pass

    def __enter__(self) -> RecordingBar:
        return self

    def __exit__(self, *_: Any) -> None:
        pass


# --- pulling ------------------------------------------------------------------------------


def test_the_huggingface_hub_major_is_the_one_this_run_is_for() -> None:
    # scripts/test.sh runs this file under huggingface-hub 2.x (.venv) and again under 1.x
    # (.venv-integrations, where DeepEval's pins hold it): a pull must behave the same on both.
    import huggingface_hub

    wanted = os.environ.get("EDGEJUDGE_EXPECT_HUB_MAJOR")
    major = huggingface_hub.__version__.split(".")[0]
    assert major in {"1", "2"} and (wanted is None or major == wanted), major


def test_pull_fetches_verifies_and_reports_progress(hub: FakeHub) -> None:
    register("tiny")
    entry = load_catalog()["tiny"]
    RecordingBar.made.clear()
    result = pull(entry, tqdm_class=RecordingBar)
    assert result.path == store_path(entry) and result.path.read_bytes() == DATA
    assert (result.fetched, result.resumed_from) == (SIZE, 0)
    # No catalog sha256: the sha256 the hub reports for the LFS file is checked instead.
    assert result.sha256 == hub.files[(REPO, "tiny.gguf")].sha256
    [bar] = RecordingBar.made
    assert (bar.total, bar.initial, bar.count) == (SIZE, 0, SIZE)
    assert [s.sent for s in hub.served] == [SIZE]
    assert f'"commit": "{COMMIT}"' in (result.path.parent / "manifest.json").read_text()
    # Installed now: found without the network, and a second pull transfers nothing.
    assert resolve("tiny").path == result.path
    again = pull(entry)
    assert again.already_installed and len(hub.served) == 1


def test_a_dropped_connection_is_resumed_within_the_run(hub: FakeHub) -> None:
    register("tiny")
    cut = 16 * 64 * 1024  # on a write-chunk boundary: every byte received was written
    hub.drop_after = cut
    result = pull(load_catalog()["tiny"])
    assert result.path.read_bytes() == DATA
    # huggingface_hub retried with a Range header for the rest, not from zero.
    assert [(s.start, s.sent) for s in hub.served] == [(0, cut), (cut, SIZE - cut)]


def test_a_failed_pull_keeps_its_bytes_and_the_next_pull_fetches_only_the_rest(
    hub: FakeHub,
) -> None:
    register("tiny")
    entry = load_catalog()["tiny"]
    cut = 19 * 64 * 1024
    hub.drop_after, hub.fail_next = cut, 1  # the connection drops, then the retry gets 503
    with pytest.raises(DownloadError, match="stopped at 1 MB of 3 MB.*run the same pull again"):
        pull(entry)
    part = store_path(entry).with_name("tiny.gguf.part")
    assert part.stat().st_size == cut and installed_path(entry) is None
    result = pull(entry)
    assert result.path.read_bytes() == DATA
    assert (result.resumed_from, result.fetched) == (cut, SIZE - cut)
    assert (hub.served[-1].start, hub.served[-1].sent) == (cut, SIZE - cut)
    assert not part.exists()


def test_a_changed_hub_file_is_not_resumed_onto_old_bytes(hub: FakeHub) -> None:
    register("tiny")
    entry = load_catalog()["tiny"]
    hub.drop_after, hub.fail_next = 500_000, 1
    with pytest.raises(DownloadError):
        pull(entry)
    new = bytes(reversed(DATA))
    hub.add(REPO, "tiny.gguf", new)  # the publisher replaced the file meanwhile
    assert pull(entry).path.read_bytes() == new
    assert hub.served[-1].start == 0


def test_checksum_mismatch_removes_the_bad_file(hub: FakeHub) -> None:
    register("tiny")
    entry = load_catalog()["tiny"]
    hub.corrupt = True  # the bytes arrive damaged
    with pytest.raises(ChecksumMismatchError, match="bad file was removed") as info:
        pull(entry)
    assert info.value.expected == hub.files[(REPO, "tiny.gguf")].sha256
    assert not any(store_path(entry).parent.glob("tiny.gguf*"))


def test_catalog_checksum_that_the_hub_contradicts_fails_before_downloading(hub: FakeHub) -> None:
    register("tiny", sha256="0" * 64)
    with pytest.raises(DownloadError, match="catalog expects 0000"):
        pull(load_catalog()["tiny"])
    assert hub.served == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"file": "missing.gguf"}, "has no file 'missing.gguf' at revision main"),
        ({"repo": "edgejudge-test/nope"}, "was not found on the hub"),
        ({"repo": "edgejudge-test/gated"}, "is gated: accept its terms"),
    ],
)
def test_hub_errors_are_one_clear_line(hub: FakeHub, fields: dict[str, str], message: str) -> None:
    hub.add("edgejudge-test/gated", "tiny.gguf", DATA)
    hub.gated.add("edgejudge-test/gated")
    register("other", **fields)
    with pytest.raises(DownloadError, match=message) as info:
        pull(load_catalog()["other"])
    assert "\n" not in str(info.value)


def test_not_enough_disk_fails_before_downloading(
    hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage(10**9, 10**9 - 1000, 1000))
    register("tiny")
    with pytest.raises(DiskSpaceError, match="needs 3 MB more but .* has 1 kB free") as info:
        pull(load_catalog()["tiny"])
    assert info.value.needed == SIZE and hub.served == []


def test_llamafile_comes_out_executable(hub: FakeHub) -> None:
    hub.add("edgejudge-test/tiny-llamafile", "tiny.llamafile", b"MZqFpD=" + DATA[:1000])
    register(
        "tiny-lf", kind="llamafile", repo="edgejudge-test/tiny-llamafile", file="tiny.llamafile"
    )
    path = pull(load_catalog()["tiny-lf"]).path
    assert os.access(path, os.X_OK)


# --- offline --------------------------------------------------------------------------------


@pytest.mark.parametrize("switch", ["HF_HUB_OFFLINE", "EDGEJUDGE_OFFLINE"])
def test_offline_fails_at_once_and_installed_models_still_work(
    hub: FakeHub, monkeypatch: pytest.MonkeyPatch, switch: str
) -> None:
    register("tiny")
    register("tiny-2", file="tiny.gguf", repo=REPO, revision="v2")
    catalog = load_catalog()
    installed = pull(catalog["tiny"]).path
    heads = hub.heads
    monkeypatch.setenv(switch, "1")
    with pytest.raises(OfflineError, match=f"downloads are off \\({switch}=1\\)"):
        pull(catalog["tiny-2"])
    assert hub.heads == heads  # failed before any request: nothing to hang on
    assert resolve("tiny").path == installed


# --- the user catalog -------------------------------------------------------------------------


def test_user_catalog_extends_and_overrides_the_builtin() -> None:
    register("my-judge", description="mine")
    register("flow-judge-v0.1", repo="me/flow-mirror", file="flow.gguf")
    catalog = load_catalog()
    assert catalog["my-judge"].description == "mine"
    assert catalog["flow-judge-v0.1"].repo == "me/flow-mirror"
    assert "demo" in catalog and "glider" in catalog


def test_malformed_user_catalog_names_file_entry_and_field() -> None:
    register("broken", context_length=-5)
    path = Path(os.environ[CONFIG_ENV]) / "models.toml"
    with pytest.raises(CatalogError) as info:
        load_catalog()
    assert str(info.value).startswith(f"{path}: entry 'broken', field 'context_length'")


def test_malformed_user_catalog_is_one_line_at_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    register("broken", kind="exe")
    assert main(["models", "list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "entry 'broken', field 'kind'" in err


# --- the CLI ------------------------------------------------------------------------------------


def run_cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "edgejudge", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_ctrl_c_during_pull_then_rerun_fetches_only_the_remainder(hub: FakeHub) -> None:
    # A real process and huggingface_hub's real 10 MiB write chunks: a 24 MiB file, and the
    # hub stalls after 15 MiB, so 10 MiB are on disk when Ctrl-C arrives.
    mib = 1024 * 1024
    big = os.urandom(24 * mib)
    hub.add("edgejudge-test/big", "big.gguf", big)
    register("big", repo="edgejudge-test/big", file="big.gguf")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    hub.stall_after = 15 * mib
    first = run_cli("models", "pull", "big", env=env)
    assert hub.stalled.wait(30), "the pull never started"
    part = Path(os.environ[CACHE_ENV]) / "models" / "big" / "big.gguf.part"
    deadline = time.monotonic() + 10
    while (not part.exists() or part.stat().st_size < 10 * mib) and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)
    out, err = first.communicate(timeout=30)
    assert first.returncode == 130, err
    assert "interrupted: 10 MB kept; run the same command to resume" in err
    assert part.stat().st_size == 10 * mib
    hub.release.set()

    listing = subprocess.run(
        [sys.executable, "-m", "edgejudge", "models", "list"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert "partial 10 MB" in listing.stdout

    second = run_cli("models", "pull", "big", env=env)
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert "resuming big: 10 MB already on disk" in err
    assert "resumed after 10 MB" in out and "sha256" in out
    first_get, second_get = hub.served[0], hub.served[-1]
    assert (first_get.start, first_get.sent) == (0, 15 * mib)
    # The second attempt asked for, and got, only what was missing.
    assert (second_get.start, second_get.sent) == (10 * mib, 14 * mib)
    assert (part.parent / "big.gguf").read_bytes() == big


def test_models_path_rm_and_verify(hub: FakeHub, capsys: pytest.CaptureFixture[str]) -> None:
    register("tiny")
    assert main(["models", "path", "tiny"]) == 2
    assert "not installed; get it with: edgejudge models pull tiny" in capsys.readouterr().err
    assert main(["models", "pull", "tiny", "--no-progress"]) == 0
    assert "tiny: 3 MB (fetched 3 MB; sha256" in capsys.readouterr().out
    assert main(["models", "path", "tiny"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path.read_bytes() == DATA

    assert main(["models", "verify", "tiny", "--no-progress"]) == 0
    assert capsys.readouterr().out.startswith("ok        tiny")
    with path.open("r+b") as handle:  # one flipped bit on disk
        handle.write(bytes([DATA[0] ^ 1]))
    assert main(["models", "verify", "--no-progress"]) == 1
    assert "MISMATCH  tiny" in capsys.readouterr().out

    assert main(["models", "rm", "tiny"]) == 0
    assert "removed tiny" in capsys.readouterr().out and not path.exists()
    assert main(["models", "rm", "tiny"]) == 0
    assert "not installed" in capsys.readouterr().out


def test_import_registers_a_file_in_place(
    demo_path: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["models", "import", str(demo_path), "--name", "my-gemma", "--family", "flow-judge"]
    assert main([*args, "--no-progress"]) == 0
    assert "imported my-gemma" in capsys.readouterr().out
    entry = load_catalog()["my-gemma"]
    assert (entry.source, entry.quant, entry.context_length) == ("path", "Q4_K_M", 8192)
    assert resolve("my-gemma").path == demo_path
    assert main(["models", "verify", "my-gemma", "--no-progress"]) == 0
    assert main([*args, "--no-progress"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["models", "rm", "my-gemma"]) == 0
    assert demo_path.exists() and "my-gemma" not in load_catalog()

    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model at all, just text")
    assert main(["models", "import", str(junk), "--name", "junk", "--family", "flow-judge"]) == 2
    assert "is not a GGUF file" in capsys.readouterr().err


def test_doctor_reports_the_build(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "llama.cpp:" in out and "backends CPU" in out and "physical cores" in out
    assert "demo" in out  # a catalog model that fits any machine


@pytest.mark.parametrize(
    ("gpu", "offload", "advice"),
    [
        (
            "nvidia",
            False,
            'CMAKE_ARGS="-DGGML_CUDA=on" ' + PIP_REINSTALL,
        ),
        (
            "apple",
            False,
            'CMAKE_ARGS="-DGGML_METAL=on" ' + PIP_REINSTALL,
        ),
        ("nvidia", True, None),
        (None, False, None),
    ],
)
def test_reinstall_advice(gpu: str | None, offload: bool, advice: str | None) -> None:
    assert reinstall_advice(gpu, offload) == advice


def test_judge_says_how_to_get_a_missing_model() -> None:
    from edgejudge import Judge

    register("tiny")
    with pytest.raises(ModelNotFoundError, match="edgejudge models pull tiny"):
        Judge(model="tiny", metric="response-faithfulness-5point")


@pytest.mark.model
def test_judge_pulls_a_real_model_through_the_hub_protocol_when_allowed(
    hub: FakeHub, demo_path: Path
) -> None:
    from edgejudge import Judge
    from tests.support.cases import FAITHFUL

    hub.add("edgejudge-test/gemma", "gemma.gguf", demo_path.read_bytes())
    register("gemma-hub", repo="edgejudge-test/gemma", file="gemma.gguf", context_length=4096)
    with Judge(model="gemma-hub", metric="response-faithfulness-5point", download=True) as judge:
        result = judge.evaluate(FAITHFUL)
    assert 1 <= result.score <= 5
    assert hub.served[-1].sent == demo_path.stat().st_size
