"""F3 Neighbours: the words nearest to a word in the embedding space (cosine similarity), and
the least similar ones; Enter on a row looks that word up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Unpack

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Input, Label, Static

from lyrics_tui.core.errors import LyricsError
from lyrics_tui.tui.screens.inspect.common import (
    FitTable,
    InspectField,
    InspectView,
    bar,
    header,
    num,
)

if TYPE_CHECKING:
    from lyrics_tui.core.inspection.neighbours import Neighbours
    from lyrics_tui.tui.widgets import WidgetOptions

COLUMNS = ("#>", "word", "cosine>", "", "seen>")


class NeighboursView(InspectView):
    """Owns the word looked up and its neighbours (core.inspection.Neighbours)."""

    FIELD = "near-word"
    TABLE = "near-table"

    def __init__(self, **kwargs: Unpack[WidgetOptions]) -> None:
        super().__init__(**kwargs)
        self.result: Neighbours | None = None  # of the word looked up
        self.word = ""

    def compose(self) -> ComposeResult:
        with Horizontal(classes="input-row"):
            yield Label("word ›")
            yield InspectField(
                placeholder="/ types a word, Enter looks it up", id="near-word", compact=True
            )
        yield Static("", id="near-info", classes="info")
        yield FitTable(id="near-table", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one(FitTable).add_columns(*map(header, COLUMNS))

    def show_hint(self, hint: str) -> None:
        self.query_one("#near-info", Static).update(hint)
        self.query_one(FitTable).clear()

    def rebuild(self) -> None:
        """The same word again, over a new subject."""
        if self.word:
            self.look_up(self.word)
        else:
            self.query_one("#near-info", Static).update(
                "/ types a word, Enter lists its neighbours"
            )

    def neighbour_counts(self) -> tuple[int, int]:
        """(nearest, farthest) shown: as many as the table has room for."""
        height = self.query_one(FitTable).size.height
        rows = max(8, height - 1) if height > 1 else 14
        farthest = 3 if rows < 24 else 5
        return max(5, rows - farthest - 1), farthest

    def look_up(self, word: str, by_id: bool = False) -> None:
        from lyrics_tui.core.inspection.neighbours import neighbours

        subject = self.subject
        if subject is None:  # the screen looks words up only once it has a model
            return
        if by_id:
            word = subject.vocab.tokens[int(word)]
        k, farthest = self.neighbour_counts()
        try:
            result = neighbours(subject, word, k, farthest)
        except LyricsError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        self.result, self.word = result, result.word
        self.query_one("#near-word", Input).value = result.label
        self.query_one("#near-info", Static).update(
            Text(
                f"nearest to {result.label} by cosine similarity · seen {result.count:,} times · "
                f"vector length {result.norm:.2f} · Enter on a row looks that word up · r refreshes"
            )
        )
        table = self.query_one(FitTable)
        table.clear()
        bar_width = max(8, min(30, self.screen.size.width - 40))
        for kind, rows in (("near", result.neighbours), ("far", result.farthest)):
            if kind == "far" and rows:
                table.add_row(
                    "",
                    Text("…", style="dim"),
                    "",
                    Text("least similar", style="dim"),
                    "",
                    key="sep",
                )
            for n in rows:
                shape = bar(n.cosine, bar_width) if n.cosine > 0 else bar(-n.cosine, bar_width, "-")
                table.add_row(
                    num(f"{n.rank:,}"),
                    n.label,
                    num(f"{n.cosine:+.3f}"),
                    shape,
                    num(f"{n.count:,}"),
                    key=f"{kind}-{n.token_id}",
                )

    @on(FitTable.Resized)
    def _fit(self, message: FitTable.Resized) -> None:
        """Once laid out (and on every resize): as many neighbours as the table has room for."""
        near = self.result
        if (
            near is not None
            and self.subject is not None
            and message.table.size.height > 1
            and self.neighbour_counts() != (len(near.neighbours), len(near.farthest))
        ):
            self.look_up(self.word)
