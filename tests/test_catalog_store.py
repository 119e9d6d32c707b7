"""The catalog, the store's lookups, and GGUF header checks (no network anywhere)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from edgejudge.errors import CatalogError, ModelLoadError, ModelNotFoundError
from edgejudge.models.catalog import builtin_catalog, parse_catalog
from edgejudge.models.resolve import resolve
from edgejudge.models.store import sha256_file
from edgejudge.runtime.gguf import read_gguf


def test_builtin_catalog_has_demo_and_flow_judge() -> None:
    catalog = builtin_catalog()
    assert catalog["demo"].source == "pypi" and catalog["demo"].sha256
    flow = catalog["flow-judge-v0.1"]
    assert (flow.repo, flow.file, flow.context_length) == (
        "flowaicom/Flow-Judge-v0.1-GGUF",
        "flow-judge-v0.1-Q4_K_M.gguf",
        8192,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[models.x]\nkind = 'gguf'", "entry 'x', field 'family'"),
        (
            "[models.x]\nkind='zip'\nfamily='flow-judge'\nsource='pypi'\npackage='p'\nfile='f'\n"
            "context_length=1",
            "entry 'x', field 'kind'",
        ),
        (
            "[models.x]\nkind='gguf'\nfamily='flow-judge'\nsource='huggingface'\nfile='f'\ncontext_length=1",
            "needs 'repo'",
        ),
        (
            "[models.x]\nkind='gguf'\nfamily='flow-judge'\nsource='pypi'\npackage='p'\nfile='f'\n"
            "context_length=1\nsha256='abc'",
            "field 'sha256'",
        ),
        ("models = [1", "not valid TOML"),
        (
            "[models.x]\nkind='gguf'\nfamily='judgy'\nsource='pypi'\npackage='p'\nfile='f'",
            "field 'family': .*unknown family 'judgy'",
        ),
        ("[model.x]\nkind='gguf'", "unknown top-level key 'model'"),
    ],
)
def test_malformed_catalog_names_entry_and_field(text: str, message: str) -> None:
    with pytest.raises(CatalogError, match=message) as info:
        parse_catalog(text, source="/home/me/models.toml")
    assert str(info.value).startswith("/home/me/models.toml")


def test_unknown_name_lists_the_catalog() -> None:
    with pytest.raises(ModelNotFoundError, match="demo, demo-instruct, flow-judge-v0.1"):
        resolve("gpt-17")


def test_hub_model_not_downloaded_says_how_to_get_it() -> None:
    with pytest.raises(ModelNotFoundError, match="edgejudge models pull flow-judge-v0.1"):
        resolve("flow-judge-v0.1")


def test_missing_path() -> None:
    with pytest.raises(ModelNotFoundError, match="not found"):
        resolve("/nowhere/judge.gguf")


def test_demo_is_assembled_into_the_cache_and_verified(tmp_path: Path) -> None:
    local = resolve("demo")
    assert local.path.is_relative_to(tmp_path)  # the autouse fixture's cache, not the home
    assert sha256_file(local.path) == builtin_catalog()["demo"].sha256
    stamp = local.path.with_name(local.path.name + ".verified")
    assert stamp.exists()
    # A damaged copy is noticed (size/mtime change), replaced and verified again.
    with local.path.open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\0\0\0\0")
    again = resolve("demo")
    assert sha256_file(again.path) == builtin_catalog()["demo"].sha256


def _gguf_header(kvs: list[tuple[str, int, bytes]]) -> bytes:
    out = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs))
    for key, kind, value in kvs:
        out += struct.pack("<Q", len(key)) + key.encode() + struct.pack("<I", kind) + value
    return out


def _string(text: str) -> bytes:
    return struct.pack("<Q", len(text)) + text.encode()


def test_gguf_header_is_read(tmp_path: Path) -> None:
    path = tmp_path / "tiny.gguf"
    array = struct.pack("<IQ", 8, 2) + _string("a") + _string("bc")
    path.write_bytes(
        _gguf_header(
            [
                ("general.architecture", 8, _string("llama")),
                ("tokenizer.ggml.tokens", 9, array),
                ("llama.context_length", 4, struct.pack("<I", 2048)),
                ("tokenizer.chat_template", 8, _string("{{ messages }}")),
            ]
        )
    )
    info = read_gguf(path)
    assert (info.architecture, info.context_length, info.chat_template) == (
        "llama",
        2048,
        "{{ messages }}",
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04" + b"\0" * 40, "not a GGUF file"),
        (b"GGUF" + struct.pack("<IQQ", 99, 0, 0), "unsupported GGUF version 99"),
        (b"GGUF" + struct.pack("<IQQ", 3, 0, 5) + b"\x10", "truncated"),
        (b"tiny", "too small"),
    ],
)
def test_bad_files_get_clear_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(content)
    with pytest.raises(ModelLoadError, match=message):
        read_gguf(path)
