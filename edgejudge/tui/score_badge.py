"""The verdict badge: a score coloured by where it sits on the metric's scale, or a label
(PASS, Yes) or choice (A, B) in the theme's accent colour."""

from __future__ import annotations

from collections.abc import Sequence

from textual.color import Color
from textual.widgets import Static


def scale_position(score: int, scores: Sequence[int]) -> float:
    """0.0 for the lowest score on the scale, 1.0 for the highest."""
    low, high = min(scores), max(scores)
    return 0.0 if high == low else (score - low) / (high - low)


class ScoreBadge(Static):
    """`4 / 1-5` on a background from the theme's error (low) via warning to success (high);
    `PASS` or `A` on the accent colour."""

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

    def show(self, decision: int | str, values: Sequence[int | str]) -> None:
        """Show a verdict's decision: a score on the scale `values`, or a label or choice."""
        theme = self.app.current_theme
        scores = [v for v in values if isinstance(v, int)]
        if isinstance(decision, int) and scores:
            low, mid, high = (
                Color.parse(c or "grey") for c in (theme.error, theme.warning, theme.success)
            )
            where = scale_position(decision, scores)
            colour = low.blend(mid, where * 2) if where <= 0.5 else mid.blend(high, where * 2 - 1)
            text = f"{decision} / {min(scores)}-{max(scores)}"
        else:
            # Whether PASS or Yes is good news depends on the question: no traffic light.
            colour = Color.parse(theme.accent or theme.primary or "grey")
            text = str(decision)
        self.remove_class("-empty")
        self.styles.background = colour
        self.styles.color = colour.get_contrast_text()
        self.update(text)
