"""The in-process runtime: a GGUF file loaded by llama-cpp-python."""

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
from edgejudge.hardware import physical_cores
from edgejudge.runtime.base import Chunk, Finished, Sampling
from edgejudge.runtime.chat import ChatPrompt
from edgejudge.runtime.gguf import read_gguf

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


@contextmanager
def _stderr_lines() -> Iterator[list[str]]:
    """Capture what C code writes straight to file descriptor 2 (bypassing llama's log)."""
    lines: list[str] = []
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
    try:
        import llama_cpp
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ModelLoadError(f"llama-cpp-python is not importable: {exc}", "") from exc
    _LOG.install(llama_cpp)
    return llama_cpp


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


class LlamaCppRuntime:
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
        verbose: bool = False,
    ) -> None:
        info = read_gguf(path)  # clear errors for missing, non-GGUF and cut-off files
        trained = info.context_length
        wanted = context_length or trained or 4096
        self.context_length = min(wanted, trained) if trained else wanted
        self.path = Path(path)
        self.model_name = model_name or self.path.name
        llama_cpp = _import_llama_cpp()
        self._llama_cpp = llama_cpp
        _LOG.verbose = verbose
        if n_gpu_layers is None:
            n_gpu_layers = -1 if llama_cpp.llama_supports_gpu_offload() else 0
        threads = n_threads or physical_cores()
        with _LOG.collect():
            try:
                self._llm = llama_cpp.Llama(
                    model_path=str(self.path),
                    n_ctx=self.context_length,
                    n_gpu_layers=n_gpu_layers,
                    n_threads=threads,
                    n_threads_batch=threads,
                    verbose=verbose,
                )
            except (ValueError, RuntimeError, OSError) as exc:
                raise ModelLoadError(
                    f"cannot load {self.path}: {_LOG.reason()}", str(self.path)
                ) from exc
        self.n_threads = threads
        self.n_gpu_layers = n_gpu_layers
        self._vocab = self._llm._model.vocab
        model = self._llm._model
        bos, eos = self._llm.token_bos(), self._llm.token_eos()
        self._chat = ChatPrompt(
            chat_template if chat_template is not None else info.chat_template,
            tokenize=lambda text, special: self._tokenize(text, special=special),
            add_bos=bool(model.add_bos_token()),
            bos=bos,
            bos_text=model.token_get_text(bos) if bos >= 0 else "",
            eos_text=model.token_get_text(eos) if eos >= 0 else "",
        )
        self._grammars: dict[str, Any] = {}

    # -- prompt -------------------------------------------------------------------------

    def chat_tokens(self, user_message: str) -> list[int]:
        """The prompt tokens for one user message, through the model's chat template."""
        return self._chat.tokens(user_message)

    def text_tokens(self, text: str) -> list[int]:
        """Tokens for plain text; special-token text stays text."""
        return self._tokenize(text, special=False)

    def _tokenize(self, text: str, *, special: bool) -> list[int]:
        if not text:
            return []
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=special))

    # -- generation ---------------------------------------------------------------------

    def generate(
        self,
        tokens: Sequence[int],
        *,
        grammar: str | None,
        max_tokens: int,
        sampling: Sampling,
    ) -> Iterator[Chunk]:
        """Yield text pieces as they are generated, then one `Finished`."""
        llm = self._llm
        llm.set_seed(sampling.seed)
        # Evaluate the whole prompt every time. llama-cpp-python would reuse a cached prefix,
        # but a prompt split into different batches gives slightly different floats, and
        # greedy decoding can then pick another token: the same input must get the same verdict.
        llm.reset()
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        count, reason = 0, "length"
        try:
            stream = llm.generate(
                list(tokens),
                temp=sampling.temperature,
                top_k=40,
                top_p=0.95,
                min_p=0.05,
                repeat_penalty=1.0,
                grammar=self._grammar(grammar) if grammar else None,
            )
            for token in stream:
                if self._llama_cpp.llama_vocab_is_eog(self._vocab, token):
                    reason = "eos"
                    break
                count += 1
                text = decoder.decode(llm.detokenize([token]))
                if text:
                    yield text
                if count >= max_tokens:
                    break
            stream.close()
        except (RuntimeError, ValueError) as exc:
            raise GenerationError(f"llama.cpp failed while generating: {exc}") from exc
        rest = decoder.decode(b"", final=True)
        if rest:
            yield rest
        yield Finished(completion_tokens=count, stop_reason=reason)

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

    def _grammar(self, text: str) -> Any:
        if text not in self._grammars:
            from llama_cpp.llama_grammar import LlamaGrammar

            self.check_grammar(text)
            self._grammars[text] = LlamaGrammar.from_string(text, verbose=False)
        return self._grammars[text]

    def close(self) -> None:
        """Free the model and its context."""
        llm = getattr(self, "_llm", None)
        if llm is not None:
            llm.close()
            self._llm = None  # type: ignore[assignment]
