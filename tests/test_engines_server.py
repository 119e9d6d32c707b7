"""The llama-server profiles against the real llama-server, on SmolLM2-135M-Instruct (a
model with a chat template, which the chat endpoint applies on the server's side): greedy
verdicts and probabilities through the native API and through the OpenAI chat endpoint
equal the in-process ones, and two servers carry one batch between them."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edgejudge import RuntimeOptions
from edgejudge.judging.judge import Judge, JudgeResult
from edgejudge.runtime.llama_server.process import free_port
from edgejudge.runtime.numerics import PARITY_ARGS
from edgejudge.runtime.serving.pool import Pool
from edgejudge.runtime.serving.remote import EngineRuntime, detect
from edgejudge.system.hardware import avoid_weight_repacking
from tests.support.cases import TEN_FAITHFULNESS

pytestmark = [pytest.mark.model, pytest.mark.server]
METRIC = "response-faithfulness-5point"
BUDGET = 32


ROWS = TEN_FAITHFULNESS[:4]


def _start(
    llama_server: Path, model: Path, port: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    port = port or free_port()
    command = _start_command(llama_server, model, port)
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return server, url
        except OSError:
            time.sleep(0.2)
    server.terminate()
    pytest.fail("llama-server did not start")


def _start_command(llama_server: Path, model: Path, port: int) -> list[str]:
    command = [
        str(llama_server),
        "-m",
        str(model),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "-c",
        "8192",
        "-np",
        "2",
        "-t",
        "2",
        *PARITY_ARGS,
    ]
    if avoid_weight_repacking():
        command.append("--no-repack")
    return command


@pytest.fixture(scope="module")
def servers(llama_server: Path, instruct_path: Path) -> Iterator[list[str]]:
    started = [_start(llama_server, instruct_path) for _ in range(2)]
    try:
        yield [url for _, url in started]
    finally:
        for process, _ in started:
            process.terminate()
            process.wait(10)


def _seen(results: list[JudgeResult]) -> list[tuple[Any, ...]]:
    return [(r.score, r.raw, r.probabilities) for r in results]


def test_native_and_chat_endpoints_give_the_in_process_verdicts_and_probabilities(
    servers: list[str], instruct_path: Path
) -> None:
    with Judge(instruct_path, METRIC, max_tokens=BUDGET, runtime=RuntimeOptions(slots=1)) as judge:
        expected = _seen(list(judge.evaluate_many(ROWS)))
    assert detect(servers[0], api_key=None) == "llama-server"
    for engine in ("llama-server", "llama-server-chat"):
        # One request at a time: side-by-side slots may change the floats (see README).
        with Judge(
            None,
            METRIC,
            max_tokens=BUDGET,
            runtime=RuntimeOptions(server_url=servers[0], engine=engine, concurrency=1),
        ) as judge:
            if engine == "llama-server-chat":
                assert isinstance(judge.runtime, EngineRuntime)
                assert judge.runtime.enforces_grammar  # the probe passed
            got = list(judge.evaluate_many(ROWS))
        assert all(r.enforced for r in got)
        assert [(s, raw) for s, raw, _ in _seen(got)] == [(s, raw) for s, raw, _ in expected]
        # Through the chat endpoint, an answer cut by the budget is continued as a prefilled
        # assistant message, which the server tokenizes whole with its template: the
        # decision's probabilities there can differ slightly from the token-exact runtimes.
        close = 1e-6 if engine == "llama-server" else 0.01
        for (_, _, p), (_, _, q) in zip(_seen(got), expected, strict=True):
            assert p is not None and q is not None
            assert p == pytest.approx(q, abs=close), engine


def test_two_servers_share_one_batch_and_agree_with_one(servers: list[str]) -> None:
    with Judge(
        None,
        METRIC,
        max_tokens=BUDGET,
        runtime=RuntimeOptions(server_url=servers[:1], concurrency=1),
    ) as judge:
        one = _seen(list(judge.evaluate_many(ROWS)))
    with Judge(
        None, METRIC, max_tokens=BUDGET, runtime=RuntimeOptions(server_url=servers, concurrency=1)
    ) as judge:
        assert isinstance(judge.runtime, Pool) and judge.slots == 2
        both = list(judge.evaluate_many(ROWS))
    assert [(s, raw) for s, raw, _ in _seen(both)] == [(s, raw) for s, raw, _ in one]


def test_a_server_killed_mid_batch_and_brought_back_finishes_the_batch_with_every_row_once(
    llama_server: Path, instruct_path: Path
) -> None:
    """Someone else's llama-server dies under a batch (kill -9) and its owner starts it again
    on the same port: the rows in flight are judged again once it answers (503 while it
    loads its model, refused before), and every row gets the verdict an unbroken run gives."""
    process, url = _start(llama_server, instruct_path)
    port = int(url.rsplit(":", 1)[1])
    try:
        with Judge(
            None, METRIC, max_tokens=BUDGET, runtime=RuntimeOptions(server_url=url, concurrency=1)
        ) as judge:
            unbroken = _seen(list(judge.evaluate_many(ROWS)))
            got: list[JudgeResult] = []
            for result in judge.evaluate_many(ROWS):
                got.append(result)
                if len(got) == 1:  # the second row is about to be sent: pull the plug
                    process.kill()
                    process.wait(10)
                    time.sleep(1.0)
                    process = subprocess.Popen(
                        _start_command(llama_server, instruct_path, port),
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
        assert _seen(got) == unbroken
    finally:
        process.terminate()
        process.wait(10)
