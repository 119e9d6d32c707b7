"""Serving-engine profiles against stand-in engines (tests/support/engine_stand_ins.py): the grammar
in each engine's own field, its answers read in its shape, the probe that refuses an engine
ignoring the grammar, retries through 503s, dropped connections and a restart, and keys.

The stand-ins stand in for vLLM, SGLang, TGI and Ollama, which cannot run here; the
llama-server profiles run against the real llama-server in tests/test_engines_server.py.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

from edgejudge import Judge, RuntimeOptions
from edgejudge.core import formats as F
from edgejudge.core.formats.regex import gbnf_to_regex
from edgejudge.core.presets import PRESETS
from edgejudge.errors import ServerError
from edgejudge.runtime.numerics import DEFAULT_CONTEXT
from edgejudge.runtime.serving import http
from edgejudge.runtime.serving.remote import detect
from tests.support.engine_stand_ins import MODEL, SCORE_CHANCES, StandIn

METRIC = "response-faithfulness-5point"
CASE = {
    "query": "What is the capital of France?",
    "context": "Paris is the capital.",
    "response": "Paris.",
}
ENGINES = ("vllm", "sglang", "tgi", "ollama")


@pytest.fixture
def stand_ins() -> list[StandIn]:
    made: list[StandIn] = []
    yield made
    for stand_in in made:
        stand_in.stop()


def engine(stand_ins: list[StandIn], name: str, **kwargs: object) -> StandIn:
    stand_in = StandIn(name, **kwargs)  # type: ignore[arg-type]
    stand_ins.append(stand_in)
    return stand_in


@pytest.mark.parametrize("name", ENGINES)
def test_each_engine_is_detected_from_what_it_answers(stand_ins: list[StandIn], name: str) -> None:
    assert detect(engine(stand_ins, name).url, api_key=None) == name


@pytest.mark.parametrize("name", ("vllm", "sglang", "tgi"))
def test_a_grammar_engine_gets_the_grammar_in_its_own_field_and_its_verdict_is_enforced(
    stand_ins: list[StandIn], name: str
) -> None:
    server = engine(stand_ins, name)
    with Judge(None, METRIC, runtime=RuntimeOptions(server_url=server.url)) as judge:
        assert judge.runtime.enforces_grammar
        result = judge.evaluate(CASE)
    assert (result.score, result.enforced) == (4, True)
    assert result.model == MODEL
    assert server.verdicts == 1
    # The probe, then the verdict: each carries the grammar only where this engine reads it.
    fields = {"vllm": "structured_outputs", "sglang": "ebnf", "tgi": "parameters"}
    assert all(fields[name] in body for body in server.requests)
    # The engine's own probabilities at the score, renormalised over the rubric.
    assert result.probabilities == pytest.approx(
        {s: SCORE_CHANCES.get(str(s), 0.0) for s in range(1, 6)}
    )


@pytest.mark.parametrize("name", ("vllm", "sglang", "tgi"))
def test_an_engine_that_ignores_the_grammar_field_is_refused_in_one_line(
    stand_ins: list[StandIn], name: str
) -> None:
    server = engine(stand_ins, name, ignore_grammar=True)
    with pytest.raises(ServerError) as caught:
        Judge(None, METRIC, runtime=RuntimeOptions(server_url=server.url))
    text = str(caught.value)
    assert "\n" not in text and "does not apply the grammar" in text
    assert "--allow-unconstrained" in text
    assert len(server.requests) == 1  # the probe, and nothing judged


def test_ollama_has_no_grammar_field_so_it_runs_only_when_allowed_and_says_so(
    stand_ins: list[StandIn],
) -> None:
    server = engine(stand_ins, "ollama")
    with pytest.raises(ServerError, match="Ollama .* has no grammar field"):
        Judge(None, METRIC, runtime=RuntimeOptions(server_url=server.url))
    assert server.requests == []  # no probe is sent: there is no field to probe
    with Judge(
        None, METRIC, runtime=RuntimeOptions(server_url=server.url, allow_unconstrained=True)
    ) as judge:
        result = judge.evaluate(CASE)
    assert (result.score, result.enforced) == (4, False)
    assert result.to_dict()["enforced"] is False
    (body,) = server.requests
    assert body["model"] == f"{MODEL}:latest" and body["options"]["num_ctx"] == DEFAULT_CONTEXT


def test_an_unknown_openai_server_is_refused_without_allow_unconstrained(
    stand_ins: list[StandIn],
) -> None:
    server = engine(stand_ins, "vllm")
    with pytest.raises(ServerError, match="any OpenAI-compatible server .* has no grammar field"):
        Judge(None, METRIC, runtime=RuntimeOptions(server_url=server.url, engine="openai"))


def test_the_regex_for_tgi_admits_exactly_the_family_answers() -> None:
    metric = PRESETS[METRIC]
    for family, good, bad in (
        (
            "flow-judge",
            "<feedback>Fine.</feedback>\n<score>4</score>",
            "<feedback>Fine.</feedback>\n<score>6</score>",
        ),
        ("prometheus", "Feedback: fine. [RESULT] 3", "Feedback: fine. [RESULT] 9"),
        ("selene", "**Reasoning:** ok.\n\n**Result:** 5", "**Reasoning:** ok.\n\n**Result:** 0"),
    ):
        pattern = gbnf_to_regex(F.BoundSingle(F.get_format(family), metric).grammar(256))
        assert re.fullmatch(pattern, good), family
        assert not re.fullmatch(pattern, bad), family
    hallucination = PRESETS["hallucination-detection"]
    pattern = gbnf_to_regex(F.BoundSingle(F.get_format("root-judge"), hallucination).grammar(256))
    assert re.fullmatch(pattern, '{"REASONING": "It says \\"no\\".", "VERDICT": "PASS"}')
    assert not re.fullmatch(pattern, '{"REASONING": "ok", "VERDICT": "MAYBE"}')


def test_a_batch_survives_503s_dropped_connections_and_a_restart_with_every_row_once(
    stand_ins: list[StandIn], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http, "LONGEST_PAUSE", 0.5)  # the backoff's shape, in less time
    server = engine(stand_ins, "vllm")
    rows = [{**CASE, "id": i} for i in range(8)]
    with Judge(None, METRIC, runtime=RuntimeOptions(server_url=server.url, concurrency=3)) as judge:
        server.busy, server.drops = 3, 2  # after the probe: faults mid-batch

        def restart_soon() -> None:
            while server.verdicts < 3:
                time.sleep(0.01)
            server.stop()
            time.sleep(1.0)  # refused connections meanwhile
            server.start()

        killer = threading.Thread(target=restart_soon)
        killer.start()
        results = list(judge.evaluate_many(rows))
        killer.join()
    assert len(results) == 8 and all(r.score == 4 for r in results)
    assert server.verdicts == 8  # each row judged once


def test_a_wrong_api_key_is_one_line_that_does_not_show_the_key(
    stand_ins: list[StandIn],
) -> None:
    server = engine(stand_ins, "sglang", key="right-key")
    with pytest.raises(ServerError) as caught:
        Judge(None, METRIC, runtime=RuntimeOptions(server_url=server.url, api_key="wrong-key-123"))
    text = str(caught.value)
    assert "refused the API key" in text and "wrong-key-123" not in text and "\n" not in text
    with Judge(
        None, METRIC, runtime=RuntimeOptions(server_url=server.url, api_key="right-key")
    ) as judge:
        assert judge.evaluate(CASE).score == 4


def test_several_urls_spread_one_batch_over_every_server(stand_ins: list[StandIn]) -> None:
    servers = [engine(stand_ins, "sglang"), engine(stand_ins, "sglang")]
    rows = [{**CASE, "id": i} for i in range(12)]
    with Judge(None, METRIC, runtime=RuntimeOptions(server_url=[s.url for s in servers])) as judge:
        assert judge.slots == 12  # 6 reported by each
        results = list(judge.evaluate_many(rows))
    assert len(results) == 12 and all(r.score == 4 for r in results)
    assert all(s.verdicts > 0 for s in servers)
    assert sum(s.verdicts for s in servers) == 12


def test_the_cli_refuses_an_engine_ignoring_the_grammar_in_one_line_and_judges_when_allowed(
    stand_ins: list[StandIn], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edgejudge.cli import main

    case = tmp_path / "case.json"
    case.write_text(json.dumps(CASE))
    server = engine(stand_ins, "tgi", ignore_grammar=True)
    argv = ["judge", "--server-url", server.url, "-m", METRIC, "-i", str(case), "--json"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "parameters.grammar" in err
    assert main([*argv, "--allow-unconstrained", "--engine", "tgi"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["score"], printed["enforced"]) == (4, False)


def test_server_engines_prints_every_profile(capsys: pytest.CaptureFixture[str]) -> None:
    from edgejudge.cli import main

    assert main(["server", "engines"]) == 0
    out = capsys.readouterr().out
    for name in ("llama-server", "llama-server-chat", "vllm", "sglang", "tgi", "ollama", "openai"):
        assert name in out


def test_an_engine_url_where_nothing_answers_is_one_line_at_once() -> None:
    from edgejudge.runtime.llama_server.process import free_port

    started = time.monotonic()
    with pytest.raises(ServerError, match="cannot reach the server"):
        Judge(
            None,
            METRIC,
            runtime=RuntimeOptions(server_url=f"http://127.0.0.1:{free_port()}", engine="vllm"),
        )
    assert time.monotonic() - started < 10  # not the two minutes a running batch waits
