"""The reference packages' prompt modules, loaded as they ship."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def reference_module(name: str) -> ModuleType:
    """`prometheus_eval.<name>` loaded from its file: the package's __init__ imports fastchat,
    which is not installed (and not needed for its prompt strings)."""
    spec = importlib.util.find_spec("prometheus_eval")
    assert spec is not None and spec.submodule_search_locations, "prometheus-eval is missing"
    path = Path(next(iter(spec.submodule_search_locations))) / f"{name}.py"
    module_spec = importlib.util.spec_from_file_location(f"_reference_{name}", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module
