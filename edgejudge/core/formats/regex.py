"""The verdict grammar as a regular expression, for engines whose only constraint is a regex
(TGI's `grammar: {"type": "regex"}`).

Every grammar edgejudge writes (`shape.py`, `gbnf.py`) is regular: rules refer to later
rules, never back to themselves, so inlining each rule where it is used gives one regular
expression. This reads exactly that subset of GBNF: quoted strings, character classes,
rule names, groups, alternatives and the repeats `?`, `*`, `+`, `{m}`, `{m,n}`. A bounded
repeat longer than `longest` becomes `*` (a regex engine builds a state per repeat, and the
token budget bounds the answer anyway): the regex then admits more lengths of free text,
never other characters. Fixed text and classes are written with `\\xNN` escapes for
control characters, which Python's `re` and Outlines (TGI's regex engine) both read.
"""

from __future__ import annotations

import re

# Repeats up to this many stay bounded in the regex; longer ones become unbounded.
LONGEST_REPEAT = 64

_TOKEN = re.compile(
    r"""
    (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<cls>\[(?:[^\]\\]|\\.)*\])
  | (?P<name>[a-zA-Z][a-zA-Z0-9-]*)
  | (?P<repeat>\{\d+(?:,\d*)?\})
  | (?P<op>[()|?*+])
  | (?P<space>\s+)
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "]": "]", "^": "^", "-": "-"}


def gbnf_to_regex(grammar: str, *, longest: int = LONGEST_REPEAT) -> str:
    """One regular expression (Python and Outlines syntax, no anchors) that matches exactly
    what `grammar`'s `root` rule matches. `ValueError` for GBNF outside the subset above,
    or a rule that refers back to itself."""
    rules = _rules(grammar)
    if "root" not in rules:
        raise ValueError("the grammar has no root rule")
    done: dict[str, str] = {}

    def expand(name: str, seen: tuple[str, ...]) -> str:
        if name in seen:
            raise ValueError(f"rule {name!r} refers back to itself: not a regular grammar")
        if name not in rules:
            raise ValueError(f"rule {name!r} is used but not defined")
        if name not in done:
            done[name] = _Expression(rules[name], longest, lambda n: expand(n, (*seen, name))).alt()
        return done[name]

    return expand("root", ())


def _rules(grammar: str) -> dict[str, str]:
    rules: dict[str, str] = {}
    current: str | None = None
    for line in grammar.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        head, sep, body = line.partition("::=")
        if sep and re.fullmatch(r"\s*[a-zA-Z][a-zA-Z0-9-]*\s*", head):
            current = head.strip()
            rules[current] = body
        elif current is not None:
            rules[current] += " " + line
        else:
            raise ValueError(f"not a GBNF rule: {line!r}")
    return rules


class _Expression:
    """A recursive-descent reader of one rule's body, writing the regex as it goes."""

    def __init__(self, text: str, longest: int, rule: object) -> None:
        self.tokens: list[tuple[str, str]] = []
        at = 0
        while at < len(text):
            match = _TOKEN.match(text, at)
            if match is None:
                raise ValueError(f"GBNF this reader does not know: {text[at:].strip()!r}")
            if match.lastgroup != "space":
                self.tokens.append((match.lastgroup or "", match.group()))
            at = match.end()
        self.at = 0
        self.longest = longest
        self.rule = rule

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def alt(self) -> str:
        options = [self.seq()]
        while self.peek() == ("op", "|"):
            self.at += 1
            options.append(self.seq())
        if self.peek() not in (None, ("op", ")")):
            raise ValueError(f"unexpected {self.peek()!r} in GBNF")
        first = options[0]
        if first.endswith("*") and all(not o.replace(f"({first})", "") for o in options[1:]):
            # `x{0,999} | x{1000} rest` with both long repeats unbounded: `x*` once.
            return first
        return first if len(options) == 1 else "(" + "|".join(options) + ")"

    def seq(self) -> str:
        out = ""
        while (token := self.peek()) is not None and token not in (("op", "|"), ("op", ")")):
            atom = self.atom()
            out += self.repeated(atom)
        return out

    def atom(self) -> str:
        kind, value = self.tokens[self.at]
        self.at += 1
        if kind == "string":
            return "(" + "".join(_literal_char(c) for c in _unescape(value[1:-1])) + ")"
        if kind == "cls":
            return _char_class(value)
        if kind == "name":
            assert callable(self.rule)
            return "(" + str(self.rule(value)) + ")"
        if (kind, value) == ("op", "("):
            inner = self.alt()
            if self.peek() != ("op", ")"):
                raise ValueError("unclosed group in GBNF")
            self.at += 1
            return "(" + inner + ")"
        raise ValueError(f"unexpected {value!r} in GBNF")

    def repeated(self, atom: str) -> str:
        token = self.peek()
        if token is None or token[0] not in ("repeat", "op") or token[1] in "()|":
            return atom
        self.at += 1
        if token[1] in "?*+":
            return atom + token[1]
        low, _, high = token[1][1:-1].partition(",")
        if "," not in token[1]:
            high = low
        if high == "" or int(high) > self.longest:
            return atom + "*"
        return atom + f"{{{low},{high}}}" if low != high else atom + f"{{{low}}}"


def _unescape(text: str) -> str:
    out, i = "", 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "x":
                out += chr(int(text[i + 2 : i + 4], 16))
                i += 4
                continue
            out += _ESCAPES.get(nxt, nxt)
            i += 2
            continue
        out += text[i]
        i += 1
    return out


def _char_class(value: str) -> str:
    """A GBNF class as a regex class, every member written with an escape the regex reads."""
    body = value[1:-1]
    negate = body.startswith("^")
    if negate:
        body = body[1:]
    out, i = "", 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt == "x":
                char, i = chr(int(body[i + 2 : i + 4], 16)), i + 4
            else:
                char, i = _ESCAPES.get(nxt, nxt), i + 2
        else:
            i += 1
        out += "-" if char == "-" and _is_range(body, i - 1) else _class_char(char)
    return "[" + ("^" if negate else "") + out + "]"


def _is_range(body: str, index: int) -> bool:
    """Whether the `-` at `index` (unescaped) stands between two members: a range."""
    return 0 < index < len(body) - 1 and body[index - 1] != "\\"


def _class_char(char: str) -> str:
    if char in "\\]^-[":
        return "\\" + char
    if ord(char) < 0x21 or ord(char) == 0x7F:
        return f"\\x{ord(char):02x}"
    return char


def _literal_char(char: str) -> str:
    if char in ".^$*+?{}[]\\|()":
        return "\\" + char
    if ord(char) < 0x21 or ord(char) == 0x7F:
        return f"\\x{ord(char):02x}"
    return char
