"""The two widgets of F5 Cells, each drawing only the lines in view: the text shaded by one
unit's value (CellText) and the units ranked against a pattern (UnitList)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Unpack

import numpy as np
from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from lyrics_tui.tui.shades import shade_colour, word_background

if TYPE_CHECKING:
    from lyrics_tui.core.inspection.cells.ranking import Place, UnitScore
    from lyrics_tui.core.inspection.cells.reading import CellReading
    from lyrics_tui.tui.widgets import WidgetOptions

CURSOR = Style(reverse=True)
SELECTED = Style(underline=True, bold=True)
PLACE = Style(underline=True)
UNKNOWN = Style(dim=True)


class CellText(ScrollView, can_focus=True):
    """A text read by the network, two rows per line of it: the words, each on a background
    by the unit's value after reading it, and beneath each word its shade characters. A
    cursor on one token; space and the arrows (or shift+arrows) mark a span."""

    DEFAULT_CSS = """
    CellText { height: 1fr; overflow-x: hidden; scrollbar-size-vertical: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "move(-1)", "Left", show=False),
        Binding("right", "move(1)", "Right", show=False),
        Binding("up", "line(-1)", "Up", show=False),
        Binding("down", "line(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "move(-1000000000)", "First", show=False),
        Binding("end", "move(1000000000)", "Last", show=False),
        Binding("shift+left", "extend(-1)", "Mark", show=False),
        Binding("shift+right", "extend(1)", "Mark", show=False),
        Binding(
            "space",
            "mark",
            "Mark",
            key_display="space",
            tooltip="start a span at the cursor (or drop it); the arrows extend it",
        ),
        Binding(
            "enter",
            "choose",
            "Units",
            tooltip="the units on across the span (or the word) and off around it",
        ),
    ]

    cursor: reactive[int] = reactive(0, init=False)

    @dataclass
    class CursorMoved(Message):
        index: int

    @dataclass
    class SpanChosen(Message):
        start: int
        end: int  # exclusive

    def __init__(self, **kwargs: Unpack[WidgetOptions]) -> None:
        super().__init__(**kwargs)
        self.labels: tuple[str, ...] = ()
        self.known: tuple[bool, ...] = ()
        self.spans: list[tuple[int, int]] = []  # the text's lines, as token ranges
        self.levels: tuple[int, ...] = ()
        self.spark = ""
        self.colour = True
        self.mark_start: int | None = None  # where a span being marked began
        self.chosen: tuple[int, int] | None = None  # the span the ranking is for
        self.placed = np.zeros(0, dtype=bool)  # tokens where the chosen units fire together
        self.rows: list[tuple[int, int]] = []  # what each pair of screen rows shows
        self.row_of = np.zeros(0, dtype=np.int64)
        self.drawn_at = 0.0  # perf_counter() when a new text was first drawn (bench/cells.py)
        self._fresh = False
        self._widths: list[int] = []
        self._laid_out_for = -1

    # -- what it shows ---------------------------------------------------------------------------
    def show(self, reading: CellReading, colour: bool) -> None:
        """A new text; the cursor at its start."""
        self.labels, self.known, self.colour = reading.labels, reading.known, colour
        self.spans = reading.lines()
        self._widths = [cell_len(label) for label in self.labels]
        self.mark_start = self.chosen = None
        self.placed = np.zeros(len(self.labels), dtype=bool)
        self._laid_out_for = -1
        self._layout()
        self.set_reactive(CellText.cursor, 0)
        self.scroll_to(y=0, animate=False, immediate=True)
        self._fresh = True
        self.refresh()

    def clear(self) -> None:
        """Nothing read."""
        self.labels, self.known, self.spans, self.levels, self.spark = (), (), [], (), ""
        self.rows, self.mark_start, self.chosen = [], None, None
        self.row_of = np.zeros(0, dtype=np.int64)
        self.virtual_size = Size(self.size.width, 0)
        self.refresh()

    def shade(self, levels: tuple[int, ...], spark: str) -> None:
        """One unit's value at each token, as levels in −4..4 and shade characters."""
        self.levels, self.spark = levels, spark
        self.refresh()

    def mark_places(self, span: tuple[int, int] | None, places: tuple[Place, ...]) -> None:
        self.chosen = span
        self.placed = np.zeros(len(self.labels), dtype=bool)
        for place in places:
            self.placed[place.start : place.end] = True
        self.refresh()

    def clear_mark(self) -> bool:
        """Drop the span being marked, else the chosen one; False when there was neither."""
        if self.mark_start is None and self.chosen is None:
            return False
        if self.mark_start is not None:
            self.mark_start = None
        else:
            self.mark_places(None, ())
        self.refresh()
        return True

    @property
    def marked(self) -> tuple[int, int] | None:
        """The span being marked (end exclusive)."""
        if self.mark_start is None:
            return None
        return min(self.mark_start, self.cursor), max(self.mark_start, self.cursor) + 1

    # -- layout: each line of the text wraps into rows of whole tokens -------------------------
    def _layout(self) -> None:
        width = max(8, self.size.width - 1)  # one cell for the scrollbar
        if width == self._laid_out_for:
            return
        self._laid_out_for = width
        rows: list[tuple[int, int]] = []
        for start, end in self.spans:
            row_start, x = start, 0
            for i in range(start, end):
                w = self._widths[i] + 1  # a space after each token
                if x + w > width and i > row_start:
                    rows.append((row_start, i))
                    row_start, x = i, 0
                x += w
            rows.append((row_start, end))
        self.rows = rows
        self.row_of = np.zeros(len(self.labels), dtype=np.int64)
        for r, (a, b) in enumerate(rows):
            self.row_of[a:b] = r
        self.virtual_size = Size(width, 2 * len(rows))

    def on_resize(self, event: events.Resize) -> None:
        self._layout()
        self._scroll_to_cursor()

    # -- the cursor and the span ---------------------------------------------------------------
    def watch_cursor(self) -> None:
        self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.CursorMoved(self.cursor))

    def action_move(self, tokens: int) -> None:
        if self.labels:
            self.cursor = max(0, min(len(self.labels) - 1, self.cursor + tokens))

    def action_line(self, rows: int) -> None:
        """Up or down a line of the text, to the token nearest the same column."""
        if not self.labels:
            return
        row = int(self.row_of[self.cursor])
        target = max(0, min(len(self.rows) - 1, row + rows))
        if target == row:
            return
        start, _ = self.rows[row]
        column = sum(self._widths[i] + 1 for i in range(start, self.cursor))
        a, b = self.rows[target]
        x, pick = 0, a
        for i in range(a, b):
            if x > column:
                break
            pick, x = i, x + self._widths[i] + 1
        self.cursor = pick

    def action_page(self, pages: int) -> None:
        self.action_line(pages * max(1, self.size.height // 2 - 1))

    def action_extend(self, tokens: int) -> None:
        if self.mark_start is None:
            self.mark_start = self.cursor
        self.action_move(tokens)
        self.refresh()

    def action_mark(self) -> None:
        self.mark_start = None if self.mark_start is not None else self.cursor
        self.refresh()

    def action_choose(self) -> None:
        if not self.labels:
            return
        start, end = self.marked or (self.cursor, self.cursor + 1)
        self.mark_start = None
        self.post_message(self.SpanChosen(start, end))

    def go_to(self, index: int) -> None:
        self.cursor = max(0, min(len(self.labels) - 1, index))

    def _scroll_to_cursor(self) -> None:
        if not self.labels:
            return
        top, height = round(self.scroll_y), max(2, self.size.height)
        line = 2 * int(self.row_of[self.cursor])
        if line < top:
            self.scroll_to(y=line, animate=False, immediate=True)
        elif line + 2 > top + height:
            self.scroll_to(y=line + 2 - height, animate=False, immediate=True)

    # -- drawing -------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width, base = self.size.width, self.rich_style
        row, shade_row = divmod(round(self.scroll_y) + y, 2)
        if not 0 <= row < len(self.rows) or len(self.levels) != len(self.labels):
            return Strip.blank(width, base)
        if self._fresh:
            import time

            self._fresh, self.drawn_at = False, time.perf_counter()
        marked = self.marked or self.chosen
        segments = []
        a, b = self.rows[row]
        for i in range(a, b):
            level = self.levels[i]
            if shade_row:
                style = base
                if self.colour and level:
                    style += Style(color=shade_colour(level))
                segments.append(Segment(self.spark[i] * self._widths[i], style))
            else:
                segments.append(Segment(self.labels[i], self._word_style(i, level, marked)))
            segments.append(Segment(" ", base))
        return Strip(segments).adjust_cell_length(width, base)

    def _word_style(self, i: int, level: int, marked: tuple[int, int] | None) -> Style:
        style = self.rich_style
        if self.colour and level:
            style += Style(bgcolor=word_background(level))
        if not self.known[i]:
            style += UNKNOWN
        if marked is not None and marked[0] <= i < marked[1]:
            style += SELECTED
        elif self.placed.size and self.placed[i]:
            style += PLACE
        if i == self.cursor:
            style += CURSOR
        return style


class UnitList(ScrollView, can_focus=True):
    """The units in ranked order (core's UnitScore): rank, unit, score,
    and which way it leans (↑ higher where the pattern holds, ↓ lower; ✓ a selection's match)."""

    DEFAULT_CSS = """
    UnitList { width: 24; height: 1fr; overflow-x: hidden; scrollbar-size-vertical: 1; }
    UnitList > .unit-list--header { text-style: bold; background: $panel; }
    UnitList > .unit-list--cursor { background: $block-cursor-blurred-background; }
    UnitList:focus > .unit-list--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"unit-list--header", "unit-list--cursor"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "move(-10)", "Page up", show=False),
        Binding("pagedown", "move(10)", "Page down", show=False),
        Binding("home", "move(-1000000000)", "First", show=False),
        Binding("end", "move(1000000000)", "Last", show=False),
    ]

    cursor: reactive[int] = reactive(0, init=False)

    @dataclass
    class Highlighted(Message):
        unit: int

    def __init__(self, **kwargs: Unpack[WidgetOptions]) -> None:
        super().__init__(**kwargs)
        self.units: tuple[UnitScore, ...] = ()
        self.measure = ""

    def show(self, units: tuple[UnitScore, ...], measure: str, unit: int) -> None:
        """The ranking; the cursor on `unit` (no message: the view already shows it)."""
        self.units, self.measure = units, measure
        self.virtual_size = Size(22, len(units) + 1)
        index = next((i for i, u in enumerate(units) if u.unit == unit), 0)
        self.set_reactive(UnitList.cursor, index)
        self._scroll_to_cursor()
        self.refresh()

    def watch_cursor(self) -> None:
        self._scroll_to_cursor()
        self.refresh()
        if self.units:
            self.post_message(self.Highlighted(self.units[self.cursor].unit))

    def action_move(self, rows: int) -> None:
        if self.units:
            self.cursor = max(0, min(len(self.units) - 1, self.cursor + rows))

    def _scroll_to_cursor(self) -> None:
        visible = max(1, self.size.height - 1)
        top = round(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False, immediate=True)

    def on_click(self, event: events.Click) -> None:
        row = round(self.scroll_y) + event.y - 1
        if event.y > 0 and 0 <= row < len(self.units):
            self.cursor = row

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            style = self.get_component_rich_style("unit-list--header")
            text = f"{'#':>4} {'unit':>5} {self.measure:>6}"
            return Strip([Segment(text, style)]).adjust_cell_length(width, style)
        row = round(self.scroll_y) + y - 1
        base = self.rich_style
        if not 0 <= row < len(self.units):
            return Strip.blank(width, base)
        score = self.units[row]
        style = base
        if row == self.cursor:
            style += self.get_component_rich_style("unit-list--cursor")
        lean = "↑" if score.sign > 0 else "↓"
        mark = "✓" if self.measure == "margin" and score.matched else " "
        text = f"{row + 1:>4} {score.unit:>5} {score.score:>6.3f} {lean}{mark}"
        return Strip([Segment(text, style)]).adjust_cell_length(width, style)
