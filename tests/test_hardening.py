"""Hostile and careless use that the bad-input corpus (tests/data/bad) cannot express: links
out of the models folder, special files made in the test's own folder, an HTTP server that
never stops sending, a Ctrl-C during the first imports, broken copies of the real demo model.

Nothing here touches a real `/dev` entry for writing: the devices are made in tmp_path
(where this process may make them), and the other special files are pipes and sockets.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from edgejudge.errors import CatalogError, OutputError, ServerError
from edgejudge.io.files import MAX_LINE_BYTES, MAX_TEXT_BYTES, output_target
from edgejudge.judging import batch
from edgejudge.models.catalog import load_catalog, parse_catalog
from edgejudge.models.store import model_folder, remove, store_path
from edgejudge.paths import CACHE_ENV, CONFIG_ENV
from edgejudge.runtime.serving.http import MAX_ANSWER_BYTES, Http
from tests.support.broken_models import with_layers, with_nan_weights, with_repeated_token

METRIC = "response-faithfulness-5point"
CASE = {"query": "q", "context": "c", "response": "r"}


def environment(cwd: Path, cache: Path, **env: str) -> dict[str, str]:
    """This process's environment for an edgejudge run in `cwd`: its own cache and config
    (`cwd/config`), offline, no tracebacks asked for."""
    found = {k: v for k, v in os.environ.items() if k != "EDGEJUDGE_DEBUG"}
    found.update(
        {CACHE_ENV: str(cache), CONFIG_ENV: str(cwd / "config"), "HF_HUB_OFFLINE": "1"}, **env
    )
    return found


def edgejudge(
    args: list[str], cwd: Path, cache: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """`python -m edgejudge ARGS` in `cwd`, with its own cache and config, offline."""
    return subprocess.run(
        [sys.executable, "-m", "edgejudge", *args],
        cwd=cwd,
        env=environment(cwd, cache, **env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def waiting_prompt(tmp_path: Path) -> subprocess.Popen[str]:
    """`edgejudge prompt -i -` started and left waiting for its input on standard input."""
    return subprocess.Popen(
        [sys.executable, "-m", "edgejudge", "prompt", "-m", METRIC, "-i", "-"],
        cwd=tmp_path,
        env=environment(tmp_path, tmp_path / "cache"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed command printed on stderr (asserted to be one)."""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    return done.stderr.strip()


# -- the models folder ----------------------------------------------------------------------

ENTRY = """
[models.mine]
kind = "gguf"
family = "flow-judge"
source = "huggingface"
repo = "me/mine"
file = "sub/mine.gguf"
"""


def test_a_link_out_of_the_models_folder_is_refused_before_anything_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, outside = tmp_path / "cache", tmp_path / "outside"
    monkeypatch.setenv(CACHE_ENV, str(cache))
    outside.mkdir()
    (outside / "mine.gguf").write_text("not ours")
    (cache / "models").mkdir(parents=True)
    (cache / "models" / "mine").symlink_to(outside)  # someone's link, or an attacker's
    entry = parse_catalog(ENTRY, source="test")["mine"]
    with pytest.raises(CatalogError, match="would be outside edgejudge's folder"):
        remove(entry)
    assert (outside / "mine.gguf").read_text() == "not ours"


def test_rm_deletes_only_what_edgejudge_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    entry = parse_catalog(ENTRY, source="test")["mine"]
    target = store_path(entry)
    assert target.name == "mine.gguf" and target.parent == model_folder(entry)  # not sub/
    target.parent.mkdir(parents=True)
    for name in ("mine.gguf", "mine.gguf.verified", "mine.gguf.part", "manifest.json"):
        (target.parent / name).write_text(name)
    (target.parent / ".tmp").mkdir()
    (target.parent / ".tmp" / "x.whl").write_text("a wheel")
    (target.parent / "notes.txt").write_text("the user's own")
    removed = remove(entry)
    assert sorted(p.name for p in removed) == sorted(
        ["mine.gguf", "mine.gguf.verified", "mine.gguf.part", "manifest.json", ".tmp"]
    )
    assert [p.name for p in target.parent.iterdir()] == ["notes.txt"]
    (target.parent / "notes.txt").unlink()
    (target.parent / "mine.gguf").write_text("again")
    remove(entry)
    assert not target.parent.exists()  # nothing else in it: the folder goes too


@pytest.mark.parametrize(
    "name", ["..", ".hidden", "a/b", "a\\b", "/abs", "C:x", "", "x" * 129, "trailing."]
)
def test_model_names_that_could_be_paths_are_refused(name: str) -> None:
    text = ENTRY.replace("[models.mine]", f"[models.{json.dumps(name)}]")
    with pytest.raises(CatalogError, match="is not a usable model name"):
        parse_catalog(text, source="test")


@pytest.mark.parametrize("file", ["../x.gguf", "/x.gguf", "a/../../x.gguf", "a\\x.gguf", "a//b"])
def test_files_that_could_climb_out_are_refused(file: str) -> None:
    text = ENTRY.replace('"sub/mine.gguf"', json.dumps(file))
    with pytest.raises(CatalogError, match="is not a file path inside the repository"):
        parse_catalog(text, source="test")


def test_the_builtin_catalog_passes_its_own_checks() -> None:
    assert {"demo", "demo-instruct", "flow-judge-v0.1"} <= set(load_catalog())


# -- outputs and inputs ---------------------------------------------------------------------


def make_device(path: Path) -> bool:
    """A character device (the null device's numbers) at `path`, made in the test's own
    folder; False where this process may not make devices."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except (OSError, AttributeError):
        return False
    return True


def test_an_output_linked_to_a_device_is_refused_and_the_device_stays(tmp_path: Path) -> None:
    device = tmp_path / "null"
    if not make_device(device):
        os.mkfifo(device)  # no device may be made here: a pipe is the special file then
    link = tmp_path / "out.jsonl"
    link.symlink_to(device)
    kind = stat.S_IFMT(device.lstat().st_mode)
    with pytest.raises(OutputError, match="writes its outputs to regular files only") as caught:
        with batch.BatchOutput(link):
            pass
    assert caught.value.exit_code == 2
    html = tmp_path / "report.html"
    html.symlink_to(device)
    from edgejudge.io.atomic import write_text_atomic

    with pytest.raises(OutputError, match="regular files only"):
        write_text_atomic(html, "<html>")
    assert stat.S_IFMT(device.lstat().st_mode) == kind  # never replaced by a regular file
    assert link.is_symlink() and html.is_symlink()


def test_an_output_through_a_link_writes_the_target_and_keeps_the_link(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "today.jsonl"
    target.write_text('{"id": 1, "score": 3}\n{"id": 2, "sco')  # a torn last line
    link = tmp_path / "latest.jsonl"
    link.symlink_to(Path("runs") / "today.jsonl")
    with batch.BatchOutput(link) as output:
        assert output.done == {("1", None)}
        output.append({"id": 2, "score": 4})
    assert link.is_symlink()
    assert target.read_text() == '{"id": 1, "score": 3}\n{"id": 2, "score": 4}\n'
    assert (tmp_path / "runs" / "today.jsonl.lock").exists()  # the lock is the target's


def test_an_output_that_is_an_input_under_another_name_is_refused(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"id": 1, "query": "q"}\n')
    hard = tmp_path / "hard.jsonl"
    os.link(rows, hard)
    with pytest.raises(OutputError, match="is also the input"):
        output_target(hard, [rows])
    assert rows.read_text() == '{"id": 1, "query": "q"}\n'


def test_an_input_larger_than_the_bound_is_one_line(tmp_path: Path) -> None:
    big = tmp_path / "case.json"
    big.write_text(json.dumps({**CASE, "context": "x" * (MAX_TEXT_BYTES + 1)}))
    done = edgejudge(["prompt", "-m", METRIC, "-i", str(big)], tmp_path, tmp_path / "cache")
    assert done.returncode == 2
    assert f"{big} is larger than 8 MB, the most edgejudge reads as one input" in one_line(done)


def test_a_batch_line_longer_than_the_bound_is_an_error_row_and_the_rest_are_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "in.jsonl"
    long = json.dumps({"id": "long", **CASE, "context": "x" * MAX_LINE_BYTES})
    path.write_text(json.dumps({"id": "a", **CASE}) + "\n" + long + "\n" + '{"id": "b"}\n')
    rows = batch.read_rows(path)
    assert [row.id for row in rows] == ["a", 2, "b"]
    assert rows[1].problem == "line 2 is longer than 8 MB"


def test_input_from_a_pipe_still_works(tmp_path: Path) -> None:
    pipe = tmp_path / "case.pipe"
    os.mkfifo(pipe)

    def write() -> None:
        with pipe.open("w") as handle:
            handle.write(json.dumps(CASE))

    writer = threading.Thread(target=write)
    writer.start()
    done = edgejudge(["prompt", "-m", METRIC, "-i", str(pipe)], tmp_path, tmp_path / "cache")
    writer.join(timeout=30)
    assert done.returncode == 0, done.stderr
    assert "<context>\nc\n</context>" in done.stdout


# -- an HTTP server that never stops ----------------------------------------------------------


@pytest.fixture
def endless_server() -> Iterator[str]:
    """A server on loopback that answers every request with a body that does not end (it
    gives up by itself after 64 MiB, or when the client hangs up)."""

    class Endless(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            chunk = b'{"data": "' + b"x" * 65536
            try:
                for _ in range(1024):
                    self.wfile.write(chunk)
            except OSError:
                pass

        do_POST = do_GET  # noqa: N815

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Endless)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_endless_answer_is_cut_at_the_bound(endless_server: str) -> None:
    with pytest.raises(ServerError, match=f"sent more than {MAX_ANSWER_BYTES // 2**20} MiB"):
        Http(endless_server, api_key=None, patience=0).call("GET", "/props", timeout=10)


def test_an_endless_server_is_one_line_at_the_cli(tmp_path: Path, endless_server: str) -> None:
    (tmp_path / "case.json").write_text(json.dumps(CASE))
    started = time.monotonic()
    done = edgejudge(
        ["judge", "--server-url", endless_server, "-m", METRIC, "-i", "case.json"],
        tmp_path,
        tmp_path / "cache",
    )
    assert done.returncode == 1
    line = one_line(done)
    assert endless_server in line and "sent more than 8 MiB in one answer" in line
    assert time.monotonic() - started < 60


# -- signals --------------------------------------------------------------------------------


@pytest.mark.parametrize("delay", [0.1, 0.2, 0.35, 0.5, 1.0])
def test_ctrl_c_however_early_is_one_line_and_130(tmp_path: Path, delay: float) -> None:
    # The command waits for its input on standard input, so every delay finds it running:
    # the first ones while it still imports, the later ones in the run.
    process = waiting_prompt(tmp_path)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert (process.returncode, err, out) == (130, "edgejudge: interrupted\n", "")


def test_sigterm_stops_a_run_as_ctrl_c_does_with_143(tmp_path: Path) -> None:
    # The same way out as Ctrl-C (its clean-up, its one line), and the exit of a SIGTERM.
    process = waiting_prompt(tmp_path)
    time.sleep(2.0)  # imported and waiting for standard input
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert (process.returncode, err) == (143, "edgejudge: interrupted\n")


# -- broken copies of the real demo model ------------------------------------------------------


@pytest.mark.model
def test_a_layer_count_no_file_could_hold_is_refused_before_llama_cpp(
    tmp_path: Path, demo_path: Path
) -> None:
    broken = with_layers(demo_path, tmp_path / "layers.gguf", 0x7FFF0012)
    (tmp_path / "case.json").write_text(json.dumps(CASE))
    done = edgejudge(
        ["judge", "--model", str(broken), "-m", METRIC, "-i", "case.json"],
        tmp_path,
        tmp_path / "cache",
    )
    assert done.returncode == 2
    assert one_line(done) == (
        f"edgejudge: error: {broken} is corrupt: its header says 2,147,418,130 layers "
        "(gemma3.block_count) but it holds tensors for 18; download it again"
    )


@pytest.mark.model
def test_a_flipped_length_in_a_whole_file_is_a_corrupt_header_not_a_cut_one(
    tmp_path: Path, demo_path: Path
) -> None:
    import shutil

    broken = tmp_path / "flipped.gguf"
    shutil.copyfile(demo_path, broken)
    with broken.open("r+b") as handle:  # the first key's length: 8 bytes after the counts
        handle.seek(24 + 7)
        handle.write(b"\x10")
    (tmp_path / "case.json").write_text(json.dumps(CASE))
    done = edgejudge(
        ["judge", "--model", str(broken), "-m", METRIC, "-i", "case.json"],
        tmp_path,
        tmp_path / "cache",
    )
    assert done.returncode == 2
    assert "its GGUF header is corrupt (a string length of" in one_line(done)
    assert "truncated" not in done.stderr


@pytest.mark.model
def test_nan_weights_are_a_broken_model_in_one_line(tmp_path: Path, demo_path: Path) -> None:
    broken = with_nan_weights(demo_path, tmp_path / "nan.gguf")
    (tmp_path / "case.json").write_text(json.dumps(CASE))
    done = edgejudge(
        ["judge", "--model", str(broken), "-m", METRIC, "-i", "case.json", "--max-tokens", "8"],
        tmp_path,
        tmp_path / "cache",
    )
    assert done.returncode == 1
    assert one_line(done) == (
        f"edgejudge: error: cannot load {broken}: the model computes NaN (not a number) for "
        "its next-token scores: its weights are broken; download it again"
    )


def test_a_socket_is_not_an_input(tmp_path: Path) -> None:
    path = tmp_path / "case.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    try:
        done = edgejudge(["prompt", "-m", METRIC, "-i", str(path)], tmp_path, tmp_path / "c")
    finally:
        listener.close()
    assert done.returncode == 2
    assert f"{path} is a socket, not a file: give a regular file" in one_line(done)


@pytest.mark.model
@pytest.mark.server
def test_nan_weights_through_a_server_are_a_broken_model_not_a_grammar_problem(
    tmp_path: Path, demo_path: Path, llama_server: Path
) -> None:
    broken = with_nan_weights(demo_path, tmp_path / "nan.gguf")
    (tmp_path / "case.json").write_text(json.dumps(CASE))
    done = edgejudge(
        ["judge", "--model", str(broken), "--runtime", "server", "-m", METRIC, "-i", "case.json"],
        tmp_path,
        tmp_path / "cache",
        EDGEJUDGE_LLAMA_SERVER=str(llama_server),
    )
    assert done.returncode == 1
    line = one_line(done)
    assert line.startswith("edgejudge: error: the model the server at http://127.0.0.1:")
    assert line.endswith(
        "runs computes NaN (not a number) for its next-token scores: its weights are broken; "
        "download it again"
    )


def test_a_broken_model_stops_a_batch_instead_of_failing_every_row(tmp_path: Path) -> None:
    # A model that computes NaN for some prompt: the batch stops there (no row could be
    # judged right), the rows before it stay written, the rest are left for a rerun.
    from edgejudge.errors import BrokenModelError
    from edgejudge.judging.judge import Judge
    from tests.support.fake_runtime import FakeRuntime

    def answer(prompt: str, grammar: str | None) -> str:
        if "poison" in prompt:
            raise BrokenModelError("the model computes NaN (not a number)")
        return "<feedback>fine</feedback>\n<score>4</score>"

    rows = tmp_path / "in.jsonl"
    texts = ["one", "poison", "three", "four"]
    rows.write_text("".join(json.dumps({"id": t, **CASE, "response": t}) + "\n" for t in texts))
    out = tmp_path / "out.jsonl"
    with Judge(None, METRIC, runtime=FakeRuntime(answer)) as judge, batch.BatchOutput(out) as sink:
        with pytest.raises(BrokenModelError, match="NaN"):
            for _ in batch.run_batch(judge, batch.read_rows(rows), sink):
                pass
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["one"]


@pytest.mark.model
def test_a_vocabulary_entry_repeated_is_a_corrupt_header_not_an_abort(
    tmp_path: Path, demo_path: Path
) -> None:
    # llama.cpp asserts its vocabulary has no repeated entry and aborts the process; one
    # flipped bit in a token's text does it (found by flipping bits in the demo's header).
    broken, entry = with_repeated_token(demo_path, tmp_path / "vocab.gguf")
    (tmp_path / "case.json").write_text(json.dumps(CASE))
    done = edgejudge(
        ["judge", "--model", str(broken), "-m", METRIC, "-i", "case.json"],
        tmp_path,
        tmp_path / "cache",
    )
    assert done.returncode == 2
    line = one_line(done)
    assert f"its GGUF header is corrupt (its vocabulary holds {entry!r} twice" in line
