"""Chat messages through a model's chat template into prompt tokens, for every runtime.

The in-process and server runtimes both build their prompts here, so a judge sees the same
tokens whichever runtime carries it: the template rendered by the same Jinja code, its
markup tokenized with special tokens recognised, every message's content tokenized as plain
text, and one BOS token when the vocabulary asks for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from edgejudge.core.formats.base import Message
from edgejudge.runtime.inprocess.openmp import passive_waiting

Tokenize = Callable[[str, bool], list[int]]  # (text, special) -> tokens, no BOS added
Messages = Sequence[Message] | str  # a bare string is one user message


def as_messages(messages: Messages) -> list[Message]:
    """`messages` as a list; a bare string is one user message."""
    return [Message("user", messages)] if isinstance(messages, str) else list(messages)


def as_turns(messages: Sequence[Message]) -> list[dict[str, str]]:
    """Messages as chat templates and chat APIs take them: `{"role", "content"}` objects."""
    return [{"role": m.role, "content": m.content} for m in messages]


class ChatPrompt:
    """Builds prompt tokens for a conversation (a system prompt and a user message).

    `template` is the model's Jinja chat template (None: the contents go in bare, a blank
    line apart); `bos`/`bos_text`/`eos_text` are the vocabulary's tokens; `add_bos` says
    whether the model wants a BOS token first; `tokenize(text, special)` is the runtime's
    tokenizer.
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
        self._markup: dict[str, list[int]] = {}  # the template's own pieces, tokenized once
        self._around: dict[tuple[str, ...], list[str] | None] = {}  # by the messages' roles
        if template is not None:
            passive_waiting(os.environ)  # llama_cpp loads llama.cpp, and libgomp with it
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=eos_text,
                bos_token=bos_text,
                add_generation_prompt=True,
            )

    def render(self, messages: Messages) -> str:
        """The template's text for `messages` (without the BOS token added as a token)."""
        conversation = as_messages(messages)
        if self._formatter is None:
            return "\n\n".join(m.content for m in conversation)
        turns = as_turns(conversation)
        text = str(self._formatter(messages=turns).prompt)
        # The BOS token is added as a token when the vocabulary asks for one, as llama.cpp's
        # own chat path does; drop the template's copy so there is only one.
        if self._strip_bos and text.startswith(self._strip_bos):
            text = text[len(self._strip_bos) :]
        return text

    def tokens(self, messages: Messages) -> list[int]:
        """The prompt tokens for `messages`.

        The template's own markup is tokenized with special tokens recognised; every
        message's content as plain text, so a judged answer that contains `<end_of_turn>` or
        `<|im_end|>` cannot close the turn early and steer the judge.
        """
        conversation = as_messages(messages)
        if self._formatter is None:
            return self._head + self._text(self.render(conversation), special=False)
        contents = [m.content for m in conversation]
        markup = self._markup_around(conversation)
        rendered = self.render(conversation)
        if markup is None or rendered != _weave(markup, contents):
            # The template rewrites a message (trims it, say): tokenize it as rendered.
            return self._head + self._text(rendered, special=True)
        tokens = list(self._head)
        for piece, content in zip(markup, contents, strict=False):
            tokens += self._markup_tokens(piece) + self._text(content, special=False)
        return tokens + self._markup_tokens(markup[-1])

    def _markup_around(self, conversation: list[Message]) -> list[str] | None:
        """The template's text between the messages' contents (one more piece than there are
        messages), found once per sequence of roles by rendering markers in their place;
        None if the markers do not come through."""
        roles = tuple(m.role for m in conversation)
        if roles not in self._around:
            self._around[roles] = self._find_markup(conversation)
        return self._around[roles]

    def _find_markup(self, conversation: list[Message]) -> list[str] | None:
        marks = [f"\x1fEDGEJUDGE-MESSAGE-{i}\x1f" for i in range(len(conversation))]
        marked = self.render(
            [Message(m.role, mark) for m, mark in zip(conversation, marks, strict=True)]
        )
        pieces = []
        for mark in marks:
            if marked.count(mark) != 1:
                return None
            before, marked = marked.split(mark)
            pieces.append(before)
        return [*pieces, marked]

    def _markup_tokens(self, piece: str) -> list[int]:
        if piece not in self._markup:
            self._markup[piece] = self._text(piece, special=True)
        return self._markup[piece]

    def _text(self, text: str, *, special: bool) -> list[int]:
        return self._tokenize(text, special) if text else []


def _weave(markup: list[str], contents: list[str]) -> str:
    """The markup pieces with the contents between them."""
    return (
        "".join(piece + content for piece, content in zip(markup, contents, strict=False))
        + markup[-1]
    )
