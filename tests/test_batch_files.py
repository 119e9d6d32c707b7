"""A batch's files: rows read line by line, outputs written whole lines at a time and locked
for one run, a full disk, a second run, kill -9, and the CLI's last-resort error line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edgejudge.cli import main
from edgejudge.errors import InputError, OutputBusyError, OutputError
from edgejudge.io.files import JsonlAppender, lock_path, output_lock
from edgejudge.judging import batch
from edgejudge.paths import CACHE_ENV
from tests.support.cases import TEN_FAITHFULNESS
from tests.support.cli import run_cli

METRIC = "response-faithfulness-5point"


def write_rows(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, object]]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n"), "the output ends mid-line"
    return [json.loads(line) for line in text.splitlines()]


# -- reading rows -------------------------------------------------------------------------


def test_rows_survive_a_bom_crlf_and_blank_lines(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'\xef\xbb\xbf{"id": "a", "query": "q"}\r\n\r\n{"query": "caf\xc3\xa9"}\r\n')
    rows = batch.read_rows(source)
    assert [(r.line, r.id, r.problem) for r in rows] == [(1, "a", None), (3, 3, None)]
    assert rows[1].data == {"query": "café"}


@pytest.mark.parametrize(
    ("id_json", "kind"),
    [
        ("{}", "an object"),
        ("[1]", "an array"),
        ("1.5", "a number with a fraction"),
        ("true", "true or false"),
        ("null", "null"),
    ],  # fmt: skip
)
def test_an_id_that_is_not_a_string_or_integer_is_a_problem_row(
    tmp_path: Path, id_json: str, kind: str
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(f'{{"id": "x"}}\n{{"id": {id_json}, "query": "q"}}\n', encoding="utf-8")
    [good, bad] = batch.read_rows(source)
    assert good.problem is None and bad.id == 2  # keyed by its line, as other broken lines
    assert bad.problem == f"line 2: the id must be a string or an integer, not {kind}"


def test_a_broken_line_whose_number_is_another_rows_id_is_a_duplicate(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"id": 2}\n\xff\n')
    with pytest.raises(InputError, match="id 2 appears on line 1 and line 2"):
        batch.read_rows(source)


# -- writing and locking the output -------------------------------------------------------


def test_an_output_without_a_final_newline_gets_one_before_rows_are_appended(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": 1, "score": 3}')  # written by hand, or by another tool
    with batch.BatchOutput(out) as output:
        assert output.done == {("1", None)}
        output.append({"id": 2, "score": 4})
    assert read_jsonl(out) == [{"id": 1, "score": 3}, {"id": 2, "score": 4}]


FULL_DISK = """
import resource, signal, sys
from pathlib import Path
from edgejudge.errors import OutputError
from edgejudge.io.files import JsonlAppender
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a refused write is then an error, EFBIG
sink = JsonlAppender(Path(sys.argv[1]))
sink.append({"id": 1, "score": 2})
resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))  # room left for part of the next
try:
    sink.append({"id": 2, "feedback": "y" * 500})
except OutputError as exc:
    print(f"{exc} | exit {exc.exit_code} | lines {sink.lines}")
"""


def test_a_write_the_disk_refuses_part_way_is_one_output_error_and_taken_back(
    tmp_path: Path,
) -> None:
    # The disk fills in the middle of a line (a file size limit stands in for the full disk):
    # the part written is cut back off, and the error says why in one line.
    out = tmp_path / "out.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(out)], capture_output=True, text=True, timeout=60
    )
    assert done.stdout == f"cannot write {out}: File too large | exit 1 | lines 1\n", done.stderr
    assert out.read_text() == '{"id": 1, "score": 2}\n'


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_a_device_is_never_opened_as_an_output() -> None:
    with pytest.raises(OutputError) as caught:
        JsonlAppender(Path("/dev/full"))
    assert str(caught.value) == (
        "/dev/full is a character device: edgejudge writes to regular files only"
    )
    assert caught.value.exit_code == 2


def test_the_output_lock_refuses_a_second_holder_naming_the_first(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    lock_path(out).write_text("999999\n")  # left by an earlier run, long gone
    with output_lock(out):
        assert lock_path(out).read_text().strip() == str(os.getpid())
        with pytest.raises(OutputBusyError) as caught, batch.BatchOutput(out):
            pass
        assert caught.value.pid == os.getpid()
        assert f"in use by another edgejudge run (pid {os.getpid()})" in str(caught.value)
    with batch.BatchOutput(out) as output:  # free again once the first holder is done
        assert output.pending([]) == []


def test_an_output_in_a_folder_that_cannot_exist_is_bad_usage(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError) as caught, batch.BatchOutput(tmp_path / "file" / "out.jsonl"):
        pass
    assert caught.value.exit_code == 2


# -- the last resort ----------------------------------------------------------------------


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import edgejudge.cli.metrics

    def broken(_: object) -> int:
        raise RuntimeError("something nobody planned for")

    monkeypatch.setattr(edgejudge.cli.metrics, "_cmd_list", broken)
    assert main(["metrics", "list"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "edgejudge: internal error: RuntimeError: something nobody planned for; "
        "rerun with --debug for the traceback\n"
    )
    for argv, env in ((["--debug", "metrics", "list"], "0"), (["metrics", "list"], "1")):
        monkeypatch.setenv("EDGEJUDGE_DEBUG", env)
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith("Traceback (most recent call last):") and "broken" in err
        assert err.endswith("rerun with --debug for the traceback\n")


def test_a_usage_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["grammar", "-m", METRIC, "--max-tokens", "many"])
    assert info.value.code == 2
    assert capsys.readouterr().err == (
        "edgejudge grammar: error: argument --max-tokens: 'many' is not a whole number "
        "(see `edgejudge grammar --help`)\n"
    )


# -- real processes, real model -----------------------------------------------------------


def batch_args(source: Path, out: Path, *extra: str) -> list[str]:
    return ["batch", str(source), "-o", str(out), "--model", "demo", "-m", METRIC, *extra]


def wait_for(condition: Callable[[], bool], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.model
def test_a_second_run_on_the_same_output_refuses_at_once(tmp_path: Path, demo_cache: Path) -> None:
    rows = [dict(row, id=f"r{n}") for n, row in enumerate(TEN_FAITHFULNESS[:6])]
    source, out = write_rows(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl"
    args = batch_args(source, out, "--max-tokens", "24", "--slots", "1")
    env = dict(os.environ, **{CACHE_ENV: str(demo_cache)})
    first = subprocess.Popen(
        [sys.executable, "-m", "edgejudge", *args], env=env, stderr=subprocess.PIPE, text=True
    )
    lock = lock_path(out)
    wait_for(lambda: lock.exists() and lock.read_text().strip() == str(first.pid))
    second = run_cli(args, demo_cache)
    still_running = first.poll() is None
    _, first_err = first.communicate(timeout=600)
    assert still_running, "the first run ended before the second started: nothing was proved"
    assert second.returncode == 1
    assert second.stderr == (
        f"edgejudge: error: {out} is in use by another edgejudge run (pid {first.pid}); "
        "wait for it to finish or write to another file\n"
    )
    assert first.returncode == 0, first_err
    assert sorted(r["id"] for r in read_jsonl(out)) == sorted(r["id"] for r in rows)


@pytest.mark.model
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_a_killed_batch_leaves_the_lock_free_and_a_rerun_finishes_each_row_once(
    tmp_path: Path, demo_cache: Path, stop: signal.Signals
) -> None:
    rows = [dict(row, id=n) for n, row in enumerate(TEN_FAITHFULNESS[:6])]
    source, out = write_rows(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl"
    args = batch_args(source, out, "--max-tokens", "24", "--slots", "1")
    env = dict(os.environ, **{CACHE_ENV: str(demo_cache)})
    process = subprocess.Popen(
        [sys.executable, "-m", "edgejudge", *args], env=env, stderr=subprocess.DEVNULL
    )
    wait_for(lambda: out.exists() and out.read_text().count("\n") >= 2)
    process.send_signal(stop)
    process.wait(timeout=60)
    kept = [json.loads(line) for line in out.read_text().splitlines(keepends=True)
            if line.endswith("\n")]  # fmt: skip
    rerun = run_cli(args, demo_cache)
    assert rerun.returncode == 0, rerun.stderr
    final = read_jsonl(out)
    assert sorted(r["id"] for r in final) == list(range(6))  # each row once
    assert final[: len(kept)] == kept  # what the killed run finished is untouched


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[tuple[Path, bool]]:
    """A folder on a 64 KiB tmpfs (needs root, as CI has), with all but 8 KiB of it taken.

    Without root it is a plain folder and the batch runs under a file-size limit instead,
    which fails the same writes with EFBIG rather than ENOSPC.
    """
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True
        ).returncode
        == 0
    )
    if mounted:
        (disk / "filler").write_bytes(bytes(64 * 1024 - 8 * 1024))  # the lock's pid + 4 KiB
    yield disk, mounted
    if mounted:
        subprocess.run(["umount", str(disk)], check=True)


def _file_size_limit() -> None:  # pragma: no cover - runs in the child
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


@pytest.mark.model
def test_a_full_disk_stops_the_batch_in_one_line_and_a_rerun_resumes(
    tmp_path: Path, demo_cache: Path, small_disk: tuple[Path, bool]
) -> None:
    disk, mounted = small_disk
    rows = [dict(row, id=f"row-{n}") for n, row in enumerate(TEN_FAITHFULNESS)]
    source, out = write_rows(tmp_path / "in.jsonl", rows), disk / "out.jsonl"
    args = batch_args(source, out, "--max-tokens", "48")
    full = run_cli(args, demo_cache, preexec_fn=None if mounted else _file_size_limit)
    cause = "No space left on device" if mounted else "File too large"
    assert full.returncode == 1, full.stderr
    assert full.stderr.count("\n") == 1 and "Traceback" not in full.stderr
    assert full.stderr.startswith(f"edgejudge: error: cannot write {out}: {cause}; ")
    assert "run the same command to resume" in full.stderr
    kept = read_jsonl(out)  # whole lines only: a half-written row was cut back off
    assert 1 <= len(kept) < len(rows)
    if mounted:
        (disk / "filler").unlink()
    resumed = run_cli(args, demo_cache)
    assert resumed.returncode == 0, resumed.stderr
    final = read_jsonl(out)
    assert sorted(r["id"] for r in final) == sorted(r["id"] for r in rows)
    assert final[: len(kept)] == kept
