"""The engine runtime: a judge carried by a serving engine that applies the model's chat
template itself (vLLM, SGLang, TGI, Ollama, llama-server's chat endpoint, any
OpenAI-compatible server), through the profiles of `profiles.py`.

It fails closed: on connect, `probe` asks for text the prompt would never produce by itself
under a grammar that forces it; an engine that does not write it does not apply the grammar
field it was sent, and edgejudge refuses it (one line naming the engine and the field)
unless unconstrained generation is allowed, in which case every result says
`enforced: false`. Answers are parsed strictly whatever the engine.

Requests are not streamed: each is one JSON answer, which a busy or restarting engine can be
asked again for (`http.py`) without a half-written answer to undo.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from edgejudge.constants import DEFAULT_CONCURRENCY, REQUEST_TIMEOUT
from edgejudge.core.formats.base import Message
from edgejudge.core.probabilities import NextTokens
from edgejudge.errors import GenerationError, ServerError
from edgejudge.runtime.base import Chunk, Finished, Prompt, Sampling, listed_next
from edgejudge.runtime.chat import as_turns
from edgejudge.runtime.numerics import DEFAULT_CONTEXT
from edgejudge.runtime.serving import profiles
from edgejudge.runtime.serving.http import PATIENCE, Http, message, refuse_bad_key
from edgejudge.runtime.serving.profiles import FACTS, EngineName, Reply, Request

MOST_CONCURRENCY = 64  # a cap on what an engine reports (TGI's queue size is 128)
# The probe: text no prompt writes by itself, which only a grammar can force.
PROBE_TEXT = "qz7-qz7-qz7"
PROBE_GRAMMAR = 'root ::= "qz7-" "qz7-" "qz7"'
PROBE_MESSAGE = "Answer with one word: is the sky blue?"


class EngineRuntime:
    """Generates through a serving engine's HTTP API: see the module's docstring."""

    prefix_cache = None  # the engine's own prompt cache, by its rules
    can_restart = False

    def __init__(
        self,
        url: str,
        engine: EngineName,
        *,
        api_key: str | None = None,
        served_model: str | None = None,
        model_name: str | None = None,
        concurrency: int | None = None,
        context_length: int | None = None,
        allow_unconstrained: bool = False,
        patience: float | None = None,
    ) -> None:
        """Connect to the `engine` at `url` and probe that it applies grammars."""
        if engine == "llama-server":
            raise ValueError("llama-server's native API is ServerRuntime's")
        self.engine = engine
        self.facts = FACTS[engine]
        # While connecting, a server that is not there is said so at once; once it has
        # answered, a busy or restarting one is waited for (`http.py`).
        self._http = Http(url, api_key=api_key, patience=0.0)
        self.url = self._http.base
        info = self._describe(served_model)
        self.served_model: str = info["model"]
        self.model_name = model_name or self.served_model.rstrip("/").rsplit("/", 1)[-1]
        self.context_length = int(context_length or info.get("context") or DEFAULT_CONTEXT)
        reported = info.get("slots")
        self.slots = concurrency or min(MOST_CONCURRENCY, int(reported or DEFAULT_CONCURRENCY))
        self._top = min(self.facts.top_cap, 20) if self.facts.top_cap else 0
        self._templates: dict[tuple[Message, ...], str] = {}
        self._lock = threading.Lock()
        self.enforces_grammar = False  # until the probe says otherwise
        self.enforces_grammar = self.probe()
        self._http.patience = PATIENCE if patience is None else patience
        if not self.enforces_grammar and not allow_unconstrained:
            note = self.facts.grammar.removeprefix("none").strip()
            why = (
                "has no grammar field" + (f" {note}" if note.startswith("(") else "")
                if self.facts.dialect is None
                else f"does not apply the grammar sent in {self.facts.grammar}"
            )
            raise ServerError(
                f"{self.facts.title} at {self.url} {why}: its answers would not be bound to "
                f"the judge's format; pass --allow-unconstrained to judge anyway (results say "
                f"enforced: false)"
            )

    @property
    def reports_probabilities(self) -> bool:
        """Whether the engine lists token probabilities edgejudge asks for."""
        return self._top > 0

    # -- what the engine serves ---------------------------------------------------------

    def _describe(self, served_model: str | None) -> dict[str, Any]:
        """The served model's name, context and the engine's slots, as far as it says."""
        if self.engine == "tgi":
            info = self._get("/info")
            return {
                "model": served_model or str(info.get("model_id") or "tgi"),
                "context": info.get("max_total_tokens"),
                "slots": info.get("max_concurrent_requests"),
            }
        if self.engine == "ollama":
            return {"model": served_model or self._only(self._ollama_models())}
        if self.engine == "llama-server-chat":
            props = self._get("/props")
            settings = props.get("default_generation_settings") or {}
            name = served_model or self._only(self._openai_models())
            return {
                "model": name,
                "context": settings.get("n_ctx"),
                "slots": props.get("total_slots"),
            }
        models = self._openai_models()
        name = served_model or self._only(models)
        found = next((m for m in models if m.get("id") == name), {})
        context = found.get("max_model_len")
        slots = None
        if self.engine == "sglang":
            server = self._get("/get_server_info", required=False)
            context = context or server.get("context_length")
            slots = server.get("max_running_requests")
        return {"model": name, "context": context, "slots": slots}

    def _openai_models(self) -> list[dict[str, Any]]:
        data = self._get("/v1/models").get("data")
        if not isinstance(data, list):
            raise ServerError(f"{self.url}: GET /v1/models answered no model list")
        return [m for m in data if isinstance(m, dict)]

    def _ollama_models(self) -> list[dict[str, Any]]:
        models = self._get("/api/tags").get("models")
        if not isinstance(models, list):
            raise ServerError(f"{self.url}: GET /api/tags answered no model list")
        return [{"id": m.get("name") or m.get("model")} for m in models if isinstance(m, dict)]

    def _only(self, models: list[dict[str, Any]]) -> str:
        names = [str(m["id"]) for m in models if m.get("id")]
        if len(names) == 1:
            return names[0]
        listed = ", ".join(names[:8]) or "none"
        raise ServerError(
            f"{self.facts.title} at {self.url} serves {len(names)} models ({listed}); "
            f"name one with --served-model"
        )

    def _get(self, path: str, *, required: bool = True) -> dict[str, Any]:
        status, body = self._http.call("GET", path, timeout=30)
        refuse_bad_key(self.url, status, body)
        if status != 200 or not isinstance(body, dict):
            if not required:
                return {}
            raise ServerError(
                f"{self.url} does not answer as {self.facts.title}: GET {path} answered "
                f"{status} {message(body)}".rstrip()
            )
        return body

    # -- the probe ----------------------------------------------------------------------

    def probe(self) -> bool:
        """Whether the engine writes what a grammar forces (and the prompt never would)."""
        if self.facts.dialect is None:
            return False
        prompt = self.prompt([Message("user", PROBE_MESSAGE)])
        text = "".join(
            chunk
            for chunk in self.generate(
                prompt, grammar=PROBE_GRAMMAR, max_tokens=24, sampling=Sampling(), probe=True
            )
            if isinstance(chunk, str)
        )
        return text.strip() == PROBE_TEXT

    # -- prompts ------------------------------------------------------------------------

    def prompt(self, messages: Sequence[Message]) -> Prompt:
        """The messages as they are: the engine applies the chat template."""
        return Prompt(tuple(messages))

    def continued(self, prompt: Prompt, text: str) -> Prompt:
        """The prompt with the answer begun, which the engine continues."""
        return replace(prompt, written=prompt.written + text)

    # -- generating ---------------------------------------------------------------------

    def generate(
        self,
        prompt: Prompt,
        *,
        grammar: str | None,
        max_tokens: int,
        sampling: Sampling,
        keep: bool = False,
        probe: bool = False,
    ) -> Iterator[Chunk]:
        """One request; the answer's text, then a `Finished` (with `keep`, carrying the
        token probabilities the engine listed as `kept`)."""
        top = self._top if keep else 0
        request = self._request(
            prompt, grammar if self.enforces_grammar or probe else None, max_tokens, sampling, top
        )
        status, answer = self._http.call(
            "POST", request.path, request.body, timeout=REQUEST_TIMEOUT
        )
        refuse_bad_key(self.url, status, answer)
        if status != 200:
            raise GenerationError(
                f"{self.facts.title} at {self.url} refused the request: {status} "
                f"{message(answer)}".rstrip()
            )
        reply = self._read(answer)
        text = reply.text
        if prompt.written and text.startswith(prompt.written):
            # llama-server's chat endpoint answers a continued message whole, prefill included.
            text = text[len(prompt.written) :]
        if text:
            yield text
        kept = LoggedKept(reply, top, text) if top and reply.positions else None
        yield Finished(reply.completion_tokens, reply.stop_reason, kept, reply.prompt_tokens)

    def _request(
        self, prompt: Prompt, grammar: str | None, max_tokens: int, sampling: Sampling, top: int
    ) -> Request:
        if self.engine == "tgi":
            return profiles.tgi_request(
                self._templated(prompt.messages),
                prompt.written,
                grammar=grammar,
                max_tokens=max_tokens,
                sampling=sampling,
                top=top,
            )
        if self.engine == "ollama":
            return profiles.ollama_request(
                self.served_model,
                prompt.messages,
                prompt.written,
                max_tokens=max_tokens,
                sampling=sampling,
                context_length=self.context_length,
            )
        return profiles.chat_request(
            self.engine,
            self.served_model,
            prompt.messages,
            prompt.written,
            grammar=grammar,
            max_tokens=max_tokens,
            sampling=sampling,
            top=top,
        )

    def _read(self, answer: Any) -> Reply:
        try:
            if self.engine == "tgi":
                return profiles.read_tgi(answer)
            if self.engine == "ollama":
                return profiles.read_ollama(answer)
            return profiles.read_chat(answer)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            raise GenerationError(
                f"{self.facts.title} at {self.url} answered in a shape edgejudge does not "
                f"know: {str(answer)[:120]}"
            ) from None

    def _templated(self, messages: tuple[Message, ...]) -> str:
        """TGI's own chat template applied to `messages` (`/chat_tokenize`), asked once."""
        with self._lock:
            known = self._templates.get(messages)
        if known is not None:
            return known
        body = {
            "model": self.served_model,
            "messages": as_turns(messages),
        }
        status, answer = self._http.call("POST", "/chat_tokenize", body, timeout=REQUEST_TIMEOUT)
        text = answer.get("templated_text") if isinstance(answer, dict) else None
        if status != 200 or not isinstance(text, str):
            raise GenerationError(
                f"TGI at {self.url} could not apply the chat template: {status} "
                f"{message(answer)}".rstrip()
            )
        with self._lock:
            if len(self._templates) > 4096:
                self._templates.clear()
            self._templates[messages] = text
        return text

    # -- the rest of the protocol ---------------------------------------------------------

    def restart(self) -> None:
        """Not ours to restart; `http.py` waits for an engine that comes back."""
        raise ServerError(
            f"cannot restart {self.facts.title} at {self.url}: edgejudge did not start it"
        )

    def close(self) -> None:
        """Nothing held: each request is its own connection."""


class LoggedKept:
    """The token probabilities an engine listed with its answer, as a kept generation
    (`edgejudge.runtime.base.Kept`).

    The engine lists, at each generated position, its `top` likeliest tokens, by their
    bytes. So the search can be answered at a position of the answer, and along a path only
    where the path is what the answer went on to write; elsewhere nothing is listed, and the
    distribution says it is incomplete. A token is identified by its bytes.
    """

    def __init__(self, reply: Reply, top: int, text: str) -> None:
        self._ids: dict[bytes, int] = {}
        positions = reply.positions
        # The token that ended the answer (vLLM lists `<|im_end|>` by its text) is not part
        # of the answer's text: it is what an END candidate looks like here.
        self._end = {b""}
        if positions and not text.encode("utf-8").endswith(positions[-1].piece):
            self._end.add(positions[-1].piece)
            positions = positions[:-1]
        self._positions = positions
        self.tokens = tuple(self._id(p.piece) for p in positions)
        self.tops: tuple[int, ...] = (top,)

    def _id(self, piece: bytes) -> int:
        return self._ids.setdefault(piece, len(self._ids))

    def piece(self, index: int) -> bytes:
        """The bytes of generated token `index`."""
        return self._positions[index].piece

    def next(
        self, at: int, path: Sequence[int], wanted: frozenset[bytes], *, end: bool, top: int
    ) -> NextTokens:
        """The listed tokens after `at` generated tokens and `path` (when the answer went
        that way), with the smallest listed probability as the bound on the rest."""
        where = at + len(path)
        if tuple(path) != self.tokens[at:where] or where >= len(self._positions):
            return NextTokens((), 1.0)
        listed = ((self._id(piece), piece, lp) for piece, lp in self._positions[where].top)
        return listed_next(listed, wanted, end=end, top=top, ends=frozenset(self._end))

    def close(self) -> None:
        """Nothing held."""


def detect(url: str, *, api_key: str | None) -> EngineName:
    """Which engine serves `url`, from the endpoints only it answers (`Facts.detect`)."""
    client = Http(url, api_key=api_key, patience=0.0)

    def answers(path: str, *keys: str) -> bool:
        status, body = client.call("GET", path, timeout=30, retry=False)
        refuse_bad_key(client.base, status, body)
        return status == 200 and isinstance(body, dict) and all(k in body for k in keys)

    if answers("/props", "default_generation_settings"):
        return "llama-server"
    if answers("/info", "model_id", "max_total_tokens"):
        return "tgi"
    if answers("/api/version", "version"):
        return "ollama"
    if answers("/get_model_info", "model_path"):
        return "sglang"
    if answers("/version", "version"):
        return "vllm"
    if answers("/v1/models", "data"):
        return "openai"
    raise ServerError(
        f"cannot tell which engine serves {client.base}: none of llama-server, vLLM, SGLang, "
        f"TGI, Ollama or an OpenAI-compatible API answered; name it with --engine"
    )
