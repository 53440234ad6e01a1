"""What the inspection views share: table cells, the heat strip, the no-model hint."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input

from lyrics_tui.tui.format import packed as packed  # moved to format.py; the views' old import
from lyrics_tui.tui.shades import NEGATIVE, POSITIVE  # heat colours (NO_COLOR: none)

if TYPE_CHECKING:
    from lyrics_tui.core.inspection.subject import Subject

SubjectProvider = Callable[[], "Subject | None"]  # None: no model yet

NO_MODEL = "No model yet: press t to train one, or l to load a checkpoint (Esc goes back)."


def model_line(subject: Subject, width: int = 0) -> str:
    """The label and shape of a Subject, for the header: in `width` cells (0: all of it), the
    vocabulary left out first, then the shape, then the folder; never cut."""
    c = subject.stepper.config
    label = str(subject.label)
    parts = [label, f"{c.cell} {c.embed}→{c.hidden}×{c.layers}", f"vocab {len(subject.vocab):,}"]
    while width and len(parts) > 1 and cell_len(" · ".join(parts)) > width:
        parts.pop()
    if width and cell_len(parts[0]) > width:
        parts[0] = label.replace("\\", "/").rsplit("/", 1)[-1]  # the file's name
    return " · ".join(parts)


class FitTable(DataTable):
    """A DataTable that tells its view its new size, so that the view can fit its rows to it."""

    class Resized(Message):
        def __init__(self, table: FitTable) -> None:
            super().__init__()
            self.table = table

    def on_resize(self) -> None:
        self.post_message(self.Resized(self))

    def with_columns(self, columns: tuple[str, ...]) -> FitTable:
        """The table emptied, with these columns (made again only when they changed)."""
        if tuple(c.label.plain for c in self.columns.values()) != tuple(
            c.rstrip(">") for c in columns
        ):
            self.clear(columns=True)
            self.add_columns(*map(header, columns))
        else:
            self.clear()
        return self


class InspectView(Vertical):
    """A view of the inspection screen. One rule for input in every view: the view opens with
    the keys on its table (its own keys work at once), `/` puts them in its text field, Enter
    (which submits) or Esc gives them back. A view opts in by naming its field's id in FIELD
    (an InspectField; None: a view with nothing to type) and its table's in TABLE."""

    FIELD: ClassVar[str | None] = None  # e.g. "score-line"
    TABLE: ClassVar[str] = ""  # e.g. "score-table"
    subject: Subject | None = None  # given by the screen

    def show_hint(self, hint: str) -> None:
        """What the view says while it has nothing to show (no model yet, reading it)."""


class InspectField(Input):
    """A text field of this screen: Enter submits, Esc gives the keys back to the view."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "screen.leave_field", "Done")]


def heat_strip(levels: tuple[int, ...], spark: str, colour: bool) -> Text:
    """A sparkline of hidden units, each cell coloured by its level (red +, blue -)."""
    text = Text(no_wrap=True)
    for level, char in zip(levels, spark, strict=True):
        if not colour or level == 0:
            text.append(char, style="dim" if colour else "")
        else:
            palette = POSITIVE if level > 0 else NEGATIVE
            text.append(char, style=palette[min(abs(level), 4) - 1])
    return text


def percent(share: float) -> str:
    """A share in whole percent; a small one is not 0%."""
    return "<1%" if 0 < share < 0.005 else f"{share:.0%}"


def bar(fraction: float, width: int, char: str = "█") -> str:
    return char * max(0, min(width, round(fraction * width)))


def header(name: str) -> Text:
    """A column label; a trailing > aligns it right, over numbers."""
    if name.endswith(">"):
        return Text(name[:-1], justify="right")
    return Text(name)


def num(text: str, style: str = "") -> Text:
    """A right-aligned table cell."""
    return Text(text, style=style, justify="right")
