"""Start-up with no --checkpoint: the playground opens the model core's start-up rule picks
(the newest best checkpoint, a corrupt newer file named and passed over), and t pressed while
that model is still being read waits for it and continues it."""

from __future__ import annotations

import os
import shutil
import threading

from lyrics_tui.core import loading
from tests.playground.pilot import (
    IDLE,
    TINY_TRAIN,
    make_app,
    record_notes,
    session,
    tap,
    trained,
    until,
)


def aged(path, seconds_ago: float) -> None:
    when = 2_000_000_000 - seconds_ago
    os.utime(path, (when, when))


def folder_with(tmp_path, checkpoint) -> os.PathLike:
    """ck/ holding tiny.pt (best), a newer tiny-last.pt and a still newer corrupt file."""
    folder = tmp_path / "ck"
    folder.mkdir()
    shutil.copy(checkpoint, folder / "tiny.pt")
    shutil.copy(checkpoint, folder / "tiny-last.pt")
    (folder / "broken.pt").write_bytes(b"PK\x03\x04 not a checkpoint")
    aged(folder / "tiny.pt", 30)
    aged(folder / "tiny-last.pt", 20)
    aged(folder / "broken.pt", 10)
    return folder


async def test_start_up_names_a_corrupt_newest_file_and_opens_the_best_checkpoint(
    tmp_path, tiny_checkpoint
):
    folder = folder_with(tmp_path, tiny_checkpoint)
    app = make_app(tmp_path, checkpoint_dir=folder, open_newest=True)
    notes = record_notes(app)
    async with session(app) as pilot:
        await until(pilot, lambda: app.training.opened is not None, "a model to open")
        assert app.training.opened.checkpoint.path == str(folder / "tiny.pt")  # not -last
        await until(pilot, lambda: any("broken.pt" in t for _, t in notes), "the note")
        warning = next(t for s, t in notes if "broken.pt" in t)
        assert "not a readable checkpoint" in warning and "tiny.pt" in warning
        assert "model tiny.pt" in str(app.query_one("#status").content)


async def test_t_while_the_start_up_model_is_read_waits_and_continues_it(
    tmp_path, tiny_checkpoint, monkeypatch
):
    gate = threading.Event()
    original = loading.open_startup_model

    def slow_open(*args, **kwargs):
        gate.wait(20)  # the test lets it finish once t has been pressed
        return original(*args, **kwargs)

    monkeypatch.setattr(loading, "open_startup_model", slow_open)

    try:
        folder = tmp_path / "ck"
        folder.mkdir()
        shutil.copy(tiny_checkpoint, folder / "tiny.pt")
        app = make_app(
            tmp_path,
            checkpoint_dir=folder,
            open_newest=True,
            train_overrides={**TINY_TRAIN, "epochs": 2},  # a total: one more than it has
        )
        notes = record_notes(app)
        async with session(app) as pilot:
            assert app.files.loading and app.training.opened is None
            await tap(pilot, "t")
            await until(pilot, lambda: any("being opened" in t for _, t in notes), "the note")
            assert app.training.state is IDLE and app.training.run is None  # nothing started
            gate.set()
            await until(pilot, lambda: trained(app, 2), "the checkpoint continued", tries=1200)
            assert [h["epoch"] for h in app.training.history] == [1, 2]  # epoch 1 was its
            assert any("continuing from epoch 1" in t for _, t in notes)
            assert app.files.loading == 0

    finally:
        gate.set()


async def test_the_model_opened_and_the_run_set_up_leave_the_collectors_full_passes(
    tmp_path, tiny_checkpoint, monkeypatch
):
    """After each slow load the objects alive are settled (core.tuning.settle_long_lived,
    gc.freeze): a full collection over torch, the model and the dictionaries held the frame for
    0.2 s (docs/tui.md)."""
    from lyrics_tui.core import tuning

    settled: list[str] = []
    monkeypatch.setattr(
        tuning, "settle_long_lived", lambda: settled.append(threading.current_thread().name)
    )
    app = make_app(tmp_path, checkpoint=str(tiny_checkpoint))
    async with session(app, (80, 24)) as pilot:
        await until(pilot, lambda: app.training.opened is not None, "the checkpoint")
        assert "lyrics-load" in settled  # read in that thread, and settled there
    (tmp_path / "fresh").mkdir()
    app = make_app(tmp_path / "fresh", train_overrides={**TINY_TRAIN, "epochs": 1})
    async with session(app, (80, 24)) as pilot:
        await tap(pilot, "t")
        await until(pilot, lambda: "lyrics-train" in settled, "the run set up")
        await until(pilot, lambda: app.training.state is IDLE, "the one epoch's end")
