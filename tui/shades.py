"""How a hidden unit's value is coloured, by its level in −4..4 (core.inspection.units): the
heat strips of the inspection views, and the cells view's words and shade rows in the playground
and in `lyrics-tui cells` alike. Red above 0, blue below; without colour the shade characters
alone carry the value (▁ = −1 … █ = +1)."""

from __future__ import annotations

# foregrounds by |level| 1..4 (in 16 colours: grey, red/blue, bright red/blue)
POSITIVE = ("#7a6060", "#b02828", "#e03c3c", "#ff3030")
NEGATIVE = ("#606a7a", "#2840b0", "#3060e0", "#3c78ff")
# word backgrounds by |level| 1..4, dark enough for the default text colour on them
POSITIVE_BG = ("#3f2a2a", "#66292b", "#94282a", "#c22626")
NEGATIVE_BG = ("#283040", "#283f69", "#284f98", "#2860c8")


def shade_colour(level: int) -> str | None:
    """The shade character's colour at a level (None at 0)."""
    return (POSITIVE if level > 0 else NEGATIVE)[min(abs(level), 4) - 1] if level else None


def word_background(level: int) -> str | None:
    """The word's background at a level (None at 0)."""
    return (POSITIVE_BG if level > 0 else NEGATIVE_BG)[min(abs(level), 4) - 1] if level else None
