"""The house's layout rules, read from the source: imports flow one way.

- `core/` is pure: it imports nothing of edgejudge outside itself but `errors`;
- nothing under `runtime/` imports `models/` (a runtime is given a file, never a name), nor
  the judging, meta-evaluation, integration, CLI or TUI layers above it;
- meta-evaluation's pure modules do no I/O: no file, process or network module, no `open`;
- no module imports another that imports it back, and there is no longer cycle either;
- the TUI's tabs never import the app (attributes down, messages up);
- the README's layout block names every package and module, and nothing that is not there;
- tests share helpers through `tests/support/` only: no test module imports another.

Every `import` counts, those inside functions too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "edgejudge"


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


@pytest.mark.parametrize("layer", ["models", "judging", "meta_eval", "integrations", "cli", "tui"])
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


PURE_META_EVAL = ("labels", "statistics", "baselines", "evaluation", "report")
IO_MODULES = {"os", "io", "pathlib", "json", "shutil", "subprocess", "socket", "tempfile"}
IO_MODULES |= {"urllib", "http", "sqlite3", "csv", "pickle"}


@pytest.mark.parametrize("module", PURE_META_EVAL)
def test_meta_evaluations_pure_modules_do_no_io(module: str) -> None:
    name = f"edgejudge.meta_eval.{module}"
    allowed = (
        "edgejudge.core",
        "edgejudge.errors",
        *(f"edgejudge.meta_eval.{m}" for m in PURE_META_EVAL),
    )
    assert all(target.startswith(allowed) for target in GRAPH[name]), GRAPH[name]
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not {a.name.split(".")[0] for a in node.names} & IO_MODULES, name
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.module.split(".")[0] not in IO_MODULES, name
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id != "open", name


def layout_block() -> str:
    """The README's layout block: the text block under the line that starts `Layout (`."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    after = readme[readme.index("\nLayout (") :]
    return after.split("```text\n", 1)[1].split("```", 1)[0]


def sections(block: str) -> dict[str, str]:
    """Each package named in the block (`edgejudge/runtime/inprocess`) and the text of its
    entry, up to the next package named; nesting is by two spaces."""
    found: dict[str, str] = {}
    trail: list[str] = []
    current = ""
    for line in block.splitlines():
        entry = re.match(r"^( *)([\w-]+)/( |$)", line)
        if entry:
            depth = len(entry.group(1)) // 2
            trail = [*trail[:depth], entry.group(2)]
            current = "/".join(trail)
            found[current] = ""
        if current:
            found[current] += line + "\n"
    return found


def test_the_readme_layout_names_every_package_and_module() -> None:
    named = sections(layout_block())
    packages = {str(init.parent.relative_to(ROOT)) for init in PACKAGE.rglob("__init__.py")}
    assert packages <= set(named), sorted(packages - set(named))
    for package in packages:
        folder = ROOT / package
        modules = {p.name for p in folder.glob("*.py") if p.name != "__init__.py"}
        mentioned = set(re.findall(r"\b(\w+\.py)\b", named[package]))
        assert modules <= mentioned, (package, sorted(modules - mentioned))
        assert mentioned <= modules, (package, sorted(mentioned - modules))


def test_no_test_module_imports_another() -> None:
    for path in (ROOT / "tests").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not re.match(r"tests\.test_", node.module), (path.name, node.module)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert not re.match(r"tests\.test_", alias.name), (path.name, alias.name)
