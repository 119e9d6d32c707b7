"""scripts/make_standin.py: stand-ins with a judge's architecture, made the way the real ones
are (random Q8_0 weights, requantised to Q4_K_M by llama.cpp's own quantiser), here at a
tiny size so the test is quick. They load through `--model PATH` and their GGUF headers say
the shape edgejudge sizes memory from."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from edgejudge import Judge, RuntimeOptions
from edgejudge.runtime.gguf import read_gguf
from edgejudge.system.memory import ModelShape, shape_from_gguf

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "make_standin.py"
ROW = {"query": "What is 2+2?", "context": "2+2 is 4.", "response": "4."}


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_standin", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.model
@pytest.mark.parametrize(("arch", "kv_heads"), [("phi3", 4), ("llama", 2)])
def test_a_tiny_standin_is_made_quantised_and_judges(
    arch: str, kv_heads: int, instruct_path: Path, tmp_path: Path
) -> None:
    make_standin = _script()
    # The real specs' figures, where the test can check them without making 2-5 GB files.
    flow, selene = make_standin.SPECS["flow-judge-sized"], make_standin.SPECS["selene-sized"]
    assert (flow.layers, flow.width, flow.ffn, flow.heads, flow.kv_heads) == (
        32,
        3072,
        8192,
        32,
        32,
    )
    assert (selene.layers, selene.width, selene.kv_heads, selene.head_size) == (32, 4096, 8, 128)
    # SmolLM2's tokenizer and chat template, from a file already here (the real stand-ins
    # take Phi-3's and Llama-3's from the llama-cpp-python sdist).
    spec = make_standin.Spec(arch, "a test", 2, 256, 512, 4, kv_heads, 4096, 10000.0,
                             str(instruct_path), "")  # fmt: skip
    path = make_standin.make(f"tiny-{arch}", spec, tmp_path, "Q4_K_M", 0, 2)
    assert path == tmp_path / f"tiny-{arch}-Q4_K_M.gguf"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, path.stem + ".json"])
    info = read_gguf(path)
    assert info.architecture == arch and info.quant == "Q4_K_M"
    assert (
        info.context_length == 4096 and info.chat_template == read_gguf(instruct_path).chat_template
    )
    assert shape_from_gguf(info) == ModelShape(2, kv_heads, 64, 49152)
    note = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert note["quant"] == "Q4_K_M" and note["spec"]["arch"] == arch
    # A second call finds it made.
    assert make_standin.make(f"tiny-{arch}", spec, tmp_path, "Q4_K_M", 0, 2) == path
    # Random weights write nonsense: the grammar holds it to the format and the close-out
    # gives it a score, which is what the stand-ins measure.
    options = RuntimeOptions(context_length=1024, n_threads=2)
    with Judge(str(path), "response-faithfulness-5point", max_tokens=8, runtime=options) as judge:
        result = judge.evaluate(ROW)
    assert result.score in range(1, 6)
