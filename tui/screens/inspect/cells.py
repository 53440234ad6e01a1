"""F5 Cells: one hidden unit read over a whole text (core/inspection/cells/). The text is shaded
by the unit's value after each token (red above 0, blue below; the row of shade characters
under each word says the same without colour), beside the units ranked against a pattern.

The text: the model's held-out lines (the last share of its corpus that training kept aside),
or what / reads (a file, or lines with \\n between them). Keys: n/N the next/previous unit in
the ranking (or the arrows in the list, Tab), ,/. the unit before/after by number, p/P or 1-5
the pattern, c the LSTM's cell state c or h; in the text the arrows move, space (or
shift+arrows) marks a span and Enter ranks the units on across it and off around it
(LSTMVis's rule); j/J go to the other places where they fire together; Esc drops the span.

Reading and ranking run in a thread (a long text takes a while); the view shows each answer
when it comes, and drops one that a newer request has overtaken."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Unpack

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Label, Static

from lyrics_tui.core.errors import LyricsError
from lyrics_tui.core.inspection.cells.ranking import THRESHOLD
from lyrics_tui.tui.screens.inspect.cell_text import CellText, UnitList
from lyrics_tui.tui.screens.inspect.cells_info import (
    cells_bindings,
    info_parts,
    patterns_line,
    source_line,
)
from lyrics_tui.tui.screens.inspect.common import InspectField, InspectView, packed

if TYPE_CHECKING:
    from lyrics_tui.core.inspection.cells.ranking import Ranking
    from lyrics_tui.core.inspection.cells.reading import CellReading
    from lyrics_tui.core.inspection.cells.reading import CellText as SplitText
    from lyrics_tui.core.inspection.subject import Subject
    from lyrics_tui.tui.widgets import WidgetOptions

FIRST_PATTERN = "line-end"
# held-out texts up to this long are read as soon as the model arrives (a tenth of a second of
# a GRU 512 for the bundled corpus's 574 tokens), so that F5 shows them at once
READ_AHEAD = 2_000
MAX_THRESHOLD = 3.0  # an LSTM's c goes past 1
ACTIONS = frozenset({"ranked", "unit", "pattern", "pick", "state", "place", "threshold"})
NO_TEXT = (
    "no text to read: the model's corpus is not on this machine · / and a file or lines "
    "(\\n between them), Enter"
)


@dataclass
class ReadAhead(Message):
    """The held-out lines of `subject`, split and (when short) read and ranked before F5."""

    subject: Subject
    split: SplitText | None  # None: the corpus is not here
    reading: CellReading | None = None
    ranking: Ranking | None = None


@dataclass
class CellsAnswered(Message):
    """A thread's answer: a reading (None: unchanged) and a ranking, or an error line."""

    request: int
    reading: CellReading | None = None
    ranking: Ranking | None = None
    error: str = ""


class CellsView(InspectView):
    """Owns the text read (a CellReading), the rankings made of it and the unit shown. Its keys
    are its own: they act while the keys are inside it (the view shown)."""

    BINDINGS: ClassVar[list[BindingType]] = cells_bindings()
    FIELD = "cells-text"
    TABLE = "cells-view"  # the text holds the keys

    def __init__(self, **kwargs: Unpack[WidgetOptions]) -> None:
        super().__init__(**kwargs)
        self.reading: CellReading | None = None
        self.ranking: Ranking | None = None  # the one shown
        self.rankings: dict[tuple[str, str], Ranking] = {}  # by (pattern, state)
        self.pattern = FIRST_PATTERN
        self.state = "h"
        self.unit = 0
        self.lines: list[str] | None = None  # the text chosen with /; None: the held-out lines
        self.source = ""
        self.requests = 0  # answers to older requests are dropped
        self.busy = False
        self.place = -1  # the place of the selection's units that j went to last
        self.threshold = THRESHOLD  # a selection's "on" (-/+ move it)
        self.ahead: ReadAhead | None = None  # the held-out lines read before F5

    def compose(self) -> ComposeResult:
        with Horizontal(classes="input-row"):
            yield Label("text ›")
            yield InspectField(
                placeholder="a file, or lines (\\n between them), Enter; empty: the held-out lines",
                id="cells-text",
                compact=True,
            )
        yield Static("", id="cells-patterns")
        yield Static("", id="cells-info", classes="info")
        with Horizontal(id="cells-body"):
            yield CellText(id="cells-view")
            yield UnitList(id="cells-table")

    @property
    def text(self) -> CellText:
        return self.query_one(CellText)

    @property
    def units(self) -> UnitList:
        return self.query_one(UnitList)

    def _info(self, text: str | Text) -> None:
        self.query_one("#cells-info", Static).update(text)

    def show_hint(self, hint: str) -> None:
        """No model (yet): the hint, and nothing read."""
        self._info(hint)
        if self.subject is None and self.reading is not None:
            self.reading = self.ranking = None
            self.rankings = {}
            self.text.clear()
            self.units.show((), "", 0)

    # -- reading a text --------------------------------------------------------------------------
    def open(self) -> None:
        """Shown: read the text if nothing is read yet (or show what was read ahead)."""
        if self.subject is None or self.reading is not None or self.busy:
            return
        ahead = self._ahead()
        if ahead is not None and ahead.reading is not None and self.lines is None:
            self._show_answer(ahead.reading, ahead.ranking)
        else:
            self._start_reading()

    def rebuild(self) -> None:
        """A new model: the same text read again, if one was read; else its held-out lines
        read ahead of F5 in a thread (split only, when longer than READ_AHEAD tokens)."""
        self.rankings.clear()
        if self.reading is not None or self.busy:
            self._start_reading()
        elif self.subject is not None and self.lines is None:
            self._read_ahead(self.subject)

    def _ahead(self) -> ReadAhead | None:
        ahead = self.ahead
        return ahead if ahead is not None and ahead.subject is self.subject else None

    @work(thread=True, exclusive=True, group="inspect-cells-ahead", exit_on_error=False)
    def _read_ahead(self, subject: Subject) -> None:
        from lyrics_tui.core.inspection.cells.ranking import rank_pattern
        from lyrics_tui.core.inspection.cells.reading import read_cells, split_held_out

        try:
            split = split_held_out(subject)
            if split is None or len(split.tokens) > READ_AHEAD:
                self.post_message(ReadAhead(subject, split))
                return
            reading = read_cells(subject, split)
            ranking = rank_pattern(reading, FIRST_PATTERN)
        except LyricsError:
            return  # said when the view is opened
        self.post_message(ReadAhead(subject, split, reading, ranking))

    @on(ReadAhead)
    def _on_ahead(self, message: ReadAhead) -> None:
        message.stop()
        if message.subject is not self.subject or message.split is None:
            return
        self.ahead = message
        waiting = self.busy and self.reading is None and self.lines is None
        if waiting and message.reading is not None and self.pattern == FIRST_PATTERN:
            self.requests += 1  # F5 came first: the answer on its way is not needed
            self._show_answer(message.reading, message.ranking)

    def read_input(self, value: str) -> None:
        """What / took: a file's lines, lines typed (\\n between them), or empty: held out."""
        value = value.strip()
        path = Path(value).expanduser() if value else None
        if path is not None and "\\n" not in value and path.is_file():
            from lyrics_tui.core.corpus import read_corpus

            try:
                self.lines, self.source = read_corpus(path).lines, path.name
            except LyricsError as exc:
                self.notify(str(exc), severity="error", timeout=8)
                return
        elif value:
            self.lines, self.source = value.split("\\n"), "the text typed"
        else:
            self.lines = None
        self._start_reading()

    def _start_reading(self) -> None:
        if self.subject is None:  # the screen asks for a reading only once it has a model
            return
        self.requests += 1
        self.busy = True
        self._info("reading the text…")
        ahead = self._ahead()
        split = ahead.split if ahead is not None else None
        self._read(self.requests, self.subject, self.lines, self.source, self.pattern, split)

    @work(thread=True, exclusive=True, group="inspect-cells", exit_on_error=False)
    def _read(
        self,
        request: int,
        subject: Subject,
        lines: list[str] | None,
        source: str,
        pattern: str,
        ahead: SplitText | None = None,
    ) -> None:
        """Read (`ahead`: the held-out lines already split) and rank, in a thread."""
        from lyrics_tui.core.inspection.cells.ranking import rank_pattern
        from lyrics_tui.core.inspection.cells.reading import read_cells, split_held_out

        try:
            text = (ahead or split_held_out(subject)) if lines is None else lines
            if text is None:
                self.post_message(CellsAnswered(request, error=NO_TEXT))
                return
            reading = read_cells(subject, text, source)
            ranking = rank_pattern(reading, pattern)
        except LyricsError as exc:
            self.post_message(CellsAnswered(request, error=str(exc)))
            return
        except Exception as exc:
            error = f"could not read the text: {type(exc).__name__}: {exc}"
            self.post_message(CellsAnswered(request, error=error))
            return
        self.post_message(CellsAnswered(request, reading, ranking))

    @work(thread=True, exclusive=True, group="inspect-cells", exit_on_error=False)
    def _rank(self, request: int, reading: CellReading, pattern: str, state: str) -> None:
        from lyrics_tui.core.inspection.cells.ranking import rank_pattern

        try:
            ranking = rank_pattern(reading, pattern, state)
        except LyricsError as exc:
            self.post_message(CellsAnswered(request, error=str(exc)))
            return
        except Exception as exc:
            error = f"could not rank the units: {type(exc).__name__}: {exc}"
            self.post_message(CellsAnswered(request, error=error))
            return
        self.post_message(CellsAnswered(request, ranking=ranking))

    @on(CellsAnswered)
    def _on_answer(self, message: CellsAnswered) -> None:
        message.stop()
        if message.request != self.requests:
            return  # overtaken by a newer request
        self.busy = False
        if message.error:
            if self.reading is None:
                self._info(message.error)
                if self.display:
                    self.query_one("#cells-text").focus()
            else:
                self.notify(message.error, severity="error", timeout=8)
                self._describe()
            return
        self._show_answer(message.reading, message.ranking)

    def _show_answer(self, reading: CellReading | None, ranking: Ranking | None) -> None:
        """A new reading (None: the same) and a ranking of it."""
        self.busy = False
        if reading is not None:
            self.reading, self.rankings = reading, {}
            if self.state not in reading.states:
                self.state = "h"
            self.text.show(reading, not self.app.no_color)
            self._show_source(reading)
            focused = self.screen.focused
            if self.display and (focused is None or focused.id == "cells-text"):
                self.text.focus()
        if ranking is not None:
            self.rankings[(ranking.pattern, ranking.state)] = ranking
            self._show_ranking(ranking)

    # -- what is shown ---------------------------------------------------------------------------
    def _show_ranking(self, ranking: Ranking) -> None:
        self.ranking, self.place = ranking, -1
        self.pattern = ranking.pattern
        self.unit = ranking.best.unit
        self.text.mark_places(ranking.span, ranking.places)
        self.units.show(ranking.units, ranking.measure, self.unit)
        self._show_patterns()
        self._shade()
        self.screen.refresh_bindings()  # the selection's keys come and go

    def _shade(self) -> None:
        from lyrics_tui.core.inspection.units import unit_strip

        reading = self.reading
        if reading is None:
            return
        scale = reading.scale(self.unit, self.state)
        strip = unit_strip(reading.unit(self.unit, self.state), scale)
        self.text.shade(strip.levels, strip.spark)
        self._describe()

    def _show_patterns(self) -> None:
        text = patterns_line(self.pattern, self.ranking, self.reading, self.state)
        self.query_one("#cells-patterns", Static).update(text)

    def _describe(self) -> None:
        """The info lines: the unit and its score, the value at the cursor, the selection."""
        if self.reading is None or self.ranking is None:
            return
        width = self.query_one("#cells-info").size.width or 76
        parts = info_parts(self.reading, self.ranking, self.unit, self.state, self.text.cursor)
        self._info(Text(packed(parts, width)))

    def _show_source(self, reading: CellReading) -> None:
        """What is read, in the text field's place while it is empty."""
        self.query_one("#cells-text", InspectField).placeholder = source_line(reading)

    # -- keys ------------------------------------------------------------------------------------
    def show_unit(self, unit: int) -> None:
        if self.reading is None or self.ranking is None:
            return
        self.unit = unit % self.reading.hidden_size
        self.units.show(self.ranking.units, self.ranking.measure, self.unit)
        self._shade()

    def action_ranked(self, step: int) -> None:
        if self.ranking is not None:
            here = self.ranking.position(self.unit)
            target = max(0, min(len(self.ranking.units) - 1, here + step))
            self.show_unit(self.ranking.units[target].unit)

    def action_unit(self, step: int) -> None:
        self.show_unit(self.unit + step)

    def choose_pattern(self, name: str) -> None:
        if self.reading is None:
            return
        known = self.rankings.get((name, self.state))
        if known is not None and not self.busy:
            self._show_ranking(known)
            return
        self.pattern = name
        self._show_patterns()
        if self.busy:  # a text being read: read it for this pattern instead
            self._start_reading()
            return
        self.requests += 1
        self.busy = True
        self._info(f"ranking the units for {name}…")
        self._rank(self.requests, self.reading, name, self.state)

    def action_pattern(self, step: int) -> None:
        from lyrics_tui.core.inspection.cells.patterns import PATTERNS

        names = list(PATTERNS)
        here = names.index(self.pattern) if self.pattern in names else -1
        self.choose_pattern(names[(here + step) % len(names)])

    def action_state(self) -> None:
        if self.reading is None or self.reading.c is None:
            self.notify("only an LSTM has a cell state c; this network has h", severity="warning")
            return
        self.state = "c" if self.state == "h" else "h"
        span = self.ranking.span if self.ranking is not None else None
        if span is not None:
            self.select(*span)
        else:
            self.choose_pattern(self.pattern)

    def select(self, start: int, end: int) -> None:
        from lyrics_tui.core.inspection.cells.ranking import rank_selection

        if self.reading is None:
            return
        try:
            ranking = rank_selection(self.reading, start, end, self.state, self.threshold)
        except LyricsError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        self._show_ranking(ranking)

    @property
    def selecting(self) -> bool:
        return self.ranking is not None and self.ranking.span is not None

    def action_threshold(self, delta: float) -> None:
        """-/+: the selection's threshold, and the selection ranked again."""
        self.threshold = round(min(MAX_THRESHOLD, max(0.05, self.threshold + delta)), 2)
        span = self.ranking.span if self.ranking is not None else None
        if span is not None:  # selecting
            self.select(*span)

    def drop_selection(self) -> bool:
        """Esc: drop the span being marked or the selection; False when there was neither."""
        if self.reading is None or not self.text.clear_mark():
            return False
        if self.ranking is not None and self.ranking.span is not None:
            self.choose_pattern(self._last_pattern())
        return True

    def _last_pattern(self) -> str:
        from lyrics_tui.core.inspection.cells.patterns import PATTERNS

        shown = [name for name, state in self.rankings if state == self.state]
        return next((n for n in reversed(shown) if n in PATTERNS), FIRST_PATTERN)

    def action_place(self, step: int) -> None:
        """j/J: the cursor to the next/previous place where the selection's units fire."""
        places = self.ranking.places if self.ranking is not None else ()
        if not places:
            self.notify("no other places: select a span (space, arrows, Enter) first")
            return
        self.place = (self.place + step) % len(places)
        self.text.go_to(places[self.place].start)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.reading is None:
            return action not in ACTIONS
        if action == "state":
            return self.reading.c is not None
        if action in ("place", "threshold"):
            return self.selecting
        return True

    def action_pick(self, number: int) -> None:
        from lyrics_tui.core.inspection.cells.patterns import PATTERNS

        self.choose_pattern(list(PATTERNS)[number - 1])

    @on(CellText.SpanChosen)
    def _on_span(self, message: CellText.SpanChosen) -> None:
        message.stop()
        self.select(message.start, message.end)

    @on(CellText.CursorMoved)
    def _on_cursor(self, message: CellText.CursorMoved) -> None:
        message.stop()
        self._describe()

    @on(UnitList.Highlighted)
    def _on_unit(self, message: UnitList.Highlighted) -> None:
        message.stop()
        if message.unit != self.unit:
            self.unit = message.unit
            self._shade()
