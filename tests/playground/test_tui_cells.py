"""The inspection screen's F5 Cells view (tui/screens/inspect/cells.py) against core: Pilot tests
of its keys, and snapshots at 80x24 and 120x40.

The network is tests/helpers.py's planted one (each pattern has a unit set by hand to track
it), reading PLANTED_TEXT as the held-out lines of a corpus file; the LSTM state toggle uses the
session's tiny trained checkpoint. Waiting polls a condition between short Pilot pauses.
"""

from __future__ import annotations

import dataclasses

import pytest
from textual.app import App

from lyrics_tui.core.inspection.cells.ranking import rank_pattern, rank_selection
from lyrics_tui.core.inspection.cells.reading import read_cells
from lyrics_tui.core.inspection.units import unit_strip
from lyrics_tui.tui.screens.inspect import InspectScreen
from lyrics_tui.tui.screens.inspect.cell_text import CellText, UnitList
from tests.helpers import PLANTED_TEXT, PLANTED_UNITS, planted_subject
from tests.playground.pilot import until
from tests.playground.test_tui_inspect import InspectApp, opened, plain, shown


@pytest.fixture
def planted(tmp_path):
    """The planted network, its corpus file holding PLANTED_TEXT as its held-out lines."""
    corpus = tmp_path / "planted.txt"
    corpus.write_text(PLANTED_TEXT, encoding="utf-8")
    subject, _ = planted_subject()
    return dataclasses.replace(subject, corpus=str(corpus), val_fraction=1.0)


@pytest.fixture(scope="module")
def subject(checkpoint_path):
    from lyrics_tui.core.fastload import read_checkpoint
    from lyrics_tui.core.inspection.subject import subject_from_checkpoint

    return subject_from_checkpoint(read_checkpoint(str(checkpoint_path)))


async def cells_open(pilot) -> InspectScreen:
    """The screen on F5, once the text is read and ranked."""
    screen = await opened(pilot)
    await pilot.press("f5")
    await until(pilot, lambda: screen.cells.ranking is not None, "the text read and ranked")
    await pilot.pause()
    return screen


def shade_row(text: CellText, row: int) -> str:
    """The shade characters CellText draws under the words of one of its rows."""
    return "".join(s.text for s in text.render_line(2 * row + 1 - round(text.scroll_y))).strip()


async def test_the_view_shades_the_text_by_the_best_unit_and_steps_through_units(planted):
    app = InspectApp(lambda: planted)
    reading = read_cells(planted, PLANTED_TEXT)

    async with app.run_test(size=(100, 30)) as pilot:
        screen = await cells_open(pilot)
        cells = screen.cells
        assert screen.view == "cells" and "[F5 Cells]" in shown(screen, "#inspect-tabs")
        assert app.focused is screen.query_one(CellText)
        assert cells.reading.tokens == reading.tokens
        line_end = rank_pattern(reading, "line-end")
        assert cells.unit == line_end.best.unit == PLANTED_UNITS["line-end"]
        info = shown(screen, "#cells-info")
        assert (
            f"unit {cells.unit} of 8 (h, ▁ −1.00 █ +1.00) · #1 for the word before a line end"
            in info
        )
        assert "AUC 1.000, higher where it holds" in info
        source = screen.query_one("#cells-text").placeholder
        assert source.startswith(
            f"planted.txt, last 18 lines (held out): {len(reading.tokens)} tokens"
        )
        units = screen.query_one(UnitList)
        assert [u.unit for u in units.units] == [u.unit for u in line_end.units]
        strip = unit_strip(reading.unit(cells.unit), reading.scale(cells.unit))
        first = reading.lines()[0]
        text = screen.query_one(CellText)
        expected = " ".join(strip.spark[i] * (2 if i < first[1] - 1 else 1) for i in range(*first))
        assert shade_row(text, 0) == expected  # 春天↵: two cells per character, one for ↵

        await pilot.press("n")  # the next unit in the ranking
        assert cells.unit == line_end.units[1].unit
        assert units.cursor == 1 and "#2 for the word" in shown(screen, "#cells-info")
        await pilot.press("N", "full_stop")  # back to the best, then the unit after it by number
        assert cells.unit == line_end.best.unit + 1
        await pilot.press("comma", "comma")
        assert cells.unit == line_end.best.unit - 1

        await pilot.press("3")  # position in the line: a correlation
        await until(pilot, lambda: cells.pattern == "position" and not cells.busy, "the ranking")
        assert cells.unit == PLANTED_UNITS["position"]
        assert "#1 for the position in the line · r +0.9" in shown(screen, "#cells-info")
        assert "position" in plain(screen.query_one("#cells-patterns").content)
        await pilot.press("p")  # the next pattern: a line that returns
        await until(pilot, lambda: cells.pattern == "returning" and not cells.busy, "ranking")
        assert cells.unit == PLANTED_UNITS["returning"]
        await pilot.press("P", "P")  # back past position to the first word of a line
        await until(pilot, lambda: cells.pattern == "line-start" and not cells.busy, "ranking")
        assert cells.unit == PLANTED_UNITS["line-start"]

        screen.query_one(UnitList).focus()  # the arrows in the list step through the ranking
        await pilot.press("down")
        assert cells.unit == cells.ranking.units[1].unit
        assert "c h/c" not in plain(screen.query_one("KeyBar").content)  # an RNN has no c


async def test_a_span_selected_with_the_keys_finds_its_units_and_where_they_fire(planted):
    app = InspectApp(lambda: planted)
    reading = read_cells(planted, PLANTED_TEXT)
    choruses = [i for i, t in enumerate(reading.tokens) if t == "歌"]

    async with app.run_test(size=(100, 30)) as pilot:
        screen = await cells_open(pilot)
        cells, text = screen.cells, screen.query_one(CellText)
        await pilot.press(*["right"] * choruses[1])  # the cursor onto the second chorus
        assert text.cursor == choruses[1]
        assert "at 歌" in shown(screen, "#cells-info")
        await pilot.press("enter")  # Enter alone selects the word under the cursor
        expected = rank_selection(reading, choruses[1], choruses[1] + 1)
        assert cells.ranking.span == (choruses[1], choruses[1] + 1)
        assert [u.unit for u in cells.ranking.units] == [u.unit for u in expected.units]
        assert PLANTED_UNITS["returning"] in cells.ranking.together
        info = shown(screen, "#cells-info")
        assert f"{expected.matched} units on across “歌” and off around it" in info
        assert f"all {expected.matched} on together at 1 other place (j goes there)" in info
        assert "selection" in plain(screen.query_one("#cells-patterns").content)
        assert text.placed[choruses[2]] and not text.placed[choruses[0]]
        keys = plain(screen.query_one("KeyBar").content)
        assert "j/J Next place" in keys and "-/+ θ" in keys  # the selection's keys
        await pilot.press("j")  # to the other place: the third chorus
        assert text.cursor == choruses[2]

        await pilot.press("minus")  # a lower threshold: ranked again
        assert cells.ranking.threshold == pytest.approx(0.25)
        assert "θ 0.25" in shown(screen, "#cells-info")

        await pilot.press("home", "space", "right", "shift+right", "enter")  # a 3-token span
        assert cells.ranking.span == (0, 3)
        await pilot.press("escape")  # drops the selection, back to the pattern
        await until(pilot, lambda: cells.ranking.span is None and not cells.busy, "the pattern")
        assert isinstance(app.screen, InspectScreen) and cells.pattern == "line-end"
        await pilot.press("space", "right", "escape")  # a span being marked: Esc drops it only
        assert text.marked is None and isinstance(app.screen, InspectScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, InspectScreen)


async def test_a_typed_text_and_the_lstm_cell_state(subject):
    """The tiny checkpoint's corpus is not a file here: the view says so and takes a text."""
    app = InspectApp(lambda: subject)
    lines = "我把思念藏进口袋\\n走在回家的路上\\n我把思念藏进口袋"

    async with app.run_test(size=(100, 30)) as pilot:
        screen = await opened(pilot)
        await pilot.press("f5")
        field = screen.query_one("#cells-text")
        await until(pilot, lambda: app.focused is field, "the text field")
        assert "no text to read" in shown(screen, "#cells-info")
        await pilot.press("n", "c")  # typed, not acted on
        assert screen.cells.reading is None
        field.value = lines
        await pilot.press("enter")
        cells = screen.cells
        await until(pilot, lambda: cells.ranking is not None, "the typed text read")
        assert app.focused is screen.query_one(CellText)
        assert cells.reading.source == "the text typed" and cells.reading.c is not None
        await pilot.press("c")  # the LSTM's cell state
        await until(pilot, lambda: cells.ranking.state == "c" and not cells.busy, "c ranked")
        assert "(c, ▁ −" in shown(screen, "#cells-info")
        expected = rank_pattern(cells.reading, "line-end", "c")
        assert cells.unit == expected.best.unit
        await pilot.press("c")
        assert cells.ranking.state == "h"

        await pilot.press("slash")  # a file that cannot be read: one line, the text stays
        field.value = str(subject.label)  # the checkpoint: not text
        await pilot.press("enter")
        await until(pilot, lambda: bool(app.notes), "the notification")
        assert app.notes[-1][0] == "error" and cells.reading.source == "the text typed"


async def test_the_shades_read_without_colour(planted, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = InspectApp(lambda: planted, view="cells")

    async with app.run_test(size=(80, 24)) as pilot:
        screen = await cells_open(pilot)
        assert app.no_color
        text = screen.query_one(CellText)
        base = text.rich_style  # the widget's own colours (Textual drops them under NO_COLOR)
        for y in range(4):
            for segment in text.render_line(y):
                assert (segment.style.color, segment.style.bgcolor) == (base.color, base.bgcolor)
        reading, unit = screen.cells.reading, screen.cells.unit
        strip = unit_strip(reading.unit(unit), reading.scale(unit))
        assert shade_row(text, 0).replace(" ", "")[0] == strip.spark[0]


async def test_the_playground_reads_the_loaded_checkpoints_held_out_lines(tmp_path):
    from lyrics_tui.tui.app import PlaygroundApp
    from tests.helpers import planted_checkpoint

    checkpoint = planted_checkpoint(tmp_path)
    app = PlaygroundApp(
        corpus=str(tmp_path / "planted.txt"),
        checkpoint=str(checkpoint),
        checkpoint_dir=tmp_path / "ck",
        device="cpu",
        open_newest=False,
    )

    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.training.opened is not None, "the checkpoint to load")
        await pilot.press("i")
        screen = await cells_open(pilot)
        assert screen.cells.reading.source == "planted.txt, last 18 lines (held out)"
        assert screen.cells.unit == PLANTED_UNITS["line-end"]


# -- snapshots ---------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_cells_view_snapshot(snap_compare, planted, monkeypatch, size):
    monkeypatch.delenv("NO_COLOR", raising=False)

    class Cells(App[None]):
        def on_mount(self) -> None:
            self.push_screen(InspectScreen(lambda: planted, view="cells"))

    async def settle(pilot) -> None:
        screen = pilot.app.screen
        await until(pilot, lambda: getattr(screen, "loaded_once", False), "the model")
        await until(pilot, lambda: screen.cells.ranking is not None, "the text read")
        await pilot.press("right", "right", "right")
        await pilot.pause()

    assert snap_compare(Cells(), terminal_size=size, run_before=settle)
