"""The server runtime against a real llama.cpp server (llama-server built from the same
llama.cpp sources as llama-cpp-python, by `edgejudge server build`) on the demo model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edgejudge import RuntimeOptions
from edgejudge.errors import ServerError
from edgejudge.judging import batch
from edgejudge.judging.judge import Judge, JudgeResult
from edgejudge.paths import SERVER_ENV
from edgejudge.runtime.llama_server.server import ServerRuntime
from edgejudge.system.hardware import avoid_weight_repacking
from tests.support.server_helpers import (
    gone_within,
    llamafile_stand_in,
    pids_with,
    server_pids,
)

pytestmark = [pytest.mark.model, pytest.mark.server]
ROOT = Path(__file__).resolve().parent.parent
FAITHFULNESS = ROOT / "examples" / "faithfulness.jsonl"
METRIC = "response-faithfulness-5point"
BUDGET = 48  # feedback tokens: enough for real verdicts, short enough for a 2-core machine


@pytest.fixture
def server_env(llama_server: Path, use_demo_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`demo` resolves, and edgejudge finds the real llama-server."""
    monkeypatch.setenv(SERVER_ENV, str(llama_server))
    return llama_server


@pytest.fixture(scope="module")
def ten() -> list[dict[str, Any]]:
    lines = FAITHFULNESS.read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()][:10]


def _verdict(result: JudgeResult) -> tuple[int, str, str]:
    return result.score, result.feedback, result.raw


# -- start, judge, stop -------------------------------------------------------------------


def test_start_judge_stop_leaves_no_process(
    server_env: Path, ten: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)  # as a fresh shell has it
    with Judge("demo", METRIC, runtime="server", max_tokens=BUDGET) as judge:
        runtime = judge.runtime
        assert isinstance(runtime, ServerRuntime) and runtime.process is not None
        alias = runtime.process.alias
        assert runtime.url.startswith("http://127.0.0.1:")
        assert len(server_pids(alias)) == 1  # the server, under its watchdog
        # Its OpenMP threads wait without spinning, as in-process (inprocess/openmp.py).
        environ = Path(f"/proc/{server_pids(alias)[0]}/environ").read_bytes().split(b"\0")
        assert b"OMP_WAIT_POLICY=passive" in environ
        result = judge.evaluate(ten[0])
        assert result.model == "demo" and 1 <= result.score <= 5 and result.feedback
        pieces = list(judge.stream(ten[1]))  # streaming: text arrives before the verdict
        assert isinstance(pieces[-1], JudgeResult) and len(pieces) > 2
        assert "".join(p for p in pieces if isinstance(p, str)).strip() == pieces[-1].feedback
    assert not pids_with(alias), "a process outlived Judge.close()"


def test_the_same_ten_inputs_get_the_same_verdicts_in_process_and_through_the_server(
    server_env: Path, ten: list[dict[str, Any]]
) -> None:
    with Judge(
        "demo", METRIC, max_tokens=BUDGET, runtime=RuntimeOptions(runtime="inprocess", slots=1)
    ) as judge:
        local = [_verdict(r) for r in judge.evaluate_many(ten)]  # type: ignore[arg-type]
    with Judge("demo", METRIC, runtime="server", max_tokens=BUDGET) as judge:
        served = [_verdict(r) for r in judge.evaluate_many(ten)]  # type: ignore[arg-type]
    differing = [i for i, (a, b) in enumerate(zip(local, served, strict=True)) if a != b]
    assert not differing, f"rows {differing} differ: {[(local[i], served[i]) for i in differing]}"


def test_four_slots_keep_four_judgments_in_flight(
    server_env: Path, ten: list[dict[str, Any]]
) -> None:
    with Judge(
        "demo",
        METRIC,
        max_tokens=24,
        runtime=RuntimeOptions(runtime="server", slots=4, context_length=2048),
    ) as judge:
        runtime = judge.runtime
        assert runtime.slots == 4 and judge.slots == 4  # type: ignore[attr-defined]
        # llama.cpp splits -c across slots: each must still get the context asked for.
        assert runtime.context_length == 2048
        busy, most = 0, 0
        lock = threading.Lock()
        generate = runtime.generate

        def counting(*args: Any, **kwargs: Any) -> Iterator[Any]:
            nonlocal busy, most
            with lock:
                busy += 1
                most = max(most, busy)
            try:
                yield from generate(*args, **kwargs)
            finally:
                with lock:
                    busy -= 1

        runtime.generate = counting  # type: ignore[method-assign]
        results = list(judge.evaluate_many(ten))
    assert most == 4
    assert len(results) == 10 and all(isinstance(r, JudgeResult) for r in results)
    assert all(1 <= r.score <= 5 for r in results)  # type: ignore[union-attr]


# -- a server that dies mid-batch ---------------------------------------------------------


def _kill_server_after(judge: Judge, rows_written: int, out: Path, kills: int) -> threading.Thread:
    """SIGKILL the llama-server `kills` times, each once `rows_written` more rows are out."""
    process = judge.runtime.process  # type: ignore[attr-defined]

    def killer() -> None:
        done = 0
        for _ in range(kills):
            target = done + rows_written
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                lines = out.read_text().splitlines() if out.exists() else []
                if len(lines) >= target and server_pids(process.alias):
                    break
                time.sleep(0.05)
            for pid in server_pids(process.alias):
                os.kill(pid, signal.SIGKILL)
            done = target
            time.sleep(1.0)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    return thread


def test_a_server_killed_mid_batch_is_restarted_and_the_rows_in_flight_retried(
    server_env: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    rows = batch.read_rows(FAITHFULNESS)[:10]
    with Judge(
        "demo", METRIC, max_tokens=24, runtime=RuntimeOptions(runtime="server", slots=2)
    ) as judge:
        first_port = judge.runtime.url  # type: ignore[attr-defined]
        killer = _kill_server_after(judge, 2, out, kills=1)
        with batch.BatchOutput(out) as output:
            written = list(batch.run_batch(judge, output.pending(rows), output))
        killer.join()
        assert judge.runtime.url != first_port  # type: ignore[attr-defined]  # a new server
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert written == records
    assert sorted(r["id"] for r in records) == list(range(1, 11))  # each row once, none lost
    assert not [r for r in records if "error" in r], "a retried row still failed"


def test_a_server_that_dies_again_stops_the_batch_keeping_every_finished_row(
    server_env: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    rows = batch.read_rows(FAITHFULNESS)[:10]
    with Judge(
        "demo", METRIC, max_tokens=24, runtime=RuntimeOptions(runtime="server", slots=2)
    ) as judge:
        killer = _kill_server_after(judge, 2, out, kills=2)
        with (
            pytest.raises(ServerError, match="failed again after a restart"),
            batch.BatchOutput(out) as output,
        ):
            for _ in batch.run_batch(judge, output.pending(rows), output):
                pass
        killer.join()
    records = [json.loads(line) for line in out.read_text().splitlines()]
    errors = [r for r in records if "error" in r]
    assert errors and all(r["error_type"] == "ServerGoneError" for r in errors)
    assert len({r["id"] for r in records}) == len(records) < 10  # the rest left for a rerun
    # A rerun that retries the error rows finishes the file.
    with (
        batch.BatchOutput(out, retry_errors=True) as output,
        Judge("demo", METRIC, runtime="server", max_tokens=24) as judge,
    ):
        list(batch.run_batch(judge, output.pending(rows), output))
    final = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["id"] for r in final) == list(range(1, 11))
    assert not [r for r in final if "error" in r]
    kept = [r for r in records if "error" not in r]
    assert kept == final[: len(kept)]  # rows finished before the crash are untouched


# -- starting: failures, ports, orphans ---------------------------------------------------


def test_a_port_already_taken_is_not_mistaken_for_our_server(
    server_env: Path, demo_path: Path
) -> None:
    # Another llama.cpp server (not ours: another alias) already answers on the port.
    with Judge("demo", METRIC, runtime="server", max_tokens=8) as other:
        port = int(other.runtime.url.rsplit(":", 1)[1])  # type: ignore[attr-defined]
        with pytest.raises(ServerError, match=f"port {port} .* already") as caught:
            ServerRuntime.launch(demo_path, port=port, context_length=1024)
        assert "edgejudge-" in str(caught.value) or "in use" in str(caught.value)
        assert other.evaluate  # the other server is untouched and still serves
        assert other.runtime.process.running  # type: ignore[attr-defined]
    assert not pids_with("--port " + str(port))


def test_no_server_outlives_a_killed_python_process(server_env: Path, demo_path: Path) -> None:
    code = (
        "import sys\n"
        "from edgejudge.runtime.llama_server.server import ServerRuntime\n"
        f"rt = ServerRuntime.launch({str(demo_path)!r}, context_length=1024)\n"
        "print(rt.process.alias, flush=True)\n"
        "sys.stdin.read()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    alias = child.stdout.readline().strip()
    assert alias.startswith("edgejudge-") and server_pids(alias)
    child.kill()  # SIGKILL: no handler, no atexit, no finally runs
    child.wait()
    assert gone_within(alias, 15), f"orphaned: {pids_with(alias)}"


# -- llamafiles ---------------------------------------------------------------------------


def test_a_llamafile_from_the_catalog_runs_as_a_server_with_llamafile_flags(
    server_env: Path, demo_path: Path, tmp_path: Path
) -> None:
    log = tmp_path / "argv.txt"
    stand_in = llamafile_stand_in(tmp_path / "demo.llamafile", server_env, demo_path, log)
    config = Path(os.environ["EDGEJUDGE_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "models.toml").write_text(
        '[models.tiny-llamafile]\nkind = "llamafile"\nfamily = "flow-judge"\nsource = "path"\n'
        f'path = "{stand_in}"\ncontext_length = 2048\n'
    )
    with Judge(
        "tiny-llamafile", METRIC, max_tokens=16, runtime=RuntimeOptions(n_threads=1)
    ) as judge:  # no runtime=
        assert isinstance(judge.runtime, ServerRuntime)
        result = judge.evaluate({"query": "q", "context": "c", "response": "r"})
        assert 1 <= result.score <= 5 and result.model == "tiny-llamafile"
        port = judge.runtime.url.rsplit(":", 1)[1]
        alias = judge.runtime.process.alias  # type: ignore[union-attr]
    assert stand_in.stat().st_mode & 0o111  # made executable
    argv = log.read_text().split("\n")
    assert argv[:2] == ["--server", "--nobrowser"]
    flags = dict(zip(argv[2::2], argv[3::2], strict=False))
    assert flags["--host"] == "127.0.0.1" and flags["--port"] == port
    assert flags["-c"] == "2048" and flags["-np"] == "1" and flags["-t"] == "1"
    assert flags["-ngl"] == "999" and flags["-a"] == alias
    assert not pids_with(alias)


# -- a server someone else runs -----------------------------------------------------------


@pytest.fixture
def shared_server(server_env: Path, demo_path: Path) -> Iterator[str]:
    """A llama-server started by hand with an API key, as a colleague's machine would run it."""
    from edgejudge.runtime.llama_server.process import free_port

    port = free_port()
    command = [str(server_env), "-m", str(demo_path), "--host", "127.0.0.1", "--port", str(port),
               "-c", "4096", "-np", "2", "-t", "2", "--api-key", "s3cret"]  # fmt: skip
    if avoid_weight_repacking():  # what its owner must do on a CPU with AMX (see README)
        command.append("--no-repack")
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:  # /health needs no key
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(10)


def test_a_server_at_a_url_judges_with_a_bearer_key(
    shared_server: str, ten: list[dict[str, Any]]
) -> None:
    with Judge(
        None,
        METRIC,
        max_tokens=16,
        runtime=RuntimeOptions(server_url=shared_server, api_key="s3cret"),
    ) as judge:
        assert judge.slots == 2 and judge.runtime.context_length == 2048
        assert judge.runtime.model_name == "gemma-3-270m-q4_k_m.gguf"
        assert 1 <= judge.evaluate(ten[0]).score <= 5
    assert "127.0.0.1" in shared_server  # closing the judge did not stop someone else's server
    with pytest.raises(ServerError, match="refused the API key"):
        Judge(None, METRIC, runtime=RuntimeOptions(server_url=shared_server, api_key="wrong"))
    with pytest.raises(ServerError, match="serves 'gemma-3-270m-q4_k_m.gguf', not"):
        Judge(
            "flow-judge-v0.1",
            METRIC,
            runtime=RuntimeOptions(server_url=shared_server, api_key="s3cret"),
        )


# -- the TUI ------------------------------------------------------------------------------


def test_the_tui_judges_through_a_server_and_leaves_none_behind(server_env: Path) -> None:
    from textual.widgets import Select

    from edgejudge.tui.settings import TuiSettings
    from tests.support.tui import CASE, drive, fields, settle, type_into

    seen: dict[str, Any] = {}

    async def scenario(app: Any, pilot: Any) -> None:
        app.query_one("#model", Select).value = "demo"
        app.query_one("#metric", Select).value = METRIC
        app.query_one("#runtime", Select).value = "server:2"
        await pilot.pause()
        for name, text in CASE.items():
            await type_into(pilot, fields(app)[name], text)
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        judge = app.session._judge
        seen["runtime"] = judge.runtime if judge else None
        seen["result"] = app.judge_pane.last_result
        seen["feedback"] = str(app.query_one("#feedback").render())

    drive(scenario)
    runtime = seen["runtime"]
    assert isinstance(runtime, ServerRuntime) and runtime.slots == 2
    result = seen["result"]
    assert result is not None and result.model == "demo" and 1 <= result.score <= 5
    assert seen["feedback"] == result.feedback
    assert not pids_with(runtime.process.alias)  # ctrl+q stopped the server
    assert TuiSettings.load().runtime == "server:2"  # remembered for the next run
