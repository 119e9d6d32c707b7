"""The server runtime: a llama.cpp server (llama-server, a llamafile, or one at a URL).

It speaks the server's native endpoints: `/health`, `/props` (context, slots, chat
template), `/tokenize`, and `/completion` with the prompt as token ids, a GBNF grammar and
`stream`. The prompt tokens come from `edgejudge.runtime.chat`, as in-process, so the same
input reaches the model as the same tokens whichever runtime carries it.
"""

from __future__ import annotations

import http.client
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from edgejudge.constants import REQUEST_TIMEOUT, STARTUP_TIMEOUT
from edgejudge.errors import BrokenModelError, GenerationError, ServerError, ServerGoneError
from edgejudge.paths import API_KEY_ENV
from edgejudge.runtime.base import Chunk, Finished, Prompt, Sampling, TokenPrompts, token_ids
from edgejudge.runtime.chat import ChatPrompt, Messages
from edgejudge.runtime.gguf import read_gguf
from edgejudge.runtime.inprocess.prefix import CacheStats
from edgejudge.runtime.limits import check_context, check_slots
from edgejudge.runtime.llama_server.kept import KeptSlot
from edgejudge.runtime.llama_server.process import (
    Kind,
    ServerProcess,
    find_llama_server,
    last_lines,
)
from edgejudge.runtime.llama_server.prompt_cache import SlotCache
from edgejudge.runtime.numerics import DEFAULT_CONTEXT, MIN_P, N_BATCH, REPEAT_LAST_N, TOP_K
from edgejudge.runtime.serving.http import (
    PATIENCE,
    AnswerReader,
    Http,
    decode,
    message,
    read_answer,
)
from edgejudge.system.hardware import available_memory
from edgejudge.system.memory import check_kv_type, default_context

PROBE_GRAMMAR = 'root ::= "yes"'
_UNSET: Any = object()


class ServerRuntime(TokenPrompts):
    """Generates text through a llama.cpp server's HTTP API.

    Build one with `ServerRuntime.launch` (a server edgejudge starts and stops) or
    `ServerRuntime.connect` (a server someone else runs).
    """

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        process: ServerProcess | None = None,
        model_name: str | None = None,
        chat_template: str | None = _UNSET,
        wait: float = 0.0,
        prompt_cache: bool = True,
    ) -> None:
        """Connect to the server at `url` and check that it is a llama.cpp server we can use.

        `chat_template` overrides the one the server reports (None: no template); `wait`
        is how long to wait for a server that is still loading its model. `prompt_cache`
        False has every prompt evaluated in full even where server_cache.py would reuse.
        """
        # While connecting, a server that is not there is said so at once (patience 0).
        self._http = Http(url, api_key=api_key, patience=0.0)
        self.process = process
        # the KV cache type of a server edgejudge started; one someone else runs: unknown
        self.kv_type = process.kv_type if process is not None else None
        self._check_health(wait)
        self._read_props(model_name)
        self._template = (
            self._props.get("chat_template") if chat_template is _UNSET else chat_template
        )
        self._chat = self._chat_prompt(self._template)
        self._check_numbers()
        self._check_grammar()
        # Its prompt cache, where it keeps every verdict as evaluated alone (server_cache.py).
        ours = process is not None and process.kind == "gguf"
        self._slot_cache = SlotCache(N_BATCH, enabled=prompt_cache and ours and self.slots == 1)
        # From now on a server someone else runs is waited for while it is busy (429, 503)
        # or restarting (connections refused or dropped): see `edgejudge.runtime.serving.http`.
        self._http.patience = PATIENCE if process is None else 0.0

    # -- construction -------------------------------------------------------------------

    @classmethod
    def launch(
        cls,
        model: str | os.PathLike[str],
        *,
        kind: Kind = "gguf",
        context_length: int | None = None,
        slots: int = 1,
        kv_type: str | None = None,
        binary: str | os.PathLike[str] | None = None,
        n_gpu_layers: int | None = None,
        n_threads: int | None = None,
        port: int | None = None,
        model_name: str | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
        verbose: bool = False,
        prompt_cache: bool = True,
    ) -> ServerRuntime:
        """Start a server on `model` (a GGUF file, or a llamafile) and connect to it.

        Every one of the `slots` parallel requests gets `context_length` tokens of context
        (capped by what the model was trained on, as in-process).
        """
        check_context(context_length)
        check_slots(slots, in_process=False)
        kv_type = check_kv_type(kv_type)
        path = Path(model)
        template: str | None = _UNSET
        per_slot = context_length or DEFAULT_CONTEXT
        if kind == "gguf":
            info = read_gguf(path)  # clear errors for missing, non-GGUF and cut-off files
            trained = info.context_length
            per_slot = min(per_slot, trained) if trained else per_slot
            if context_length is None:  # the in-process runtime's default, alike
                per_slot = default_context(info, available=available_memory(), kv_type=kv_type)
            template = info.chat_template  # exactly what the in-process runtime uses
            binary = find_llama_server(binary)
        elif not path.is_file():
            raise ServerError(f"llamafile not found: {path}")
        process = ServerProcess(
            model=path,
            kind=kind,
            context_per_slot=per_slot,
            slots=slots,
            kv_type=kv_type,
            binary=Path(binary) if binary else None,
            n_gpu_layers=n_gpu_layers,
            n_threads=n_threads,
            port=port,
            startup_timeout=startup_timeout,
            verbose=verbose,
        )
        process.start()
        try:
            return cls(
                process.url,
                process=process,
                model_name=model_name or path.name,
                chat_template=template,
                prompt_cache=prompt_cache,
            )
        except BaseException:
            process.stop()
            raise

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        api_key: str | None = None,
        model_name: str | None = None,
        wait: float = 60.0,
    ) -> ServerRuntime:
        """Use the llama.cpp server at `url`; `api_key` defaults to `$EDGEJUDGE_API_KEY`."""
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
        return cls(url, api_key=key, model_name=model_name, wait=wait)

    # -- what the server is -------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's base URL (a restarted local server has a new port)."""
        return self._http.base

    def _check_health(self, wait: float) -> None:
        deadline = time.monotonic() + wait
        while True:
            try:
                status, body = self._call("GET", "/health", timeout=10)
            except ServerGoneError as exc:
                raise ServerError(f"cannot reach a server at {self.url}: {exc.__cause__}") from None
            if status == 200 and isinstance(body, dict) and body.get("status") == "ok":
                return
            if status == 503 and time.monotonic() < deadline:
                time.sleep(0.5)  # still loading its model
                continue
            if status == 503:
                raise ServerError(f"the server at {self.url} is still loading its model")
            if status == 401:
                raise ServerError(f"the server at {self.url} refused the API key ({message(body)})")
            raise ServerError(
                f"{self.url} is not a llama.cpp server: GET /health answered {status} "
                f"{message(body)}".rstrip()
            )

    def _read_props(self, model_name: str | None) -> None:
        status, props = self._call("GET", "/props", timeout=30)
        if status == 401:
            raise ServerError(f"{self.url} refused the API key: {message(props)}")
        settings = props.get("default_generation_settings") if isinstance(props, dict) else None
        if status != 200 or not isinstance(settings, dict) or "n_ctx" not in settings:
            raise ServerError(
                f"{self.url} is not a llama.cpp server: GET /props answered {status} without "
                f"the context size"
            )
        self._props: dict[str, Any] = props
        self.context_length = int(settings["n_ctx"])  # what each slot gets
        self.slots = max(1, int(props.get("total_slots") or 1))
        served = str(props.get("model_path") or props.get("model_alias") or "server")
        self.served_model = served
        self.model_name = model_name or Path(served).name

    def _chat_prompt(self, template: str | None) -> ChatPrompt:
        bos_probe = self._tokenize("", special=False, add_bos=True)
        bos = bos_probe[0] if bos_probe else -1
        bos_text = str(self._props.get("bos_token") or "")
        if bos >= 0 and not bos_text:
            bos_text = self._piece(bos)
        eos_text = str(self._props.get("eos_token") or "")
        return ChatPrompt(
            template,
            tokenize=lambda text, special: self._tokenize(text, special=special),
            add_bos=bos >= 0,
            bos=bos,
            bos_text=bos_text,
            eos_text=eos_text,
        )

    def _check_numbers(self) -> None:
        """Refuse a model whose scores are not numbers (NaN weights): llama.cpp's server
        reports their log-probabilities as null, and its grammar sampler fails on them."""
        status, body = self._call(
            "POST",
            "/completion",
            {"prompt": "Say yes.", "n_predict": 1, "temperature": 0, "n_probs": 1,
             "cache_prompt": False},
            timeout=REQUEST_TIMEOUT,
        )  # fmt: skip
        steps = body.get("completion_probabilities") if isinstance(body, dict) else None
        if status != 200 or not isinstance(steps, list) or not steps:
            return  # nothing to go on: the grammar probe that follows says what is wrong
        first = steps[0] if isinstance(steps[0], dict) else {}
        value = first.get("logprob", first.get("prob", 0.0))
        if value is None or (isinstance(value, float) and math.isnan(value)):
            raise BrokenModelError(
                f"the model the server at {self.url} runs computes NaN (not a number) for its "
                "next-token scores: its weights are broken; download it again"
            )

    def _check_grammar(self) -> None:
        """Make sure the server applies GBNF grammars: everything edgejudge does needs them."""
        status, body = self._call(
            "POST",
            "/completion",
            {"prompt": "Say yes.", "n_predict": 4, "temperature": 0, "grammar": PROBE_GRAMMAR,
             "cache_prompt": False},
            timeout=REQUEST_TIMEOUT,
        )  # fmt: skip
        if status != 200:
            raise ServerError(
                f"the server at {self.url} does not accept GBNF grammars: /completion "
                f"answered {status} {message(body)}".rstrip()
            )
        content = body.get("content") if isinstance(body, dict) else None
        if content != "yes":
            raise ServerError(
                f"the server at {self.url} ignored a GBNF grammar (asked for exactly 'yes', "
                f"got {content!r}); edgejudge needs a llama.cpp server that applies grammars"
            )

    # -- prompt -------------------------------------------------------------------------

    def chat_tokens(self, messages: Messages) -> list[int]:
        """The prompt tokens for `messages` (a string: one user message), through the
        model's chat template."""
        return self._chat.tokens(messages)

    def text_tokens(self, text: str) -> list[int]:
        """Tokens for plain text; special-token text stays text."""
        return self._tokenize(text, special=False)

    def _tokenize(self, text: str, *, special: bool, add_bos: bool = False) -> list[int]:
        if not text and not add_bos:
            return []
        status, body = self._call(
            "POST",
            "/tokenize",
            {"content": text, "add_special": add_bos, "parse_special": special},
            timeout=REQUEST_TIMEOUT,
        )
        tokens = body.get("tokens") if isinstance(body, dict) else None
        if status != 200 or not isinstance(tokens, list):
            raise GenerationError(f"the server could not tokenize: {status} {message(body)}")
        return [int(token) for token in tokens]

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST `body` to `path` and return the JSON answer; `GenerationError` unless 200."""
        status, answer = self._call("POST", path, body, timeout=REQUEST_TIMEOUT)
        if status != 200:
            raise GenerationError(f"the server refused {path}: {status} {message(answer)}")
        return answer

    def _piece(self, token: int) -> str:
        status, body = self._call("POST", "/detokenize", {"tokens": [token]}, timeout=30)
        return str(body.get("content", "")) if status == 200 and isinstance(body, dict) else ""

    # -- generation ---------------------------------------------------------------------

    def generate(
        self,
        prompt: Prompt | Sequence[int],
        *,
        grammar: str | None,
        max_tokens: int,
        sampling: Sampling,
        keep: bool = False,
    ) -> Iterator[Chunk]:
        """Yield text pieces as the server streams them, then one `Finished` (with `keep`,
        carrying the generation's tokens, which its slot's cache holds, as `kept`)."""
        tokens = token_ids(prompt)
        body: dict[str, Any] = {
            "prompt": list(tokens),
            "n_predict": max_tokens,
            "temperature": sampling.temperature,
            "seed": sampling.seed,
            # The in-process runtime's sampler settings; at temperature 0 both are greedy.
            "top_k": TOP_K,
            "top_p": sampling.top_p,
            "min_p": MIN_P,
            "repeat_penalty": sampling.repeat_penalty,
            "repeat_last_n": REPEAT_LAST_N,
            # A reused prefix keeps the floats only where the server's cut keeps the rule
            # (server_cache.py); elsewhere the whole prompt is evaluated, as in-process.
            "cache_prompt": (reused := self._slot_cache.reuse(tokens)),
            "stream": True,
        }
        if grammar:
            body["grammar"] = grammar
        generated: list[int] = []
        response = self._open("POST", "/completion", body, timeout=REQUEST_TIMEOUT)
        try:
            if response.status != 200:
                raise GenerationError(
                    f"the server refused the request: {response.status} "
                    f"{message(decode(read_answer(response, self._http.base)))}"
                )
            for event in _events(response, self._http.base + "/completion"):
                if "error" in event:
                    raise GenerationError(f"the server failed: {message(event)}")
                text = event.get("content") or ""
                if text:
                    generated += [int(t) for t in event.get("tokens") or ()]
                    yield str(text)
                if event.get("stop"):
                    finished = _finished(event)
                    timings = event.get("timings") or {}
                    self._slot_cache.after(tokens, reused, timings.get("prompt_n"))
                    # A token that ends inside a character reaches us with the next one's
                    # text but not its id: the ids then do not add up, and nothing is kept.
                    if keep and len(generated) == finished.completion_tokens:
                        kept = KeptSlot(self, list(tokens), tuple(generated))
                        finished = replace(finished, kept=kept)
                    yield finished
                    return
        except (OSError, http.client.HTTPException) as exc:
            raise self._gone(exc) from exc
        finally:
            response.close()
        raise self._gone(None)

    # -- HTTP ---------------------------------------------------------------------------

    def _open(
        self, method: str, path: str, body: dict[str, Any] | None, *, timeout: float
    ) -> http.client.HTTPResponse:
        """The response to one request, its body unread; for a server someone else runs,
        retried as `edgejudge.runtime.serving.http` says until an answer begins."""
        try:
            return self._http.open(method, path, body, timeout=timeout)
        except ServerGoneError as exc:
            raise self._gone(exc.__cause__) from exc.__cause__

    def _call(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, timeout: float
    ) -> tuple[int, Any]:
        response = self._open(method, path, body, timeout=timeout)
        try:
            return response.status, decode(read_answer(response, self._http.base + path))
        except (OSError, http.client.HTTPException) as exc:
            raise self._gone(exc) from exc
        finally:
            response.close()

    def _gone(self, cause: BaseException | None) -> ServerGoneError:
        process = self.process
        if process is not None and not process.running:
            lines = process.output()
            return ServerGoneError(
                f"the server ({process.name}) stopped while judging" + last_lines(lines, silent=""),
                lines,
            )
        reason = f": {cause}" if cause else " (the answer was cut off)"
        return ServerGoneError(f"lost the connection to the server at {self.url}{reason}")

    # -- lifetime -----------------------------------------------------------------------

    reports_probabilities = True  # where its answers carry token ids (llama.cpp 2025 on)

    @property
    def prefix_cache(self) -> CacheStats | None:
        """What the prompt cache of a server edgejudge started with one slot did."""
        return self._slot_cache.stats if self._slot_cache.enabled else None

    enforces_grammar = True  # checked on connect

    @property
    def can_restart(self) -> bool:
        """Whether a server that dropped a judgment can be had back: one edgejudge started
        is started again; one someone else runs is waited for (up to `PATIENCE` seconds)."""
        return True

    def restart(self) -> None:
        """Start the server again after a crash (the prompt setup is kept), or wait for a
        server someone else runs to answer again; `ServerError` if it does not."""
        if self.process is None:
            try:
                self._check_health(0)
            except ServerError as exc:
                raise ServerError(
                    f"the server at {self.url} did not come back within {PATIENCE:.0f} s: {exc}"
                ) from None
            return
        self.process.restart()
        self._http.base = self.process.url  # a restarted server has a new port
        self._check_health(0)

    def close(self) -> None:
        """Stop the server if edgejudge started it."""
        if self.process is not None:
            self.process.stop()


def _events(response: http.client.HTTPResponse, url: str) -> Iterator[dict[str, Any]]:
    """The JSON objects of a server-sent event stream (`data: {...}` lines), read within the
    bounds of one answer (`AnswerReader`)."""
    for raw in AnswerReader(response, url).lines():
        line = raw.decode("utf-8", "replace").strip()
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        event = decode(payload.encode())
        if isinstance(event, dict):
            yield event


def _finished(event: dict[str, Any]) -> Finished:
    stop_type = event.get("stop_type")
    if stop_type is None:  # older servers: flags instead of a stop type
        stop_type = "limit" if event.get("stopped_limit") else "eos"
    reason = "length" if stop_type == "limit" else "eos"
    predicted = int(event.get("tokens_predicted") or 0)
    # The server counts the end-of-generation token it sampled; in-process does not.
    count = predicted - 1 if reason == "eos" and predicted > 0 else predicted
    return Finished(completion_tokens=count, stop_reason=reason)
