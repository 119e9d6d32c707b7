"""The house's layout rules, read from the source: imports flow one way.

- `core/` is pure: it imports nothing of edgejudge outside itself but `errors`;
- nothing under `runtime/` imports `models/` (a runtime is given a file, never a name), nor
  the judging, CLI or TUI layers above it;
- no module imports another that imports it back, and there is no longer cycle either;
- the TUI's tabs never import the app (attributes down, messages up).

Every `import` counts, those inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "edgejudge"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports(name: str) -> set[str]:
    """The edgejudge modules `name` imports (a `from pkg import mod` names pkg.mod)."""
    found: set[str] = set()
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in MODULES else node.module)
    return {module for module in found if module in MODULES and module != name}


GRAPH = {name: imports(name) for name in MODULES}


def test_the_graph_was_read() -> None:
    assert "edgejudge.core.formats.shape" in GRAPH["edgejudge.core.formats.flow_judge"]
    assert "edgejudge.judging.pipeline" in GRAPH["edgejudge.judging.judge"]
    # `from edgejudge.cli import args` names the module edgejudge.cli.args
    assert "edgejudge.cli.args" in GRAPH["edgejudge.cli.judging"]


def test_core_is_pure() -> None:
    for name, targets in GRAPH.items():
        if name.startswith("edgejudge.core"):
            outside = {t for t in targets if not t.startswith("edgejudge.core")}
            assert outside <= {"edgejudge.errors"}, name


@pytest.mark.parametrize("layer", ["models", "judging", "cli", "tui"])
def test_runtimes_do_not_import_the_layers_above(layer: str) -> None:
    for name, targets in GRAPH.items():
        if name.startswith("edgejudge.runtime"):
            assert not {t for t in targets if t.startswith(f"edgejudge.{layer}")}, name


def test_no_module_imports_one_that_imports_it_back() -> None:
    # A package's __init__ that gathers its modules is the one allowed way back.
    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        seen: set[str] = set()
        while stack:
            node, path = stack.pop()
            for target in GRAPH[node]:
                if target == start:
                    return [*path, start]
                if target not in seen and not start.startswith(target + "."):
                    seen.add(target)
                    stack.append((target, [*path, target]))
        return None

    cycles = [cycle for name in GRAPH if (cycle := cycle_from(name))]
    assert not cycles, cycles[0]


def test_the_tabs_do_not_import_the_app() -> None:
    for name, targets in GRAPH.items():
        if name.startswith("edgejudge.tui.") and name != "edgejudge.tui.app":
            assert "edgejudge.tui.app" not in targets, name
