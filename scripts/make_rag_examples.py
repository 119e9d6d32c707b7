"""Write examples/rag.jsonl: 20 retrieval-augmented answers over long contexts.

Each context is the documentation of one module of Python's standard library, as its
docstrings give it (`pydoc`'s plain text, cut to 1,000-2,000 tokens of the demo model):
text free to reuse under the Python Software Foundation License. Each row asks about one
function of the module. Even rows answer with that function's own first docstring line
(faithful to the context); odd rows answer with another module's function's line (not
supported by it). Run with the Python the rows were made with (3.11) to get the same file.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pydoc
import re
import sys
from pathlib import Path

MODULES = (
    "textwrap",
    "heapq",
    "bisect",
    "shlex",
    "fnmatch",
    "glob",
    "statistics",
    "secrets",
    "difflib",
    "filecmp",
    "calendar",
    "colorsys",
    "zlib",
    "base64",
    "html",
    "gzip",
    "random",
    "string",
    "copy",
    "graphlib",
    "json",
    "csv",
    "functools",
    "itertools",
    "operator",
    "math",
    "datetime",
    "shutil",
    "tempfile",
    "zipfile",
    "tarfile",
    "uuid",
    "ipaddress",
    "fractions",
    "decimal",
    "pprint",
    "reprlib",
    "enum",
    "hashlib",
    "hmac",
)
ROWS = 20
LOW, HIGH = 1000, 2000  # context tokens (gemma-3 tokenizer of the demo model)


def first_line(text: str | None) -> str:
    """The first sentence of a docstring, on one line."""
    text = " ".join((text or "").strip().split())
    return re.split(r"(?<=\.)\s", text, maxsplit=1)[0]


def documented(module: object) -> list[tuple[str, str]]:
    """The module's public functions with a docstring: (name, first sentence)."""
    found = []
    for name, value in inspect.getmembers(module, callable):
        line = first_line(inspect.getdoc(value))
        if not name.startswith("_") and len(line) > 25 and inspect.isroutine(value):
            found.append((name, line))
    return found


def main() -> None:
    """Write the rows, each context cut to between LOW and HIGH tokens."""
    from edgejudge.models.resolve import resolve
    from edgejudge.runtime.inprocess.llama_cpp import LlamaCppRuntime

    runtime = LlamaCppRuntime(resolve("demo").path, context_length=4096)
    chosen = []  # (module, context) for modules whose documentation is long enough
    for module in map(importlib.import_module, MODULES):
        text = pydoc.render_doc(module, renderer=pydoc.plaintext)
        text = re.sub(r"\n\s*\n+", "\n\n", text)
        context = ""
        for line in text.splitlines():
            if len(runtime.text_tokens(context + line + "\n")) > HIGH:
                break
            context += line + "\n"
        named = [(n, t) for n, t in documented(module) if f"{n}(" in context]
        if len(runtime.text_tokens(context)) >= LOW and named:
            chosen.append((module, context))
    chosen = chosen[:ROWS]
    modules = [module for module, _ in chosen]
    rows = []
    for index, (module, context) in enumerate(chosen):
        name, line = next((n, t) for n, t in documented(module) if f"{n}(" in context)
        if index % 2:
            other = modules[(index + 7) % len(modules)]
            line = documented(other)[0][1]
        rows.append(
            {
                "id": f"rag-{index + 1:02d}",
                "query": f"In Python's {module.__name__} module, what does {name}() do?",
                "context": context.strip(),
                "response": f"{name}() is documented as follows: {line}",
            }
        )
    runtime.close()
    out = Path(__file__).resolve().parents[1] / "examples" / "rag.jsonl"
    out.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    print(f"wrote {len(rows)} rows to {out} (Python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
