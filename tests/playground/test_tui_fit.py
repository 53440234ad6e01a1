"""At 80x24 nothing a user needs ends in "…": the status line in every state, the epoch table
with the widest figures it can hold, and the Runs screen's table are shortened on purpose
(parts left out, short forms), never cut. Checked on the screen as a capture reads it."""

from __future__ import annotations

from rich.cells import cell_len

from lyrics_tui.tui.screens.runs import RunsScreen
from lyrics_tui.tui.widgets.runs_table import RunsTable
from lyrics_tui.tui.widgets.status_line import Part, StatusLine, fitted
from tests.helpers import tiny_corpus
from tests.playground.pilot import (
    IDLE,
    TINY_TRAIN,
    TRAINING,
    make_app,
    screen_lines,
    session,
    start_training,
    tap,
    until,
)
from tests.playground.test_tui_runs import RUNS, fill

BOX = "│┃╮╯┓┛╭╰┏┗─━ "
LONG = "a_corpus_with_a_rather_long_file_name.txt"


def cut(line: str) -> bool:
    """Whether a screen row ends in an ellipsis (borders and blanks aside)."""
    return line.rstrip(BOX).endswith("…")


def status_row(app) -> str:
    row = screen_lines(app)[0].strip()
    shown = str(app.query_one(StatusLine).content)
    assert row == shown and cell_len(shown) <= app.size.width - 2, (row, shown)
    return row


def test_fitted_leaves_out_the_least_needed_parts_first():
    plan = Part("t continues to epoch 48 (24 more)", 5, "t continues to epoch 48")
    parts = [Part("trained 24 epoch(s)"), plan, Part("gru 512→512×1", 3), Part("8.31M params", 1)]
    assert fitted(parts, 200).endswith("8.31M params")
    assert fitted(parts, 70) == "trained 24 epoch(s) · t continues to epoch 48 (24 more)"
    assert fitted(parts, 50) == "trained 24 epoch(s) · t continues to epoch 48"
    assert fitted(parts, 10) == "trained 24 epoch(s)"  # what is never left out stays whole


async def test_the_status_line_fits_80_columns_in_every_state(tmp_path):
    corpus = tmp_path / LONG
    corpus.write_text(tiny_corpus(tmp_path).read_text(encoding="utf-8"), encoding="utf-8")

    train = {**TINY_TRAIN, "epochs": 500}
    app = make_app(tmp_path, corpus=str(corpus), train_overrides=train)
    async with session(app, (80, 24)) as pilot:
        rows = [status_row(app)]  # no model yet
        await start_training(app, pilot)
        await until(pilot, lambda: app.training.state is TRAINING, "training")
        await until(pilot, lambda: app.training.history, "an epoch")
        rows.append(status_row(app))
        await tap(pilot, "x")
        await until(pilot, lambda: app.training.state is IDLE, "the stop")
        app.training.dirty = True  # as when a save failed: the widest state it can be in
        app._refresh()
        rows.append(status_row(app))  # trained, t continues, unsaved
        assert not any(cut(row) for row in rows), rows
        assert "unsaved" in rows[-1] and "trained" in rows[-1]


async def test_the_epoch_table_holds_its_widest_figures_at_80_columns(tmp_path):
    app = make_app(tmp_path)
    async with session(app, (80, 24)) as pilot:
        await until(pilot, lambda: app.ready, "the panel")
        app.main.show_view("training")
        huge = {"train_loss": 12.345, "tokens_per_s": 123_456.0, "elapsed_s": 9 * 3600.0}
        app.main.panel.history = tuple(
            {"epoch": 9990 + i, "val_ppl": 123_456.7, "cache_val_ppl": 98_765.4, **huge}
            for i in range(3)
        )
        await pilot.pause()
        table = [row for row in screen_lines(app) if "12.345" in row]
        assert len(table) == 3, screen_lines(app)
        for row in table:
            assert not cut(row) and "123.5k" in row and "98.8k" in row and "9h00" in row


async def test_the_runs_screen_fits_80_columns(tmp_path):
    db = tmp_path / "runs.sqlite3"
    long_runs = [
        ("jaychou_lyrics.txt", "gru", 512, 512, 3_320_000, 56, 10_000, 300.0, "completed"),
        *RUNS,
    ]
    fill(db, long_runs)

    app = make_app(tmp_path, runs_db=str(db))
    async with session(app, (80, 24)) as pilot:
        await until(pilot, lambda: app.ready, "the app")
        await pilot.press("u")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen), "the Runs screen")
        await until(pilot, lambda: app.screen.query_one(RunsTable).runs, "the runs")
        await pilot.pause()
        lines = screen_lines(app)
        assert not [line for line in lines if cut(line)], "\n".join(lines)
        table = "\n".join(lines)
        assert "jaychou_lyrics.txt" in table and "interrupted" in table


def test_a_run_past_its_last_epoch_shows_the_last_not_one_more():
    """After the last epoch the run stays active while song memory is fitted and it saves."""
    from types import SimpleNamespace

    from lyrics_tui.core.config import TrainConfig
    from lyrics_tui.tui.widgets.status_line import epoch_under_way

    config = TrainConfig(epochs=3, time_budget=0.0)
    texts = [
        epoch_under_way(SimpleNamespace(train_config=config, epoch=done)).text  # type: ignore[arg-type]
        for done in (0, 2, 3)
    ]
    assert texts == ["epoch 1/3", "epoch 3/3", "epoch 3/3"]
