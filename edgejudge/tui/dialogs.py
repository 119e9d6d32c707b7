"""Modal screens: a read-only text view, a yes/no question, and a JSONL file picker."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Label, TabbedContent, TabPane, TextArea


class TextView(ModalScreen[None]):
    """One or more read-only texts in tabs (the exact prompt and grammar; a batch row)."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, title: str, texts: dict[str, str]) -> None:
        super().__init__()
        self.title_text = title
        self.texts = texts

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(self.title_text, classes="dialog-title")
            with TabbedContent():
                for name, text in self.texts.items():
                    with TabPane(name):
                        yield TextArea(text, read_only=True, soft_wrap=True)
            yield Button("Close (esc)", id="close")

    def on_button_pressed(self) -> None:
        self.dismiss()


class Confirm(ModalScreen[bool]):
    """A yes/no question; answers True for yes."""

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question)
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("No (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class JsonlTree(DirectoryTree):
    """A directory tree showing folders and `.jsonl` files only."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [
            p for p in paths if not p.name.startswith(".") and (p.is_dir() or p.suffix == ".jsonl")
        ]


class PickFile(ModalScreen[Path | None]):
    """Choose a JSONL file from a tree rooted at `root`."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(f"Open a JSONL file under {self.root}", classes="dialog-title")
            yield JsonlTree(self.root)
            yield Button("Cancel (esc)", id="cancel")

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        self.dismiss(event.path)

    def on_button_pressed(self) -> None:
        self.dismiss(None)
