"""The server runtime's failure paths, against stand-in servers and executables (fast,
no model): never healthy, dying while starting, a URL that is not llama.cpp, a server that
ignores grammars; and the pure parts: commands, runtime choice, stream endings."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from edgejudge.errors import ServerError
from edgejudge.runtime.llama_server.process import ServerProcess
from edgejudge.runtime.llama_server.server import ServerRuntime
from tests.support.server_helpers import gone_within, serve_json, write_executable


def test_a_server_that_never_becomes_healthy_times_out_with_its_last_lines(
    tmp_path: Path,
) -> None:
    # Answers 503 "loading" forever, as a server stuck loading a model would.
    stuck = write_executable(
        tmp_path / "stuck.llamafile",
        f"""#!{sys.executable}
import sys, json
from http.server import BaseHTTPRequestHandler, HTTPServer
port = int(sys.argv[sys.argv.index("--port") + 1])
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(503); self.end_headers()
        self.wfile.write(b'{{"error":"Loading model"}}')
    def log_message(self, *a): pass
print("stand-in: loading the model, slowly", flush=True)
HTTPServer(("127.0.0.1", port), H).serve_forever()
""",
    )
    process = ServerProcess(model=stuck, kind="llamafile", context_per_slot=512, startup_timeout=1)
    started = time.monotonic()
    with pytest.raises(ServerError, match="did not become ready within 1 s") as caught:
        process.start()
    assert time.monotonic() - started < 20
    assert "loading the model, slowly" in str(caught.value)
    assert gone_within(process.alias, 10)


def test_a_server_that_dies_while_starting_reports_what_it_printed(tmp_path: Path) -> None:
    dying = write_executable(
        tmp_path / "dying.llamafile",
        "#!/bin/sh\necho 'error: this GPU is on fire'\nexit 3\n",
    )
    process = ServerProcess(model=dying, kind="llamafile", context_per_slot=512)
    with pytest.raises(ServerError, match="exited with status 3 while starting") as caught:
        process.start()
    assert "this GPU is on fire" in str(caught.value)


def test_a_url_that_is_not_a_llama_cpp_server_fails_clearly() -> None:
    server, port = serve_json(lambda path, body: (404, {"detail": "Not Found"}))
    try:
        with pytest.raises(
            ServerError, match="is not a llama.cpp server: GET /health answered 404"
        ):
            ServerRuntime.connect(f"http://127.0.0.1:{port}")
    finally:
        server.shutdown()


def test_a_server_that_ignores_grammars_is_refused() -> None:
    def route(path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        if path == "/health":
            return 200, {"status": "ok"}
        if path == "/props":
            return 200, {"default_generation_settings": {"n_ctx": 4096}, "total_slots": 1}
        if path == "/tokenize":
            return 200, {"tokens": [1] if body and body.get("add_special") else []}
        return 200, {"content": "Sure! Yes, absolutely.", "stop": True}

    server, port = serve_json(route)
    try:
        with pytest.raises(ServerError, match="ignored a GBNF grammar"):
            ServerRuntime.connect(f"http://127.0.0.1:{port}")
    finally:
        server.shutdown()


def test_nothing_listening_at_the_url_fails_clearly() -> None:
    from edgejudge.runtime.llama_server.process import free_port

    with pytest.raises(ServerError, match="cannot reach a server at"):
        ServerRuntime.connect(f"http://127.0.0.1:{free_port()}", wait=0)


# -- pure parts ---------------------------------------------------------------------------


def test_a_llama_server_command_gives_every_slot_the_context_and_binds_loopback(
    tmp_path: Path,
) -> None:
    process = ServerProcess(
        model=tmp_path / "m.gguf", kind="gguf", context_per_slot=3000, slots=4,
        binary=Path("/opt/llama-server"), n_threads=3,
    )  # fmt: skip
    argv = process.command(4321)
    assert argv[:3] == ["/opt/llama-server", "-m", str(tmp_path / "m.gguf")]
    flags = dict(zip(argv[3::2], argv[4::2], strict=False))
    assert flags["--host"] == "127.0.0.1" and flags["--port"] == "4321"
    assert flags["-c"] == "12000" and flags["-np"] == "4"  # llama.cpp splits -c across slots
    assert flags["-t"] == "3" and flags["-ngl"] == "999" and flags["-a"] == process.alias
    assert "--swa-full" in argv and flags["-fa"] == "auto"  # the in-process runtime's numerics


def test_a_llamafile_is_launched_through_sh_with_llamafile_flags(tmp_path: Path) -> None:
    process = ServerProcess(
        model=tmp_path / "judge.llamafile", kind="llamafile", context_per_slot=8192,
        n_gpu_layers=0,
    )  # fmt: skip
    argv = process.command(1234)
    assert argv[:4] == ["sh", "-c", 'exec "$0" "$@"', str(tmp_path / "judge.llamafile")]
    assert argv[4:6] == ["--server", "--nobrowser"]
    assert "-m" not in argv  # the weights are inside
    assert argv[argv.index("-ngl") + 1] == "0" and argv[argv.index("-c", 4) + 1] == "8192"


def test_runtime_choice_follows_the_model_kind_unless_told(tmp_path: Path) -> None:
    from edgejudge.models.resolve import identify
    from edgejudge.runtime.open import choose
    from edgejudge.runtime.options import RuntimeOptions

    gguf = identify(tmp_path / "a.gguf").kind
    llamafile = identify(tmp_path / "a.llamafile").kind
    assert (gguf, llamafile, identify("flow-judge-v0.1-llamafile").kind) == (
        "gguf",
        "llamafile",
        "llamafile",
    )
    assert choose(gguf, RuntimeOptions()) == "inprocess"
    assert choose(llamafile, RuntimeOptions()) == "server"
    assert choose(gguf, RuntimeOptions(runtime="server")) == "server"
    assert choose(None, RuntimeOptions(server_url="http://x:1")) == "server"
    with pytest.raises(ServerError, match="--server-url needs the server runtime"):
        choose(None, RuntimeOptions(server_url="http://x:1", runtime="inprocess"))


def test_the_end_of_a_stream_maps_to_the_in_process_stop_reasons() -> None:
    from edgejudge.runtime.llama_server.server import _finished

    eos = _finished({"stop": True, "stop_type": "eos", "tokens_predicted": 12})
    assert (eos.stop_reason, eos.completion_tokens) == ("eos", 11)  # the EOS is not counted
    limit = _finished({"stop": True, "stop_type": "limit", "tokens_predicted": 16})
    assert (limit.stop_reason, limit.completion_tokens) == ("length", 16)


def test_a_configured_llama_server_that_is_not_executable_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edgejudge.paths import SERVER_ENV
    from edgejudge.runtime.llama_server.process import find_llama_server

    plain = tmp_path / "llama-server"
    plain.write_text("not a program")
    monkeypatch.setenv(SERVER_ENV, str(plain))
    with pytest.raises(ServerError, match=f"{SERVER_ENV} .* is not an executable file"):
        find_llama_server()
    monkeypatch.delenv(SERVER_ENV)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ServerError, match="no llama-server found"):
        find_llama_server()


def test_the_cli_needs_a_model_or_a_server_url(capsys: pytest.CaptureFixture[str]) -> None:
    from edgejudge.cli import main

    case = str(Path(__file__).resolve().parent.parent / "examples" / "faithful.json")
    code = main(["judge", "-m", "response-faithfulness-5point", "-i", case])
    assert code == 2
    assert "name a model with --model" in capsys.readouterr().err


def test_a_url_judge_is_named_after_the_model_asked_for(tmp_path: Path) -> None:
    from edgejudge.judging.runtime_choice import RuntimeOptions, open_runtime
    from edgejudge.models.resolve import identify

    def route(path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        if path == "/health":
            return 200, {"status": "ok"}
        if path == "/props":
            settings = {"n_ctx": 4096}
            return 200, {"default_generation_settings": settings, "model_path": "/m/x.gguf"}
        if path == "/tokenize":
            return 200, {"tokens": []}
        return 200, {"content": "yes", "stop": True}

    server, port = serve_json(route)
    options = RuntimeOptions(server_url=f"http://127.0.0.1:{port}")
    try:
        assert open_runtime(None, options).model_name == "x.gguf"  # type: ignore[attr-defined]
        named = open_runtime(identify(tmp_path / "judge.llamafile", remote=True), options)
        assert named.model_name == "judge.llamafile"  # type: ignore[attr-defined]
    finally:
        server.shutdown()


def test_server_build_reuses_a_working_build_and_needs_cmake(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from edgejudge.cli import main
    from edgejudge.runtime.llama_server.process import built_server_path

    built = built_server_path()  # in this test's own cache directory
    built.parent.mkdir(parents=True)
    write_executable(built, "#!/bin/sh\necho 'version: 1 (stand-in)'\n")
    assert main(["server", "build"]) == 0  # it runs: reused, nothing is built
    assert capsys.readouterr().out == f"{built}\n"
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "cmake" else real_which(name))
    assert main(["server", "build", "--force"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "edgejudge: error: building llama-server needs cmake: pip install cmake "
        "(and a C++ compiler)\n"
    )
