"""The score badge: the verdict's score, coloured by where it sits on the metric's scale."""

from __future__ import annotations

from collections.abc import Sequence

from textual.color import Color
from textual.widgets import Static


def scale_position(score: int, scores: Sequence[int]) -> float:
    """0.0 for the lowest score on the scale, 1.0 for the highest."""
    low, high = min(scores), max(scores)
    return 0.0 if high == low else (score - low) / (high - low)


class ScoreBadge(Static):
    """`4 / 1-5` on a background from the theme's error (low) via warning to success (high)."""

    DEFAULT_CSS = """
    ScoreBadge { width: auto; min-width: 9; padding: 0 1; text-style: bold; }
    ScoreBadge.-empty { background: $panel; color: $text-muted; }
    """

    def on_mount(self) -> None:
        self.clear()

    def clear(self, text: str = "score –") -> None:
        """Show no score."""
        self.add_class("-empty")
        self.styles.background = None
        self.styles.color = None
        self.update(text)

    def show(self, score: int, scores: Sequence[int]) -> None:
        """Show `score` on the scale `scores`."""
        theme = self.app.current_theme
        low, mid, high = (
            Color.parse(c or "grey") for c in (theme.error, theme.warning, theme.success)
        )
        where = scale_position(score, scores)
        colour = low.blend(mid, where * 2) if where <= 0.5 else mid.blend(high, where * 2 - 1)
        self.remove_class("-empty")
        self.styles.background = colour
        self.styles.color = colour.get_contrast_text()
        self.update(f"{score} / {min(scores)}-{max(scores)}")
