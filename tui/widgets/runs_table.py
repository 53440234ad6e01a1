"""The table of recorded runs: a header and one line per run, drawn only where visible.

Textual's DataTable measures every cell of every row it is given (~120 ms for 1,000 runs on the
development machine); this table's columns have fixed widths, so it draws the lines in view and
nothing else, whatever the number of runs. Up/Down/PgUp/PgDn/Home/End move the cursor, a click
picks a row, a click on a header posts HeaderClicked (the screen sorts).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Unpack

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from lyrics_tui.tui import format as fmt

if TYPE_CHECKING:
    from lyrics_tui.core.runs.records import RunSummary
    from lyrics_tui.tui.widgets import WidgetOptions


@dataclass(frozen=True)
class Column:
    key: str  # a sort key of core.runs.schema.SORT_KEYS ("" for the mark)
    title: str
    width: int  # cells, the space before it included
    right: bool = False


COLUMNS = (
    Column("", "", 2),
    Column("id", "id", 5, True),
    Column("started", "when", 12),
    Column("corpus", "corpus", 12),  # takes what the terminal has to spare
    Column("cell", "cell", 5),
    Column("size", "size", 7, True),
    Column("epochs", "epochs", 8, True),
    Column("best_val_ppl", "best ppl", 9, True),
    Column("time", "time", 6, True),
    Column("status", "status", 12),
)
CORPUS_MAX = 40  # the corpus column grows up to this many cells in a wide terminal
SIZE_FROM = 100  # narrower, the size column is left out and the corpus gets its cells


def cells(run: RunSummary, this_year: int) -> dict[str, str]:
    """What each column shows for a run."""
    return {
        "id": str(run.id),
        "started": fmt.started(run.started_at, this_year),
        "corpus": run.corpus_name,
        "cell": run.cell,
        "size": fmt.count(run.parameters),
        "epochs": fmt.epochs(run.epochs, run.planned_epochs),
        "best_val_ppl": fmt.ppl(run.best_val_ppl),
        "time": fmt.duration_short(run.elapsed_s),
        "status": run.status,
    }


class RunsTable(ScrollView, can_focus=True):
    """Runs (RunSummary) in the order given; `marks` maps a marked run's id to its marker and
    colour (the loss panel's); the sort column is shown in the header."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "runs-table--header",
        "runs-table--cursor",
        "runs-table--running",
    }
    DEFAULT_CSS = """
    RunsTable { height: 1fr; overflow-x: hidden; scrollbar-size-vertical: 1; }
    RunsTable > .runs-table--header { text-style: bold; background: $panel; }
    RunsTable > .runs-table--cursor { background: $block-cursor-blurred-background; }
    RunsTable:focus > .runs-table--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground;
    }
    RunsTable > .runs-table--running { text-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "move(-1000000000)", "First", show=False),
        Binding("end", "move(1000000000)", "Last", show=False),
    ]

    cursor: reactive[int] = reactive(0, init=False)

    @dataclass
    class HeaderClicked(Message):
        key: str  # the column's sort key

    @dataclass
    class Highlighted(Message):
        run: RunSummary | None  # the run under the cursor

    def __init__(self, **kwargs: Unpack[WidgetOptions]) -> None:
        super().__init__(**kwargs)
        self.runs: list[RunSummary] = []
        self.marks: dict[int, tuple[str, tuple[int, int, int]]] = {}
        self.sort_key = "started"
        self.descending = True
        self._cells: dict[int, dict[str, str]] = {}  # run id -> texts, made when first drawn
        self._year = time.localtime().tm_year

    # -- what it shows -------------------------------------------------------------------------
    @property
    def selected(self) -> RunSummary | None:
        return self.runs[self.cursor] if 0 <= self.cursor < len(self.runs) else None

    def show(self, runs: list[RunSummary], keep: int | None = None) -> None:
        """New rows; the cursor stays on run `keep` (by default the one under it) if listed."""
        if keep is None and self.selected is not None:
            keep = self.selected.id
        self.runs = runs
        self._cells.clear()
        self._year = time.localtime().tm_year
        index = next((i for i, r in enumerate(runs) if r.id == keep), None)
        self.virtual_size = Size(self._width(), len(runs) + 1)
        self.set_reactive(RunsTable.cursor, min(self.cursor, max(0, len(runs) - 1)))
        if index is not None:
            self.set_reactive(RunsTable.cursor, index)
        self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.Highlighted(self.selected))

    def _width(self) -> int:
        return sum(c.width for c in self._shown()) + self._corpus_extra()

    def _shown(self) -> tuple[Column, ...]:
        if self.size.width >= SIZE_FROM:
            return COLUMNS
        return tuple(c for c in COLUMNS if c.key != "size")

    def _corpus_extra(self) -> int:
        spare = self.size.width - sum(c.width for c in self._shown()) - 1  # the scrollbar
        return max(0, min(spare, CORPUS_MAX - 12))

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(self._width(), len(self.runs) + 1)
        self._scroll_to_cursor()

    # -- the cursor ----------------------------------------------------------------------------
    def watch_cursor(self) -> None:
        self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.Highlighted(self.selected))

    def action_move(self, rows: int) -> None:
        if self.runs:
            self.cursor = max(0, min(len(self.runs) - 1, self.cursor + rows))

    def action_page(self, pages: int) -> None:
        self.action_move(pages * max(1, self.size.height - 2))

    def _scroll_to_cursor(self) -> None:
        visible = max(1, self.size.height - 1)  # below the header
        top = round(self.scroll_y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False, immediate=True)

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            x = event.x
            for column, width in self._columns():
                if x < width:
                    if column.key:
                        self.post_message(self.HeaderClicked(column.key))
                    return
                x -= width
            return
        row = round(self.scroll_y) + event.y - 1
        if 0 <= row < len(self.runs):
            self.cursor = row

    # -- drawing -------------------------------------------------------------------------------
    def _columns(self) -> list[tuple[Column, int]]:
        extra = self._corpus_extra()
        return [(c, c.width + (extra if c.key == "corpus" else 0)) for c in self._shown()]

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            style = self.get_component_rich_style("runs-table--header")
            return Strip([Segment(self._header(), style)]).adjust_cell_length(width, style)
        row = round(self.scroll_y) + y - 1
        base = self.rich_style
        if not 0 <= row < len(self.runs):
            return Strip.blank(width, base)
        run = self.runs[row]
        style = base
        if run.status == "running":
            style += self.get_component_rich_style("runs-table--running")
        if row == self.cursor:
            style += self.get_component_rich_style("runs-table--cursor")
        texts = self._cells.get(run.id)
        if texts is None:
            texts = self._cells[run.id] = cells(run, self._year)
        segments = []
        for column, cell_width in self._columns():
            if not column.key:
                mark = self.marks.get(run.id)
                if mark is None:
                    segments.append(Segment("  ", style))
                else:
                    marker, (r, g, b) = mark
                    colour = Style(color=f"rgb({r},{g},{b})", bold=True)
                    segments.append(Segment(marker + " ", style + colour))
                continue
            segments.append(Segment(_fit(texts[column.key], cell_width, column.right), style))
        return Strip(segments).adjust_cell_length(width, style)

    def _header(self) -> str:
        out = []
        for column, cell_width in self._columns():
            title = column.title
            if column.key and column.key == self.sort_key:
                title += "▼" if self.descending else "▲"
            out.append(_fit(title, cell_width, column.right))
        return "".join(out)


def _fit(text: str, width: int, right: bool) -> str:
    """`text` in `width` cells, after one space: right or left aligned, cut with … if long."""
    room = width - 1
    if cell_len(text) > room:
        text = set_cell_size(text, room - 1) + "…"
    pad = room - cell_len(text)
    return " " + (" " * pad + text if right else text + " " * pad)
