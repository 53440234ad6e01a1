"""The Runs screen (u) in the playground: the table, sort, filter, marking and the overlaid
curves, opening a run's checkpoint, deleting after a confirmation, a run trained elsewhere
growing live, the store's failures; the screen at 80x24 (pytest-textual-snapshot).

The store is filled through core's own API with made-up runs at fixed times (this year, so the
table shows month-day and time) and made-up paths, so that the snapshot is stable. Regenerate
it after an intended change with: ./dev test tests/playground/test_tui_runs.py --snapshot-update
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import pytest

from lyrics_tui.core.runs.store import RunStore
from lyrics_tui.tui.screens.confirm import ConfirmScreen
from lyrics_tui.tui.screens.runs import RunsScreen
from lyrics_tui.tui.widgets.loss_plot import OVERLAY_COLORS, LossPlot
from lyrics_tui.tui.widgets.runs_table import COLUMNS, RunsTable
from tests.helpers import ROOT, epoch_record, run_start
from tests.playground.pilot import (
    make_app,
    record_notes,
    session,
    text_of,
    train_one_epoch,
    until,
)

YEAR = time.localtime().tm_year

# (corpus, cell, embed, hidden, parameters, epochs done, planned, first ppl, status)
RUNS = [
    ("lyrics.txt", "gru", 384, 384, 1_070_000, 8, 8, 180.0, "completed"),
    ("lyrics.txt", "lstm", 256, 256, 852_200, 4, 8, 210.0, "stopped"),
    ("songci.txt", "gru", 384, 384, 2_310_000, 8, 8, 90.0, "completed"),
    ("lyrics.txt", "rnn", 128, 256, 160_500, 6, 10, 260.0, "interrupted"),
    ("my_lyrics.txt", "gru", 512, 512, 4_900_000, 2, 8, 300.0, "diverged"),
    ("lyrics.txt", "gru", 384, 384, 1_070_000, 0, 8, 0.0, "failed"),
    ("songci.txt", "lstm", 384, 384, 2_860_000, 3, 8, 120.0, "running"),
]


def started_at(n: int) -> float:
    """Run n's start: March 1st of this year, 14:03, then every 47 minutes (local time)."""
    return time.mktime((YEAR, 3, 1, 14, 3, 0, 0, 0, -1)) + n * 47 * 60


def fill(db: Path, runs=RUNS) -> list[int]:
    """The runs above, with made-up checkpoint paths; their ids."""
    ids = []
    with RunStore(db) as store:
        for n, (corpus, cell, embed, hidden, params, done, planned, ppl, status) in enumerate(runs):
            start = started_at(n)
            run_id = store.start_run(
                run_start(
                    f"/corpora/{corpus}",
                    model={"cell": cell, "embed": embed, "hidden": hidden},
                    parameters=params,
                    train={"epochs": planned},
                ),
                now=start,
            )
            for epoch in range(1, done + 1):
                record = epoch_record(epoch, ppl * 0.85**epoch, elapsed_s=epoch * 13.0)
                store.record_epoch(run_id, record, now=start + epoch * 13)
            if done:
                store.record_checkpoint(run_id, "best", f"/runs/ck/{Path(corpus).stem}.pt")
            if status != "running":  # a running row is this (live) process's
                store.finish_run(run_id, status, reason=status, now=start + done * 13 + 5)
            ids.append(run_id)
    return ids


def screen_of(app) -> RunsScreen:
    screen = app.screen
    assert isinstance(screen, RunsScreen), screen
    return screen


async def open_runs(app, pilot) -> RunsTable:
    """u, then wait for the table to hold the runs listed."""
    await pilot.press("u")
    await until(pilot, lambda: isinstance(app.screen, RunsScreen), "the Runs screen")
    await until(pilot, lambda: app.runs.listed, "the runs listed")
    await pilot.pause()
    return app.screen.query_one(RunsTable)


def ids(table: RunsTable) -> list[int]:
    return [r.id for r in table.runs]


def header_x(key: str) -> int:
    """A column header's x in the table (at 80 columns the corpus column has no extra room)."""
    x = 0
    for column in COLUMNS:
        if column.key == key:
            return x + 2
        x += column.width
    raise KeyError(key)


# -- the table ------------------------------------------------------------------------------------
async def test_the_runs_screen_lists_sorts_and_filters(tmp_path):
    db = tmp_path / "runs.sqlite3"
    fill(db)

    app = make_app(tmp_path, runs_db=str(db))
    async with session(app) as pilot:
        table = await open_runs(app, pilot)
        assert ids(table) == [7, 6, 5, 4, 3, 2, 1]  # newest first, as lyrics-tui runs
        head = text_of(screen_of(app), "#runs-head")
        assert "7 recorded" in head and "sorted by when ▼" in head
        row = table.runs[0]
        assert (row.corpus_name, row.cell, row.status, row.epochs) == (
            "songci.txt",
            "lstm",
            "running",
            3,
        )
        detail = text_of(screen_of(app), "#runs-detail")
        assert "run 7 · lstm 384→384×1" in detail and "/runs/ck/songci.pt" in detail

        await pilot.press("s")  # the next column: corpus, A to Z
        names = [r.corpus_name for r in table.runs]
        assert names == sorted(names) and table.sort_key == "corpus"
        await pilot.press("r")
        assert [r.corpus_name for r in table.runs] == sorted(names, reverse=True)

        # a click on a header sorts by it: best perplexity, lowest first, none last
        await pilot.click(RunsTable, offset=(header_x("best_val_ppl"), 0))
        ppls = [r.best_val_ppl for r in table.runs]
        assert ppls[-1] is None and ppls[:-1] == sorted(ppls[:-1])
        await pilot.click(RunsTable, offset=(header_x("best_val_ppl"), 0))  # again: reversed
        assert table.runs[0].best_val_ppl == max(ppls[:-1])

        # c shows one corpus, the next, then all again
        for name in ("lyrics.txt", "my_lyrics.txt", "songci.txt"):
            await pilot.press("c")
            assert {r.corpus_name for r in table.runs} == {name}
            assert f"on {name}" in text_of(screen_of(app), "#runs-head")
        await pilot.press("c")
        assert len(table.runs) == 7

        await pilot.press("escape")
        assert not isinstance(app.screen, RunsScreen)


async def test_marking_overlays_curves_beside_the_model_trained_here(tmp_path):
    db = tmp_path / "runs.sqlite3"
    fill(db)

    app = make_app(tmp_path, runs_db=str(db))
    async with session(app) as pilot:
        await train_one_epoch(app, pilot)  # recorded too: the newest run
        table = await open_runs(app, pilot)
        mine = table.runs[0]
        assert (mine.id, mine.status, mine.epochs) == (8, "completed", 1)

        await pilot.press("down", "space", "down", "m")  # runs 7 and 6
        assert set(app.runs.marked) == {7, 6}
        await until(pilot, lambda: len(app.runs.marked[7].points) == 3, "run 7's curve")
        assert "2 overlaid" in text_of(screen_of(app), "#runs-head")
        await pilot.press("escape")

        plot = app.query_one(LossPlot)
        await until(pilot, lambda: len(plot.series) == 4, "the overlaid curves")
        train, val, seven, six = plot.series
        assert (train.name, val.name) == ("train", "val")  # the model held, as before
        assert len(val.points) == 1
        assert (seven.name, six.name) == ("#7 lstm", "#6 gru")
        with RunStore(db) as store:
            expected = [(e.epoch, e.val_loss) for e in store.epochs(7)]
        assert list(seven.points) == pytest.approx(expected)
        assert six.points == ()  # it failed before its first epoch
        assert (seven.color, six.color) == OVERLAY_COLORS[:2]
        assert seven.marker != six.marker  # they differ without colour too
        title = str(app.query_one("#train-panel").border_title)  # the legend, out of the way
        assert "train" in title and "#7 lstm" in title and "#6 gru" in title
        assert not plot.legend_inside

        await open_runs(app, pilot)  # the marks are still there; space unmarks
        await pilot.press("down", "space")
        await pilot.press("escape")
        await until(pilot, lambda: len(plot.series) == 3, "run 7 no longer overlaid")
        assert plot.series[2].name == "#6 gru"
        assert "#7" not in str(app.query_one("#train-panel").border_title)


# -- open and delete ------------------------------------------------------------------------------
async def test_enter_opens_a_runs_checkpoint_as_l_does(tmp_path, tiny_checkpoint):
    db = tmp_path / "runs.sqlite3"
    with RunStore(db) as store:
        gone = store.start_run(run_start(), now=started_at(0))
        store.record_checkpoint(gone, "best", str(tmp_path / "deleted.pt"))
        store.finish_run(gone, "completed", reason="completed")
        good = store.start_run(run_start(), now=started_at(1))
        store.record_checkpoint(good, "best", str(tiny_checkpoint))
        store.finish_run(good, "completed", reason="completed")

    app = make_app(tmp_path, runs_db=str(db))
    notes = record_notes(app)
    async with session(app) as pilot:
        table = await open_runs(app, pilot)
        await pilot.press("down")
        assert table.selected.id == gone
        await pilot.press("enter")
        await until(pilot, lambda: notes, "a note")
        assert notes[-1][0] == "warning" and "no longer there" in notes[-1][1]
        assert isinstance(app.screen, RunsScreen)  # it stays open

        await pilot.press("up", "o")
        await until(pilot, lambda: app.training.opened is not None, "the checkpoint loaded")
        assert Path(app.training.opened.checkpoint.path) == tiny_checkpoint
        assert not isinstance(app.screen, RunsScreen)


async def test_delete_asks_first_and_refuses_a_run_in_training(tmp_path):
    db = tmp_path / "runs.sqlite3"
    checkpoint = tmp_path / "old.pt"
    checkpoint.write_bytes(b"not really weights")
    with RunStore(db) as store:
        old = store.start_run(run_start(), now=started_at(0))
        store.record_checkpoint(old, "best", str(checkpoint))
        store.finish_run(old, "stopped", reason="stopped")
        live = store.start_run(run_start(), now=started_at(1))  # this process: alive

    app = make_app(tmp_path, runs_db=str(db))
    notes = record_notes(app)
    async with session(app) as pilot:
        table = await open_runs(app, pilot)
        assert table.selected.id == live
        await pilot.press("d")
        assert notes[-1][0] == "warning" and "still training" in notes[-1][1]
        assert isinstance(app.screen, RunsScreen)  # no question asked

        await pilot.press("down", "d")
        assert isinstance(app.screen, ConfirmScreen)
        assert "old.pt" in text_of(app.screen, "#confirm-question")
        await pilot.press("n")
        assert isinstance(app.screen, RunsScreen) and checkpoint.exists()

        await pilot.press("d")
        await pilot.press("y")
        await until(pilot, lambda: old not in app.runs.rows, "the run deleted")
        assert ids(table) == [live] and not checkpoint.exists()
        assert notes[-1][1] == f"deleted run {old} and {checkpoint}"
    with RunStore(db) as store:
        assert [r.id for r in store.list_runs()] == [live]


# -- live: a run trained by another process ------------------------------------------------------
async def test_a_run_trained_elsewhere_appears_and_its_curve_grows(tmp_path):
    """Another connection (a thread of its own, as another process would) writes the run."""
    db = tmp_path / "runs.sqlite3"
    fill(db, RUNS[:1])
    other = RunStore(db, create=False)

    def write(step, *args):
        return asyncio.to_thread(step, *args)

    try:
        app = make_app(tmp_path, runs_db=str(db))
        async with session(app) as pilot:
            table = await open_runs(app, pilot)
            assert ids(table) == [1]
            live = await write(other.start_run, run_start(train={"epochs": 5}))
            await until(pilot, lambda: ids(table) == [live, 1], "the new run in the table")
            assert table.runs[0].status == "running" and table.runs[0].epochs == 0

            await pilot.press("home", "space")
            for epoch in (1, 2):
                await write(other.record_epoch, live, epoch_record(epoch, 90.0 - epoch))
            await until(pilot, lambda: table.runs[0].epochs == 2, "epoch 2 in the table")
            await until(pilot, lambda: len(app.runs.marked[live].points) == 2, "its curve")

            await pilot.press("escape")  # the loss panel goes on following it
            plot = app.query_one(LossPlot)
            await until(pilot, lambda: len(plot.series[-1].points) == 2, "the overlay")
            await write(other.record_epoch, live, epoch_record(3, 80.0))
            await until(pilot, lambda: len(plot.series[-1].points) == 3, "the curve growing")
            await write(other.finish_run, live, "completed")
            await until(pilot, lambda: app.runs.rows[live].status == "completed", "its end")

    finally:
        other.close()
    # the store thread, still following the marked run when the app ended, ends with it
    deadline = time.monotonic() + 10
    while any(t.name == "lyrics-runs" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the runs controller's thread outlived the app"
        time.sleep(0.02)


# -- when the store cannot be used ---------------------------------------------------------------
async def test_an_unusable_store_is_one_warning_and_the_playground_goes_on(tmp_path):
    db = tmp_path / "runs.sqlite3"
    db.write_bytes(b"this is not a database\n" * 300)

    app = make_app(tmp_path, runs_db=str(db))
    notes = record_notes(app)
    async with session(app) as pilot:
        await train_one_epoch(app, pilot)
        warnings = [text for severity, text in notes if severity == "warning"]
        assert len(warnings) == 1, notes
        assert str(db) in warnings[0] and "without recording" in warnings[0]
        assert (tmp_path / "ck" / "tiny.pt").exists()

        await open_runs(app, pilot)  # the screen says why it is empty
        await until(pilot, lambda: app.runs.error, "the store's error")
        assert "not a database" in text_of(screen_of(app), "#runs-detail")
        assert "cannot be read" in text_of(screen_of(app), "#runs-head")


def test_the_runs_db_flag_reaches_the_playground(tmp_path, monkeypatch):
    from lyrics_tui.tui import launch
    from lyrics_tui.tui.cli import build_parser

    made = []
    monkeypatch.setattr(launch, "run_app", lambda app: made.append(app) or 0)
    db = str(tmp_path / "elsewhere.sqlite3")
    assert launch.run_playground(build_parser().parse_args(["--runs-db", db])) == 0
    assert made[0].training.runs_db == db and made[0].runs.path == db

    from lyrics_tui.tui import serving  # --serve: each page's playground gets the flag too

    commands = []
    monkeypatch.setattr(serving, "serve", lambda command, **options: commands.append(command))
    launch.run_playground(build_parser().parse_args(["--serve", "--runs-db", db]))
    assert f"--runs-db {db}" in commands[0]


# -- the screen at 80x24 --------------------------------------------------------------------------
@pytest.fixture
def utc(monkeypatch):
    """Local time is UTC while the test runs: the times shown do not depend on the machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_runs_screen_80x24(snap_compare, tmp_path, monkeypatch, utc):
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("NO_COLOR", raising=False)
    db = tmp_path / "runs.sqlite3"
    fill(db)
    app = make_app(tmp_path, runs_db=str(db))

    async def open_and_mark(pilot) -> None:
        for _ in range(200):
            if app.ready:
                break
            await pilot.pause(0.02)
        await pilot.press("u")
        for _ in range(200):
            if isinstance(app.screen, RunsScreen) and app.screen.query_one(RunsTable).runs:
                break
            await pilot.pause(0.02)
        await pilot.press("down", "down", "space")
        for _ in range(200):
            if app.runs.marked and app.runs.marked[5].points:
                break
            await pilot.pause(0.02)
        await pilot.pause()

    assert os.environ["TZ"] == "UTC"
    assert snap_compare(app, terminal_size=(80, 24), run_before=open_and_mark)
