"""Driving the TUI in tests: a scenario's app, settled pilots, typing into fields."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from textual.pilot import Pilot
from textual.widgets import TextArea

from edgejudge.tui import EdgeJudgeApp

Scenario = Callable[[EdgeJudgeApp, Pilot[Any]], Awaitable[None]]

CASE = {
    "query": "What is the capital of France?",
    "context": "Paris is the capital and largest city of France.",
    "response": "The capital of France is Paris.",
}


def drive(scenario: Scenario, size: tuple[int, int] = (100, 32), **kwargs: Any) -> EdgeJudgeApp:
    """Run the app headless under a pilot, run `scenario`, and quit the way a user does."""
    app = EdgeJudgeApp(**kwargs)

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await settle(app, pilot)
            await scenario(app, pilot)
            await pilot.press("ctrl+q")
            await pilot.pause()

    asyncio.run(main())
    return app


async def settle(app: EdgeJudgeApp, pilot: Pilot[Any]) -> None:
    """Wait for running workers (model load, judging, pulls) and the screen to catch up."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def type_into(pilot: Pilot[Any], widget: Any, text: str) -> None:
    """Focus `widget` and type `text` key by key, as a user would."""
    widget.focus()
    await pilot.pause()
    await pilot.press(*text)


def fields(app: EdgeJudgeApp) -> dict[str, TextArea]:
    """The Judge tab's text areas by field name."""
    return {a.field_name: a for a in app.query("#fields TextArea").results(TextArea)}  # type: ignore[attr-defined]
