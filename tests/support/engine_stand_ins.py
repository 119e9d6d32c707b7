"""Stand-ins for the serving engines that cannot run here (vLLM, SGLang, TGI, Ollama).

Each answers the endpoints edgejudge uses, in that engine's response shape, and checks each
generation request as the engine's code reads it: every top-level field must be one the
engine knows (a real engine silently ignores any other, which is how a grammar in the wrong
field goes unenforced), and the grammar is read only from the engine's own field. The
"model" writes what the grammar it read forces: the probe's text for the probe grammar, a
Flow-Judge verdict for a verdict grammar (checked against that grammar: TGI's regex with
Python's `re`), and, when it read no grammar, prose for the probe and the verdict where a
judge's prompt asks for one (a well-behaved model, unconstrained). `ignore_grammar`
makes an engine that drops the grammar field, as an engine does with a field it does not
know. Faults on cue: `busy` generation requests answered 503, `drops` connections closed
without an answer, and `stop()` / `start()` to kill the server and bring it back on the
same port.
"""

from __future__ import annotations

import json
import math
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from edgejudge.core.formats.regex import gbnf_to_regex
from edgejudge.runtime.serving.remote import PROBE_GRAMMAR, PROBE_TEXT

VERDICT = "<feedback>The response follows the context.</feedback>\n<score>4</score>"
PROSE = "Yes, the sky is blue on a clear day."
# The "model's" own probabilities where it writes the score.
SCORE_CHANCES = {"4": 0.6, "3": 0.3, "5": 0.1}

# Fields of each engine's request model (read from their source: vLLM's
# ChatCompletionRequest, SGLang's ChatCompletionRequest, TGI's GenerateParameters, Ollama's
# ChatRequest) that edgejudge may send; anything else would be ignored by the real engine.
CHAT_COMMON = {
    "model",
    "messages",
    "max_tokens",
    "temperature",
    "seed",
    "stream",
    "top_p",
    "logprobs",
    "top_logprobs",
    "continue_final_message",
    "add_generation_prompt",
}
KNOWN = {
    "vllm": CHAT_COMMON | {"structured_outputs"},
    "sglang": CHAT_COMMON | {"ebnf"},
    "tgi": {"inputs", "parameters"},
    "ollama": {"model", "messages", "stream", "options", "format"},
}
TGI_PARAMETERS = {
    "max_new_tokens",
    "details",
    "return_full_text",
    "seed",
    "do_sample",
    "temperature",
    "top_p",
    "top_n_tokens",
    "grammar",
}
MODEL = "flow-judge"
GENERATION = {"/v1/chat/completions", "/generate", "/api/chat"}


class StandIn:
    """One engine's stand-in server (see the module's docstring)."""

    def __init__(
        self,
        engine: str,
        *,
        ignore_grammar: bool = False,
        key: str | None = None,
        busy: int = 0,
        drops: int = 0,
    ) -> None:
        self.engine = engine
        self.ignore_grammar = ignore_grammar
        self.key = key
        self.busy = busy
        self.drops = drops
        self.requests: list[dict[str, Any]] = []  # every generation request body
        self.verdicts = 0  # verdicts written (not probes)
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Serve (again, on the same port after `stop`)."""
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                stand_in._handle(self, None)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                stand_in._handle(self, json.loads(self.rfile.read(length) or b"{}"))

            def log_message(self, *_: object) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        """Kill the server: connections are refused until `start`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- answering ----------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, body: dict[str, Any] | None) -> None:
        if self.key is not None and handler.headers.get("Authorization") != f"Bearer {self.key}":
            return _send(handler, 401, {"error": {"message": "invalid API key"}})
        path = handler.path
        info = self._info(path)
        if info is not None:
            return _send(handler, 200, info)
        if body is None or path not in (
            "/v1/chat/completions",
            "/generate",
            "/api/chat",
            "/chat_tokenize",
        ):
            return _send(handler, 404, {"error": "not found"})
        if path == "/chat_tokenize":
            turns = "".join(f"<|{m['role']}|>{m['content']}" for m in body["messages"])
            return _send(
                handler, 200, {"templated_text": turns + "<|assistant|>", "tokenize_response": []}
            )
        with self._lock:
            if self.drops:
                self.drops -= 1
                handler.close_connection = True
                handler.connection.shutdown(2)  # no answer at all
                return None
            if self.busy:
                self.busy -= 1
                return _send(handler, 503, {"error": "overloaded"})
        unknown = set(body) - KNOWN[self.engine]
        if self.engine == "tgi":
            unknown |= set(body.get("parameters", {})) - TGI_PARAMETERS
        if unknown:
            return _send(handler, 400, {"error": f"stand-in: fields {sorted(unknown)} unknown"})
        with self._lock:
            self.requests.append(body)
        text = self._write(self._grammar(body), asks_for_verdict="<score>" in json.dumps(body))
        return _send(handler, 200, self._answer(text, body))

    def _info(self, path: str) -> dict[str, Any] | None:
        engine = self.engine
        if engine == "vllm" and path == "/version":
            return {"version": "0.12.0"}
        if engine in ("vllm", "sglang") and path == "/v1/models":
            return {"object": "list", "data": [{"id": MODEL, "max_model_len": 8192}]}
        if engine == "sglang" and path == "/get_model_info":
            return {"model_path": MODEL, "is_generation": True}
        if engine == "sglang" and path == "/get_server_info":
            return {"version": "0.5.0", "max_running_requests": 6, "context_length": 8192}
        if engine == "tgi" and path == "/info":
            return {
                "model_id": MODEL,
                "max_total_tokens": 8192,
                "max_concurrent_requests": 128,
                "version": "3.3.0",
                "router": "text-generation-router",
            }
        if engine == "ollama" and path == "/api/version":
            return {"version": "0.12.0"}
        if engine == "ollama" and path == "/api/tags":
            return {"models": [{"name": f"{MODEL}:latest"}]}
        return None

    def _grammar(self, body: dict[str, Any]) -> str | None:
        """The grammar as this engine reads it: from its own field, and nowhere else."""
        if self.ignore_grammar:
            return None
        if self.engine == "vllm":
            return (body.get("structured_outputs") or {}).get("grammar")
        if self.engine == "sglang":
            return body.get("ebnf")
        if self.engine == "tgi":
            grammar = body["parameters"].get("grammar")
            return None if grammar is None else f"regex:{grammar['value']}"
        return None  # Ollama has no field for one

    def _write(self, grammar: str | None, *, asks_for_verdict: bool) -> str:
        """What the stand-in "model" writes under `grammar`; with none, what a well-behaved
        model would: the verdict where the prompt asks for one (it is then only parsed)."""
        if grammar is None:
            if asks_for_verdict:
                with self._lock:
                    self.verdicts += 1
                return VERDICT
            return PROSE
        if grammar.startswith("regex:"):
            pattern = grammar[len("regex:") :]
            if re.fullmatch(pattern, PROBE_TEXT):
                return PROBE_TEXT
            assert re.fullmatch(pattern, VERDICT), "the regex must admit a well-formed verdict"
            assert not re.fullmatch(pattern, PROSE)
            with self._lock:
                self.verdicts += 1
            return VERDICT
        if grammar == PROBE_GRAMMAR:
            return PROBE_TEXT
        assert gbnf_to_regex(grammar), "a grammar edgejudge wrote"
        assert re.fullmatch(gbnf_to_regex(grammar), VERDICT)
        with self._lock:
            self.verdicts += 1
        return VERDICT

    def _answer(self, text: str, body: dict[str, Any]) -> dict[str, Any]:
        """`text` in the engine's response shape, with token probabilities where asked."""
        pieces = list(text)  # one character per token
        if self.engine == "ollama":
            return {
                "model": body["model"],
                "message": {"role": "assistant", "content": text},
                "done": True,
                "done_reason": "stop",
                "eval_count": len(pieces),
                "prompt_eval_count": 100,
            }
        if self.engine == "tgi":
            top = body["parameters"].get("top_n_tokens")
            return {
                "generated_text": text,
                "details": {
                    "finish_reason": "eos_token",
                    "generated_tokens": len(pieces),
                    "tokens": [
                        {"id": i, "text": p, "logprob": -0.1, "special": False}
                        for i, p in enumerate(pieces)
                    ],
                    "top_tokens": [_tops(text, i, top, tgi=True) for i in range(len(pieces))]
                    if top
                    else None,
                },
            }
        top = body.get("top_logprobs") if body.get("logprobs") else None
        logprobs = None
        if top:
            content = [
                {
                    "token": p,
                    "logprob": -0.1,
                    "bytes": list(p.encode()),
                    "top_logprobs": _tops(text, i, top, tgi=False),
                }
                for i, p in enumerate(pieces)
            ]
            if self.engine == "vllm":  # vLLM lists the token that ended the answer, by its text
                end = {"token": "<|im_end|>", "logprob": 0.0, "bytes": list(b"<|im_end|>")}
                content.append({**end, "top_logprobs": [end]})
            logprobs = {"content": content}
        return {
            "object": "chat.completion",
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                    "logprobs": logprobs,
                }
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": len(pieces)},
        }


def _tops(text: str, index: int, top: int, *, tgi: bool) -> list[dict[str, Any]]:
    """The likeliest "tokens" at `index`: the score's chances where the score stands."""
    at_score = text.startswith("<score>", index - len("<score>")) if index >= 7 else False
    chances = SCORE_CHANCES if at_score else {text[index]: 0.9}
    listed = sorted(chances.items(), key=lambda kv: -kv[1])[:top]
    if tgi:
        return [
            {"id": ord(c), "text": c, "logprob": math.log(p), "special": False} for c, p in listed
        ]
    return [{"token": c, "logprob": math.log(p), "bytes": list(c.encode())} for c, p in listed]


def _send(handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
