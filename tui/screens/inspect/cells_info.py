"""What the F5 Cells view says (its info lines, the pattern picker, what is read) and its keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.binding import Binding, BindingType

if TYPE_CHECKING:
    from lyrics_tui.core.inspection.cells.ranking import Ranking, UnitScore
    from lyrics_tui.core.inspection.cells.reading import CellReading

THRESHOLD_STEP = 0.05
PATTERN_KEYS = Binding.Group("Pattern")


def cells_bindings() -> list[BindingType]:
    """The view's own keys (the text's are CellText's, the list's UnitList's)."""
    return [
        Binding(
            "n",
            "ranked(1)",
            "Next unit",
            key_display="n/N",
            tooltip="the next unit in the ranking",
        ),
        Binding("N", "ranked(-1)", "Previous unit", show=False),
        Binding(
            "full_stop",
            "unit(1)",
            "Unit +1",
            key_display=",/.",
            tooltip="the unit after (before) by number",
        ),
        Binding("comma", "unit(-1)", "Unit -1", show=False),
        Binding(
            "p",
            "pattern(1)",
            "Pattern",
            key_display="p/1-5",
            group=PATTERN_KEYS,
            tooltip="the next pattern",
        ),
        Binding("P", "pattern(-1)", "Pattern", show=False),
        *[Binding(str(n), f"pick({n})", "Pattern", show=False) for n in range(1, 6)],
        Binding("c", "state", "h/c", tooltip="the LSTM's cell state c, or h"),
        Binding(
            "j",
            "place(1)",
            "Next place",
            key_display="j/J",
            tooltip="where the selected units fire together next",
        ),
        Binding("J", "place(-1)", "Previous place", show=False),
        Binding(
            "minus",
            f"threshold(-{THRESHOLD_STEP})",
            "θ",
            key_display="-/+",
            tooltip="lower (raise) the threshold a selection's units must pass",
        ),
        Binding("plus,equals_sign", f"threshold({THRESHOLD_STEP})", "θ", show=False),
    ]


def patterns_line(
    pattern: str, ranking: Ranking | None, reading: CellReading | None, state: str
) -> Text:
    """1-5 and the patterns' short names, the one shown in reverse (or "selection")."""
    from lyrics_tui.core.inspection.cells.patterns import PATTERNS

    text = Text(no_wrap=True)
    for n, named in enumerate(PATTERNS.values(), 1):
        text.append(f"{n} {named.short}", style="bold reverse" if named.name == pattern else "")
        text.append("  ")
    if ranking is not None and ranking.span is not None:
        text.append("selection", style="bold reverse")
    if reading is not None and reading.c is not None:
        text.append(f" · showing {state}", style="bold")
    return text


def info_parts(
    reading: CellReading, ranking: Ranking, unit: int, state: str, cursor: int
) -> list[str]:
    """The unit, its scale and rank, its score, its value at the cursor; the selection's rule
    and places, or the pattern's note."""
    index = min(cursor, len(reading.tokens) - 1)
    value = float(reading.unit(unit, state)[index])
    rank = ranking.position(unit)
    scale = reading.scale(unit, state)
    parts = [f"unit {unit} of {reading.hidden_size} ({state}, ▁ −{scale:.2f} █ +{scale:.2f})"]
    parts.append(f"#{rank + 1} for {ranking.title}" if ranking.span is None else f"#{rank + 1}")
    parts += [
        score_text(ranking.units[rank], ranking.measure),
        f"at {reading.labels[index]} {value:+.2f}",
    ]
    if ranking.span is not None:
        parts += selection_parts(reading, ranking)
    elif ranking.note:
        parts.append(ranking.note)
    return parts


def score_text(score: UnitScore, measure: str) -> str:
    from lyrics_tui.core.inspection.cells.ranking import lean

    if measure == "AUC":
        return f"AUC {score.score:.3f}, {lean(measure, score.sign)}"
    if measure == "r":
        return f"r {score.value:+.3f}"
    if not score.matched:
        return f"margin {score.score:+.2f}, not a match"
    return f"margin {score.score:+.2f}" + (", on its negative side" if score.sign < 0 else "")


def selection_parts(reading: CellReading, ranking: Ranking) -> list[str]:
    assert ranking.span is not None  # a selection's ranking
    where, span = len(ranking.places), reading.span_text(*ranking.span)
    rule = f"on across “{span}” and off around it (θ {ranking.threshold:.2f}, -/+ moves it)"
    if not ranking.matched:
        return [f"no unit is {rule}; the closest first", "Esc drops the selection"]
    parts = [f"{ranking.matched} unit{'s' if ranking.matched != 1 else ''} {rule}"]
    parts.append(
        ("all" if len(ranking.together) == ranking.matched else "its best")
        + f" {len(ranking.together)} on together at {where:,} other "
        f"place{'s' if where != 1 else ''}" + (" (j goes there)" if where else "")
    )
    parts.append("Esc drops the selection")
    return parts


def source_line(reading: CellReading) -> str:
    """What is read: where from, how long, how much of it is unknown to the model."""
    unknown = reading.known.count(False)
    return (
        f"{reading.source}: {len(reading.tokens):,} tokens"
        + (f", {reading.cut:,} more left out" if reading.cut else "")
        + (f", {unknown:,} unknown (dim)" if unknown else "")
    )
