"""One way to write byte counts for people: decimal units, as disks and the hub show them."""

from __future__ import annotations


def human_size(size: int | None) -> str:
    """`2.39 GB`, `253 MB`, `512 B`; `?` for unknown."""
    if size is None:
        return "?"
    if size >= 1e9:
        return f"{size / 1e9:.2f} GB"
    if size >= 1e6:
        return f"{size / 1e6:.0f} MB"
    return f"{size / 1e3:.0f} kB" if size >= 1e3 else f"{size} B"
