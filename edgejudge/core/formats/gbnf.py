"""Writing GBNF for llama.cpp's grammar engine: quoted strings, character classes, choices,
and long bounded repeats built so llama.cpp accepts them."""

from __future__ import annotations

from collections.abc import Iterable

# llama.cpp expands `x{0,n}` into n nested helper rules and refuses n >= 2000 (a maximum above
# 2000 silently becomes "unbounded"), so long bounds are built from blocks of this size.
REPEAT_BLOCK = 1000


def bounded_repeat(name: str, item: str, maximum: int) -> list[str]:
    """Rules `name-0` ... that match 0..maximum copies of `item` without huge repetitions."""
    rules: list[str] = []
    level = 0
    remaining = maximum
    while remaining >= REPEAT_BLOCK:
        # Either finish within this block, or take a whole block and go on.
        rules.append(
            f"{name}-{level} ::= {item}{{0,{REPEAT_BLOCK - 1}}} | {name}-block {name}-{level + 1}"
        )
        remaining -= REPEAT_BLOCK
        level += 1
    rules.append(f"{name}-{level} ::= {item}{{0,{remaining}}}")
    if level:
        rules.append(f"{name}-block ::= {item}{{{REPEAT_BLOCK}}}")
    return rules


def choices(values: Iterable[str]) -> str:
    return " | ".join(quote(v) for v in values)


_GBNF_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote(text: str) -> str:
    """A GBNF string literal."""
    return '"' + "".join(_GBNF_ESCAPES.get(c, c) for c in text) + '"'


def class_char(char: str) -> str:
    """`char` inside a GBNF character class."""
    return {"]": r"\]", "^": r"\^", "\\": "\\\\", "-": r"\-", "\n": r"\n"}.get(char, char)
