"""Print each TUI screen as plain text, as the app draws it on this machine.

    python scripts/tui_screens.py                 # 80x24 and 120x40, every tab
    python scripts/tui_screens.py --size 100x30 --tab judge
    python scripts/tui_screens.py --size 80x24 --tab judge --run examples/faithful.json

Used for the README and issue notes; the snapshot tests (tests/test_tui_snapshots.py) hold
the SVG renderings.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
from pathlib import Path

from rich.console import Console
from textual.widgets import TextArea

from edgejudge.tui import EdgeJudgeApp


def screen_text(app: EdgeJudgeApp) -> str:
    """The app's screen as text, one line per terminal row, trailing spaces removed."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        record=True,
        color_system=None,
        legacy_windows=False,
    )
    console.print(app.screen._compositor.render_update(full=True))
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


async def show(size: tuple[int, int], tabs: list[str], run: str | None) -> None:
    app = EdgeJudgeApp(model="demo" if run else None)
    async with app.run_test(size=size) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        if run:  # fill the Judge tab from a JSON input and judge it with the demo model
            case = json.loads(Path(run).read_text(encoding="utf-8"))
            for area in app.query("#fields TextArea").results(TextArea):
                area.text = case.get(area.field_name, "")  # type: ignore[attr-defined]
            await pilot.press("ctrl+r")
            await app.workers.wait_for_complete()
            await pilot.pause()
        for tab in tabs:
            app.action_show_tab(tab)
            await pilot.pause()
            await pilot.pause()
            print(f"--- {tab} at {size[0]}x{size[1]} ---")
            print(screen_text(app))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", action="append", help="WxH (default 80x24 and 120x40)")
    parser.add_argument("--tab", action="append", choices=["judge", "batch", "models"])
    parser.add_argument("--run", metavar="CASE.json", help="judge this input on demo first")
    args = parser.parse_args()
    sizes = [tuple(map(int, s.split("x"))) for s in (args.size or ["80x24", "120x40"])]
    for size in sizes:
        asyncio.run(show(size, args.tab or ["judge", "batch", "models"], args.run))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
