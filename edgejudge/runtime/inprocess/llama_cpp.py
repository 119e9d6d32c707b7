"""The in-process runtime: a GGUF file loaded through llama-cpp-python's bindings.

This module loads the model, tokenizes and checks grammars; `decoder.py` generates, with
llama.cpp's native samplers and several judgments per batch.
"""

from __future__ import annotations

import codecs
import ctypes
import os
import re
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edgejudge.errors import GenerationError, ModelLoadError
from edgejudge.runtime.base import Chunk, Finished, Prompt, Sampling, TokenPrompts, token_ids
from edgejudge.runtime.chat import ChatPrompt, Messages
from edgejudge.runtime.gguf import GGUFInfo, read_gguf
from edgejudge.runtime.inprocess.decoder import Decoder
from edgejudge.runtime.inprocess.openmp import passive_waiting
from edgejudge.runtime.inprocess.prefix import CacheStats
from edgejudge.runtime.limits import check_context, check_slots
from edgejudge.runtime.numerics import N_BATCH
from edgejudge.system.hardware import available_memory, avoid_weight_repacking, physical_cores
from edgejudge.system.memory import (
    DEFAULT_KV_TYPE,
    check_kv_type,
    default_context,
    prefix_cache_budget,
    shape_from_gguf,
)

# Judgments decoded together by default, by where the model runs (`default_slots`).
# On a CPU the cores are the limit: measured on this repository's 2-core x86 machine
# (scripts/bench.py, "slots"), four long feedbacks decoded side by side come out slower
# than one after the other, so a CPU judges one at a time. A GPU decodes four sequences in
# about the time of one (llama.cpp's batched decoding), so there four share each step.
CPU_SLOTS = 1
GPU_SLOTS = 4
_GGML_LOG_ERROR = 4  # ggml_log_level: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5


class _LogCapture:
    """Receives llama.cpp's log lines: keeps the last errors, shows all only when verbose.

    llama.cpp explains a failed load ("tensor data is not within the file bounds, model is
    corrupted or incomplete") only in its log; this is how that reason reaches the user.
    """

    def __init__(self) -> None:
        self.lines: deque[str] = deque(maxlen=50)
        self.verbose = False
        self._lock = threading.Lock()
        self._callback: Any = None

    def install(self, llama_cpp: Any) -> None:
        if self._callback is not None:
            return

        @llama_cpp.llama_log_callback  # type: ignore[misc]
        def _on_log(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
            line = text.decode("utf-8", "replace")
            with self._lock:
                if level == _GGML_LOG_ERROR:
                    self.lines.append(line.strip())
            if self.verbose:
                print(line, end="", flush=True, file=sys.stderr)

        self._callback = _on_log  # keep a reference: ctypes would free it otherwise
        llama_cpp.llama_log_set(_on_log, ctypes.c_void_p(0))

    @contextmanager
    def collect(self) -> Iterator[deque[str]]:
        with self._lock:
            self.lines.clear()
        yield self.lines

    def reason(self, default: str = "llama.cpp could not load it") -> str:
        """The first error llama.cpp logged, without its function-name prefixes."""
        errors = [line for line in self.lines if line]
        if not errors:
            return default
        return re.sub(r"^(\w+: )+(error loading model: )?", "", errors[0])


# File descriptor 2 belongs to the whole process: one capture at a time. Two at once would
# each save the other's sink as "the real stderr", and the last to finish would leave fd 2
# pointing at a deleted temporary file, swallowing every later error message.
_STDERR_CAPTURE = threading.Lock()


@contextmanager
def _stderr_lines() -> Iterator[list[str]]:
    """Capture what C code writes straight to file descriptor 2 (bypassing llama's log)."""
    lines: list[str] = []
    with _STDERR_CAPTURE:
        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield lines
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                sink.seek(0)
                text = sink.read().decode("utf-8", "replace")
                lines.extend(line.strip() for line in text.splitlines() if line.strip())


_LOG = _LogCapture()


def _import_llama_cpp() -> Any:
    passive_waiting(os.environ)  # before libgomp loads with llama.cpp (openmp.py)
    try:
        import llama_cpp
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ModelLoadError(f"llama-cpp-python is not importable: {exc}", "") from exc
    _LOG.install(llama_cpp)
    return llama_cpp


def plain_llama(path: str | Path, **kwargs: Any) -> Any:
    """llama-cpp-python's own `Llama` on `path`, loaded the way this runtime loads models.

    For side-by-side comparisons (tests, `scripts/bench.py`): `Llama` has no argument for
    weight repacking, which must be off where `avoid_weight_repacking()` says, so its
    default model parameters are adjusted for the length of the load.
    """
    _import_llama_cpp()  # first: it has OpenMP wait as edgejudge does (openmp.py)
    import llama_cpp.llama_cpp as low_level
    from llama_cpp import Llama

    default = low_level.llama_model_default_params

    def params() -> Any:
        chosen = default()
        chosen.use_extra_bufts = not avoid_weight_repacking()
        return chosen

    low_level.llama_model_default_params = params
    try:
        return Llama(str(path), **kwargs)
    finally:
        low_level.llama_model_default_params = default


def default_slots(n_gpu_layers: int) -> int:
    """Judgments decoded together when none is asked for: GPU_SLOTS where layers run on a
    GPU (Metal, CUDA), else CPU_SLOTS (see their comment)."""
    return GPU_SLOTS if n_gpu_layers != 0 and gpu_offload_available() else CPU_SLOTS


def default_prefix_cache(info: GGUFInfo, context: int, kv_type: str = DEFAULT_KV_TYPE) -> int:
    """The prefix cache's budget in bytes when none is asked for: from the model's KV size
    per token and the memory free here (system.memory.prefix_cache_budget); 1 GiB for a
    header that does not give the model's shape."""
    shape = shape_from_gguf(info)
    if shape is None:
        return 2**30
    weights = info.path.stat().st_size
    return prefix_cache_budget(
        shape, context, weights=weights, available=available_memory(), kv_type=kv_type
    )


def gpu_offload_available() -> bool:
    """Whether this llama.cpp build can offload layers to a GPU (Metal or CUDA)."""
    return bool(_import_llama_cpp().llama_supports_gpu_offload())


def build_info() -> dict[str, Any]:
    """What this llama-cpp-python was built with: version, backends, GPU offload."""
    llama_cpp = _import_llama_cpp()
    system = llama_cpp.llama_print_system_info()
    text = system.decode("utf-8", "replace") if isinstance(system, bytes) else str(system)
    # llama.cpp lists each compiled-in backend as "NAME : feature = 1 | ...".
    backends = re.findall(r"(?:^|\|\s)\s*([A-Za-z][\w-]*) : ", text)
    return {
        "version": getattr(llama_cpp, "__version__", "?"),
        "backends": list(dict.fromkeys(backends)),
        "gpu_offload": bool(llama_cpp.llama_supports_gpu_offload()),
        "system_info": text.strip(" |"),
    }


class LlamaCppRuntime(TokenPrompts):
    """Generates text from a GGUF model in this process through llama-cpp-python."""

    def __init__(
        self,
        path: str | Path,
        *,
        context_length: int | None = None,
        n_gpu_layers: int | None = None,
        n_threads: int | None = None,
        model_name: str | None = None,
        chat_template: str | None = None,
        slots: int | None = None,
        prefix_cache_mib: int | None = None,
        kv_type: str | None = None,
        verbose: bool = False,
    ) -> None:
        check_context(context_length)
        self.kv_type = kv_type = check_kv_type(kv_type)
        check_slots(slots, in_process=True)
        info = read_gguf(path)  # clear errors for missing, non-GGUF and cut-off files
        trained = info.context_length
        wanted = context_length or default_context(
            info, available=available_memory(), kv_type=kv_type
        )
        self.context_length = min(wanted, trained) if trained else wanted
        self.path = Path(path)
        self.model_name = model_name or self.path.name
        llama_cpp = _import_llama_cpp()
        self._llama_cpp = llama_cpp
        _LOG.verbose = verbose
        if n_gpu_layers is None:
            n_gpu_layers = -1 if llama_cpp.llama_supports_gpu_offload() else 0
        threads = n_threads or physical_cores()
        params = llama_cpp.llama_model_default_params()
        params.n_gpu_layers = n_gpu_layers
        params.use_extra_bufts = not avoid_weight_repacking()
        if n_gpu_layers == 0 and params.use_extra_bufts:
            # On a CPU llama.cpp repacks most weights (Q4_K into q4_K_8x8, ...) into a buffer
            # of their own; mapped, their pages in the file stay resident beside that copy
            # (+1.4 GiB of RSS at Flow-Judge's size: measured by scripts/memory_check.py).
            # Read instead, each weight is held once. The bytes, and the verdicts, are equal.
            params.load_mode = llama_cpp.LLAMA_LOAD_MODE_NONE
        with _LOG.collect():
            try:
                from llama_cpp._internals import LlamaModel

                model = LlamaModel(path_model=str(self.path), params=params, verbose=verbose)
            except (ValueError, RuntimeError, OSError) as exc:
                raise ModelLoadError(
                    f"cannot load {self.path}: {_LOG.reason()}", str(self.path)
                ) from exc
        self._model = model
        self.n_threads = threads
        self.n_gpu_layers = n_gpu_layers
        self.slots = slots = slots or default_slots(n_gpu_layers)
        if prefix_cache_mib is None:
            self.prefix_cache_bytes = default_prefix_cache(info, self.context_length, kv_type)
        else:
            self.prefix_cache_bytes = max(0, prefix_cache_mib) * 2**20
        self._vocab = model.vocab
        try:
            self._decoder = Decoder(
                llama_cpp,
                model.model,
                n_ctx=self.context_length,
                n_batch=N_BATCH,
                n_threads=threads,
                slots=slots,
                cache_bytes=self.prefix_cache_bytes,
                kv_type=kv_type,
            )
        except GenerationError as exc:
            model.close()
            raise ModelLoadError(f"cannot load {self.path}: {exc}", str(self.path)) from exc
        self._cache_stats = self._decoder.stats  # still readable once closed
        bos, eos = model.token_bos(), model.token_eos()
        self._chat = ChatPrompt(
            chat_template if chat_template is not None else info.chat_template,
            tokenize=lambda text, special: self._tokenize(text, special=special),
            add_bos=bool(model.add_bos_token()),
            bos=bos,
            bos_text=model.token_get_text(bos) if bos >= 0 else "",
            eos_text=model.token_get_text(eos) if eos >= 0 else "",
        )
        self._checked: set[str] = set()
        self._checking = threading.Lock()

    # -- prompt -------------------------------------------------------------------------

    def chat_tokens(self, messages: Messages) -> list[int]:
        """The prompt tokens for `messages` (a string: one user message), through the
        model's chat template."""
        return self._chat.tokens(messages)

    def text_tokens(self, text: str) -> list[int]:
        """Tokens for plain text; special-token text stays text."""
        return self._tokenize(text, special=False)

    def _tokenize(self, text: str, *, special: bool) -> list[int]:
        if not text:
            return []
        return list(self._model.tokenize(text.encode("utf-8"), add_bos=False, special=special))

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
        """Yield text pieces as they are generated, then one `Finished` (with `keep`, it
        holds the generation's KV cells until its `kept` is closed)."""
        if grammar:
            self._check_once(grammar)
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        for piece in self._decoder.generate(
            token_ids(prompt), grammar=grammar, max_tokens=max_tokens, sampling=sampling, keep=keep
        ):
            if isinstance(piece, Finished):
                rest = decoder.decode(b"", final=True)
                if rest:
                    yield rest
                yield piece
                return
            text = decoder.decode(piece)
            if text:
                yield text

    can_restart = False
    reports_probabilities = True
    enforces_grammar = True

    @property
    def prefix_cache(self) -> CacheStats:
        """What the cache of evaluated prompt heads did (decoder.py, prefix.py)."""
        return self._cache_stats

    def restart(self) -> None:
        """Never needed: llama.cpp runs in this process (`can_restart` is False)."""
        raise GenerationError("the in-process runtime cannot be restarted")

    def check_grammar(self, text: str) -> None:
        """Parse a GBNF grammar with llama.cpp's own parser; `GenerationError` if it refuses.

        llama-cpp-python hands the grammar text to llama.cpp only when sampling starts, and a
        grammar llama.cpp refuses there takes the interpreter down; asking first is safe.
        """
        llama_cpp = self._llama_cpp
        with _LOG.collect(), _stderr_lines() as printed:
            sampler = llama_cpp.llama_sampler_init_grammar(
                self._vocab, text.encode("utf-8"), b"root"
            )
        if not sampler:
            problems = [line for line in printed if "error" in line.lower()]
            reason = problems[0] if problems else _LOG.reason("no reason given")
            raise GenerationError(f"llama.cpp rejected the grammar: {reason}")
        llama_cpp.llama_sampler_free(sampler)

    def _check_once(self, text: str) -> None:
        """Check each grammar once, however many judgments start with it at the same time."""
        with self._checking:
            if text not in self._checked:
                self.check_grammar(text)
                self._checked.add(text)

    def close(self) -> None:
        """Free the model and its context."""
        decoder = getattr(self, "_decoder", None)
        if decoder is not None:
            decoder.close()
            self._decoder = None  # type: ignore[assignment]
        model = getattr(self, "_model", None)
        if model is not None:
            model.close()
            self._model = None  # type: ignore[assignment]
