"""Every error edgejudge raises on purpose.

One root, `EdgeJudgeError`. Each subclass also inherits the built-in it is a kind of, so
callers that already catch `FileNotFoundError` or `ValueError` keep working, and carries
the facts a user needs. The CLI turns any of them into one line and an exit code:
`exit_code` 2 means the user's input or usage was wrong, 1 that something failed at run time.
"""

from __future__ import annotations


class EdgeJudgeError(Exception):
    """Root of all edgejudge errors."""

    exit_code: int = 1


class Cancelled(Exception):
    """A judgment or download stopped on request (the TUI's cancel), not a failure.

    Deliberately not an `EdgeJudgeError`: a batch records failures as error rows, but a
    cancelled row must be left undone so that the next run judges it.
    """


class MetricError(EdgeJudgeError, ValueError):
    """A metric (preset name, TOML file or object) is unknown or invalid."""

    exit_code = 2


class InputError(EdgeJudgeError, ValueError):
    """An evaluation input does not fit the metric: missing, unexpected or ill-typed keys."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        missing: tuple[str, ...] = (),
        unexpected: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.missing = missing
        self.unexpected = unexpected


class ParseError(EdgeJudgeError, ValueError):
    """The judge's output is not a well-formed verdict; `raw` holds the text as generated."""

    def __init__(self, message: str, raw: str) -> None:
        super().__init__(message)
        self.raw = raw


class ContextOverflowError(EdgeJudgeError, ValueError):
    """The prompt plus the feedback-token budget do not fit the model's context window."""

    exit_code = 2

    def __init__(self, prompt_tokens: int, max_new_tokens: int, context_length: int) -> None:
        super().__init__(
            f"prompt is {prompt_tokens} tokens and the judge may write up to {max_new_tokens} "
            f"more, but the context holds {context_length}: shorten the input, lower "
            f"--max-tokens, or raise --ctx"
        )
        self.prompt_tokens = prompt_tokens
        self.max_new_tokens = max_new_tokens
        self.context_length = context_length


class CatalogError(EdgeJudgeError, ValueError):
    """`models.toml` is malformed."""

    exit_code = 2


class ModelNotFoundError(EdgeJudgeError, FileNotFoundError):
    """A model name or path that is not on disk; the message says how to get it."""

    exit_code = 2


class ModelLoadError(EdgeJudgeError, RuntimeError):
    """A model file exists but cannot be loaded: not GGUF, truncated, corrupt, unsupported."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


class ModelFileError(ModelLoadError):
    """The file given as a model is not one: empty, a folder, not GGUF, cut off in its header.

    Bad input (exit 2), unlike a well-formed model that llama.cpp then fails to load.
    """

    exit_code = 2


class OutputError(EdgeJudgeError, OSError):
    """A result file cannot be written: a folder given as the file, no permission, a full disk.

    `exit_code` is 2 when the path itself is wrong and 1 when writing failed at run time; in
    both cases every line written before stays valid and a rerun resumes.
    """

    def __init__(self, message: str, path: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.path = path
        self.exit_code = exit_code


class OutputBusyError(OutputError):
    """Another run holds the lock on this output file; `pid` is its process id, if known."""

    def __init__(self, message: str, path: str, pid: int | None) -> None:
        super().__init__(message, path, exit_code=1)
        self.pid = pid


class SettingsError(EdgeJudgeError, ValueError):
    """A runtime setting llama.cpp cannot take: a context too small, too many slots."""

    exit_code = 2


class SetupError(EdgeJudgeError, OSError):
    """edgejudge's own folders cannot be used: `EDGEJUDGE_CACHE_DIR` names a file, say."""

    exit_code = 2


class GenerationError(EdgeJudgeError, RuntimeError):
    """llama.cpp failed while generating."""


class BrokenModelError(GenerationError):
    """The model computes NaN for its next-token scores: its weights are broken. No row can
    be judged with it, so a batch stops rather than writing an error row for each."""


class DownloadError(EdgeJudgeError, OSError):
    """A model could not be fetched; what was already fetched is kept for the next try."""


class OfflineError(DownloadError):
    """A download was needed while offline mode is on (`HF_HUB_OFFLINE` / `EDGEJUDGE_OFFLINE`)."""

    exit_code = 2


class ChecksumMismatchError(DownloadError):
    """A downloaded file's sha256 is not the expected one; the bad file has been removed."""

    def __init__(self, message: str, expected: str, actual: str) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class DiskSpaceError(DownloadError):
    """Not enough free disk for a download; nothing was fetched."""

    def __init__(self, message: str, needed: int, free: int) -> None:
        super().__init__(message)
        self.needed = needed
        self.free = free


class FamilyError(EdgeJudgeError, ValueError):
    """A judge family (prompt, grammar and parser) that is unknown or not built yet."""

    exit_code = 2


class ServerError(EdgeJudgeError, RuntimeError):
    """A llama.cpp server could not be started, reached or used.

    `output` holds the last lines a server edgejudge started printed, when there are any.
    """

    def __init__(self, message: str, output: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.output = output


class ServerGoneError(ServerError):
    """The server stopped answering in the middle of a request (it crashed or was killed)."""
