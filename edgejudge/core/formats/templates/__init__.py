"""The judge families' published templates, byte-exact (see SOURCES.md beside this file)."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@cache
def template(path: str) -> str:
    """The template at `path` (`prometheus/absolute.training.txt`), exactly as published."""
    data = resources.files(__package__).joinpath(path).read_bytes()
    return data.decode("ascii")


def placeholders(text: str) -> set[str]:
    """The `{name}` fields of a template."""
    return set(_PLACEHOLDER.findall(text))


def fill(text: str, values: dict[str, str]) -> str:
    """`text` with each `{name}` replaced by `values[name]`, in one pass over the template
    only, so braces inside the user's text stay as they are. Every field must be given."""
    missing = placeholders(text) - values.keys()
    if missing:
        raise KeyError(f"no value for {sorted(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)
