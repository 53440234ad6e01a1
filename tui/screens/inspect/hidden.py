"""F4 Hidden: the hidden state after each word of the step-through walk, one heat strip of
units per word (and the cell state of an LSTM)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Unpack

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import Static

from lyrics_tui.tui.screens.inspect.common import (
    FitTable,
    InspectView,
    header,
    heat_strip,
    num,
)

if TYPE_CHECKING:
    from lyrics_tui.core.inspection.step import StepThrough
    from lyrics_tui.core.inspection.units import HiddenStep
    from lyrics_tui.tui.widgets import WidgetOptions


class HiddenView(InspectView):
    """Draws the walk the step-through view owns (core.inspection.StepThrough.hidden_steps)."""

    TABLE = "hidden-table"  # nothing to type here: F1's walk is what it draws

    def __init__(self, **kwargs: Unpack[WidgetOptions]) -> None:
        super().__init__(**kwargs)
        self.walk: StepThrough | None = None  # the step-through's walk, drawn last

    def compose(self) -> ComposeResult:
        yield Static("", id="hidden-info", classes="info")
        yield FitTable(id="hidden-table", cursor_type="row")

    def show_hint(self, hint: str) -> None:
        self.query_one("#hidden-info", Static).update(hint)
        self.query_one(FitTable).clear()

    def strip_width(self, cell: str, hidden: int, steps: tuple[HiddenStep, ...] = ()) -> int:
        """Cells per strip: what the table's width leaves after the other columns (each
        column is padded by one cell on either side; one cell for the scrollbar)."""
        width = self.query_one(FitTable).size.width or max(40, self.screen.size.width - 2)
        strips = 2 if cell == "lstm" else 1
        words = max((cell_len(s.label) for s in steps), default=4)
        index = len(str(max((s.index for s in steps), default=0)))
        fixed = (index + 2) + (max(4, words) + 2) + (5 + 2) + (5 + 2) + 2 * strips + 1
        if strips == 2:
            c_norm = max((len(f"{s.c.norm:.2f}") for s in steps if s.c is not None), default=5)
            fixed += max(3, c_norm) + 2
        return max(8, min(hidden, (width - fixed) // strips))

    def show(self, walk: StepThrough | None) -> None:
        self.walk = walk
        if walk is None or self.subject is None:
            return
        steps = walk.hidden_steps
        config = self.subject.stepper.config
        width = self.strip_width(config.cell, config.hidden, steps)
        lstm = config.cell == "lstm"
        squeeze = (
            f"each cell the strongest of {config.hidden / width:.1f} units"
            if width < config.hidden
            else "one cell per unit"
        )
        hint = "" if walk.picked else " · pick words in F1, or g samples a line"
        self.query_one("#hidden-info", Static).update(
            Text(
                f"{config.cell.upper()} layer {config.layers}, {config.hidden} units after each "
                "word "
                f"read · ▁ = −1 … █ = +1, {squeeze}"
                + (" · c scaled to its largest |value|" if lstm else "")
                + " · picked words bold"
                + " · |h| is the state's length, moved how far it went from the word before"
                + hint
            )
        )
        colour = not self.app.no_color
        table = self.query_one(FitTable)
        table.clear(columns=True)
        columns = ["#>", "word", "|h|>", "moved>", "h_t"] + (["|c|>", "c_t"] if lstm else [])
        table.add_columns(*map(header, columns))
        for step in steps:
            row = [
                num(str(step.index)),
                Text(step.label, style="bold" if step.generated else ""),
                num(f"{step.h.norm:.2f}"),
                num(f"{step.change:.2f}"),
                heat_strip(step.h.binned_levels(width), step.h.spark_binned(width), colour),
            ]
            if lstm and step.c is not None:
                row += [
                    num(f"{step.c.norm:.2f}"),
                    heat_strip(step.c.binned_levels(width), step.c.spark_binned(width), colour),
                ]
            table.add_row(*row, key=f"h-{step.index}")
        table.move_cursor(row=len(steps) - 1)

    @on(FitTable.Resized)
    def _fit(self) -> None:
        """Once laid out (and on every resize): strips as wide as the table has room for."""
        if self.display and self.walk is not None:
            self.show(self.walk)
