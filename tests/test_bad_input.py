"""Every command as a real process against a corpus of bad input: `tests/data/bad/*.toml`.

Each case file is one thing a user might do (the format is in `tests/data/bad/README.md`). It
runs in a fresh folder with its own cache and config, and must end as the README promises:
the exit code the case names, exactly one line on stderr when that code is not 0, never a
traceback, and every JSONL output the case names still valid line by line. Beside the cache
lies a canary folder that no command may touch (a catalog entry named `../../canary` aims
at it), and every special file a case lays out (a pipe, a socket) must still be one after.
"""

from __future__ import annotations

import ast
import json
import os
import socket
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from edgejudge.paths import CACHE_ENV, CONFIG_ENV
from edgejudge.util.toml_compat import tomllib

CORPUS = Path(__file__).parent / "data" / "bad"


@dataclass
class Case:
    """One case file, read."""

    name: str
    about: str
    args: list[str]
    exit: int
    stderr: str
    stdout: str = ""
    model: bool = False
    stdin: bytes | None = None
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    jsonl: dict[str, dict[str, Any]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)  # file: what it must link to after


def load_case(path: Path) -> Case:
    """A case file as a `Case` (unknown keys are an error, so typos do not pass silently)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    stdin = data.pop("stdin", None)
    if stdin is not None:
        data["stdin"] = file_bytes(stdin)
    return Case(name=path.stem, **data)


def file_bytes(spec: Any) -> bytes:
    """A file's content: text (UTF-8), or `{bytes = "b'...'"}` for bytes that are not text."""
    if isinstance(spec, str):
        return spec.encode("utf-8")
    literal = ast.literal_eval(spec["bytes"])
    assert isinstance(literal, bytes), spec
    return literal


def lay_out(root: Path, files: dict[str, Any]) -> list[socket.socket]:
    """Create `files` under `root`: text, bytes, or with a table a folder (`folder = true`),
    a named pipe (`fifo = true`), a listening Unix socket (`socket = true`, returned to be
    closed) or a symbolic link (`link = "target"`)."""
    sockets = []
    for name, spec in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(spec, dict) and spec.get("folder"):
            target.mkdir()
        elif isinstance(spec, dict) and spec.get("fifo"):
            os.mkfifo(target)
        elif isinstance(spec, dict) and spec.get("socket"):
            listener = socket.socket(socket.AF_UNIX)
            listener.bind(str(target))
            sockets.append(listener)
        elif isinstance(spec, dict) and "link" in spec:
            target.symlink_to(spec["link"])
        else:
            target.write_bytes(file_bytes(spec))
    return sockets


def special_files(root: Path) -> dict[Path, int]:
    """Every file under `root` that is not a regular file, folder or link, and its kind."""
    found = {}
    for path in root.rglob("*"):
        mode = path.lstat().st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
            found[path] = stat.S_IFMT(mode)
    return found


def case_params() -> list[Any]:
    """Every case file, marked `model` where it loads the demo model."""
    params = []
    for path in sorted(CORPUS.glob("*.toml")):
        case = load_case(path)
        marks = [pytest.mark.model] if case.model else []
        params.append(pytest.param(case, id=case.name, marks=marks))
    return params


def command_of(args: list[str]) -> str:
    """`judge`, `batch`…, or `models pull`, `metrics show`… for commands with subcommands."""
    return " ".join(args[:2]) if args[0] in {"metrics", "models"} else args[0]


def test_the_corpus_covers_every_command() -> None:
    covered = {command_of(load_case(path).args) for path in CORPUS.glob("*.toml")}
    wanted = {"judge", "batch", "prompt", "grammar", "metrics show", "models pull",
              "models path", "models verify", "models import", "models rm", "doctor"}  # fmt: skip
    assert wanted <= covered, f"no case for {sorted(wanted - covered)}"


@pytest.mark.parametrize("case", case_params())
def test_bad_input(case: Case, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    work, config = tmp_path / "work", tmp_path / "config"
    work.mkdir()
    sockets = lay_out(work, case.files) + lay_out(config, case.config)
    canary = tmp_path / "canary"
    lay_out(canary, {"keep.txt": "a file no command may touch", "x.gguf": "GGUF"})
    specials = special_files(work)
    cache = request.getfixturevalue("demo_cache") if case.model else tmp_path / "cache"
    before = {name: (work / name).read_bytes() for name in case.unchanged}
    env = {k: v for k, v in os.environ.items() if k not in {"EDGEJUDGE_DEBUG", "HF_ENDPOINT"}}
    env.update(
        {CACHE_ENV: str(cache), CONFIG_ENV: str(config), "HF_HOME": str(tmp_path / "hf")},
        HF_HUB_OFFLINE="1",
        **case.env,
    )
    try:
        done = subprocess.run(
            [sys.executable, "-m", "edgejudge", *case.args],
            cwd=work,
            env=env,
            input=case.stdin if case.stdin is not None else b"",
            capture_output=True,
            timeout=300,
        )
    finally:
        for listener in sockets:
            listener.close()
    err = done.stderr.decode("utf-8", "replace")
    out = done.stdout.decode("utf-8", "replace")
    report = f"{case.about}\nexit {done.returncode}\nstderr:\n{err}\nstdout:\n{out[:2000]}"
    assert done.returncode == case.exit, report
    assert "Traceback" not in err + out, report
    if case.exit != 0:
        assert err.endswith("\n") and err.count("\n") == 1, report
    assert case.stderr in err, report
    assert case.stdout in out, report
    for name, expect in case.jsonl.items():
        check_jsonl(work / name, expect, report)
    for name, content in before.items():
        assert (work / name).read_bytes() == content, f"{name} changed\n{report}"
    for name, target in case.links.items():
        assert os.readlink(work / name) == target, f"{name} is no longer a link\n{report}"
    assert special_files(work) == specials, f"a special file was replaced\n{report}"
    assert sorted(p.name for p in canary.iterdir()) == ["keep.txt", "x.gguf"], report
    assert (canary / "keep.txt").read_text() == "a file no command may touch", report


def check_jsonl(path: Path, expect: dict[str, Any], report: str) -> None:
    """Every line of `path` is a JSON object with an id, each id once; counts as expected."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    assert text == "" or text.endswith("\n"), f"{path.name} ends mid-line\n{report}"
    rows = [json.loads(line) for line in text.splitlines()]
    assert all(isinstance(r, dict) and "id" in r for r in rows), report
    ids = [json.dumps(r["id"]) for r in rows]
    assert len(ids) == len(set(ids)), f"an id twice in {path.name}\n{report}"
    if "rows" in expect:
        assert len(rows) == expect["rows"], report
    errors = [r["error"] for r in rows if "error" in r]
    assert len(errors) == len(expect.get("errors", errors)), report
    for wanted in expect.get("errors", []):
        assert any(wanted in e for e in errors), f"no error row says {wanted!r}\n{report}"
