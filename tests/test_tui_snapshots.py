"""Snapshots of each TUI tab at 80x24 and 120x40 (pytest-textual-snapshot).

The content is fixed: the machine's facts come from a stand-in for `doctor.examine` (so the
free disk and memory of the machine running the tests do not show), the demo model is
installed, and the Batch tab shows an input file and an output that already holds verdicts.
After a deliberate change to the look, refresh them with:
    .venv/bin/python -m pytest tests/test_tui_snapshots.py --snapshot-update
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from edgejudge.models.catalog import ModelEntry
from edgejudge.system.doctor import Report, catalog_fits, model_need
from edgejudge.tui import EdgeJudgeApp

SIZES = [(80, 24), (120, 40)]
GB = 1_000_000_000


def fixed_report(demo_path: Path) -> Any:
    """A `doctor.examine` stand-in: the same machine everywhere."""

    def examine(catalog: dict[str, ModelEntry]) -> Report:
        needs = {
            name: {c: model_need(e, c, available=12 * GB) for c in {4096, 8192, e.context_length}}
            for name, e in catalog.items()
        }
        return Report(
            llama_version="0.3.36",
            backends=["CPU"],
            gpu_offload=False,
            gpu=None,
            cores=8,
            memory=16 * GB,
            available=12 * GB,
            cache=Path("/home/you/.cache/edgejudge"),
            free_disk=100 * GB,
            config=Path("/home/you/.config/edgejudge"),
            offline=None,
            installed={"demo": demo_path},
            fits={
                name: catalog_fits(e, needs[name][e.context_length], 16 * GB)
                for name, e in catalog.items()
            },
            needs=needs,
        )

    return examine


VERDICTS = [
    (1, 5, "The response states exactly what the context says: Paris is the capital."),
    (2, 2, "The response adds a population figure that the context does not give."),
    (3, 4, "Mostly supported; the founding date is not in the context."),
    (4, None, "InputError: missing input: context"),
]


@pytest.fixture
def batch_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """cases.jsonl (5 rows) and cases.verdicts.jsonl with 4 of them done, in the cwd."""
    monkeypatch.chdir(tmp_path)
    case = {"query": "What is the capital of France?", "context": "Paris is.", "response": "Paris."}
    lines = [json.dumps({"id": i, **case}) for i in range(1, 6)]
    (tmp_path / "cases.jsonl").write_text("\n".join(lines) + "\n")
    out = []
    for row_id, score, text in VERDICTS:
        if score is None:
            out.append({"id": row_id, "error": text.split(": ", 1)[1], "error_type": "InputError"})
        else:
            out.append({"id": row_id, "feedback": text, "score": score})
    (tmp_path / "cases.verdicts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in out))


def app_for(demo_path: Path) -> EdgeJudgeApp:
    return EdgeJudgeApp(
        model="demo", metric="response-faithfulness-5point", examine=fixed_report(demo_path)
    )


async def ready(pilot: Pilot[Any], tab: str) -> None:
    app = pilot.app
    await app.workers.wait_for_complete()
    for _ in range(100):  # the first tab focuses its main widget; let that settle first
        await pilot.pause(0.01)
        if app.focused is not None:
            break
    await pilot.pause()
    await pilot.press({"judge": "f1", "batch": "f2", "models": "f3"}[tab])
    await pilot.pause()
    if tab == "batch":
        app.query_one("#batch-input").focus()
        await pilot.press(*"cases.jsonl", "enter")  # the table takes the focus
    await app.workers.wait_for_complete()
    for widget in app.query("Input, TextArea"):
        widget.cursor_blink = False  # type: ignore[attr-defined]  # a blink phase is not content
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("tab", ["judge", "batch", "models"])
def test_tab_snapshot(
    tab: str, size: tuple[int, int], snap_compare: Any, demo_path: Path, batch_files: None
) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await ready(pilot, tab)

    assert snap_compare(app_for(demo_path), terminal_size=size, run_before=before)


PAIR_VERDICTS = [(1, "A", True), (2, "tie", False), (3, "B", True)]


@pytest.fixture
def pair_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """cases.jsonl holding 4 pairs, and cases.verdicts.jsonl with 3 of them judged."""
    monkeypatch.chdir(tmp_path)
    pair = {"query": "Capital of France?", "context": "Paris is.", "response_a": "Paris.",
            "response_b": "Lyon."}  # fmt: skip
    lines = [json.dumps({"id": i, **pair}) for i in range(1, 5)]
    (tmp_path / "cases.jsonl").write_text("\n".join(lines) + "\n")
    out = []
    for row_id, verdict, consistent in PAIR_VERDICTS:
        orders = [
            {"order": "A,B", "preferred": "A", "choice": "A", "feedback": "A says Paris."},
            {"order": "B,A", "preferred": verdict if consistent else "B", "choice": "B",
             "feedback": "B says Paris."},
        ]  # fmt: skip
        out.append({"id": row_id, "verdict": verdict, "consistent": consistent, "orders": orders})
    (tmp_path / "cases.verdicts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in out))


@pytest.mark.parametrize("tab", ["judge", "batch"])
def test_pairwise_snapshot(tab: str, snap_compare: Any, demo_path: Path, pair_files: None) -> None:
    """A pairwise metric: the two answers side by side; the batch's win/tie/loss bar."""

    async def before(pilot: Pilot[Any]) -> None:
        await ready(pilot, tab)

    app = EdgeJudgeApp(
        model="demo", metric="pairwise-faithfulness", examine=fixed_report(demo_path)
    )
    assert snap_compare(app, terminal_size=(120, 40), run_before=before)
