"""One user message through a model's chat template into prompt tokens, for every runtime.

The in-process and server runtimes both build their prompts here, so a judge sees the same
tokens whichever runtime carries it: the template rendered by the same Jinja code, its
markup tokenized with special tokens recognised, the message tokenized as plain text, and
one BOS token when the vocabulary asks for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_MESSAGE_MARK = "\x1fEDGEJUDGE-MESSAGE\x1f"

Tokenize = Callable[[str, bool], list[int]]  # (text, special) -> tokens, no BOS added


class ChatPrompt:
    """Builds prompt tokens for one user message.

    `template` is the model's Jinja chat template (None: the message goes in bare);
    `bos`/`bos_text`/`eos_text` are the vocabulary's tokens; `add_bos` says whether the
    model wants a BOS token first; `tokenize(text, special)` is the runtime's tokenizer.
    """

    def __init__(
        self,
        template: str | None,
        *,
        tokenize: Tokenize,
        add_bos: bool,
        bos: int,
        bos_text: str,
        eos_text: str,
    ) -> None:
        self._tokenize = tokenize
        self._head = [bos] if add_bos and bos >= 0 else []
        self._strip_bos = bos_text if add_bos else ""
        self._formatter: Any = None
        self._around: tuple[str, str] | None = None
        self._markup: tuple[list[int], list[int]] | None = None
        if template is not None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=eos_text,
                bos_token=bos_text,
                add_generation_prompt=True,
            )
            # Where the message sits in the template, found once by rendering a marker.
            self._around = _split(self.render(_MESSAGE_MARK))

    def render(self, message: str) -> str:
        """The template's text for `message` (without the BOS token added as a token)."""
        if self._formatter is None:
            return message
        text = str(self._formatter(messages=[{"role": "user", "content": message}]).prompt)
        # The BOS token is added as a token when the vocabulary asks for one, as llama.cpp's
        # own chat path does; drop the template's copy so there is only one.
        if self._strip_bos and text.startswith(self._strip_bos):
            text = text[len(self._strip_bos) :]
        return text

    def tokens(self, message: str) -> list[int]:
        """The prompt tokens for `message`.

        The template's own markup is tokenized with special tokens recognised; the message
        is tokenized as plain text, so a judged answer that contains `<end_of_turn>` or
        `<|end|>` cannot close the turn early and steer the judge.
        """
        if self._formatter is None:
            return self._head + self._text(message, special=False)
        rendered = self.render(message)
        if self._around is None or rendered != message.join(self._around):
            # The template rewrites the message (trims it, say): tokenize it as rendered.
            return self._head + self._text(rendered, special=True)
        if self._markup is None:  # the template's own parts never change: tokenize once
            prefix, suffix = self._around
            self._markup = (self._text(prefix, special=True), self._text(suffix, special=True))
        before, after = self._markup
        return self._head + before + self._text(message, special=False) + after

    def _text(self, text: str, *, special: bool) -> list[int]:
        return self._tokenize(text, special) if text else []


def _split(marked: str) -> tuple[str, str] | None:
    if marked.count(_MESSAGE_MARK) != 1:
        return None
    prefix, suffix = marked.split(_MESSAGE_MARK)
    return prefix, suffix
