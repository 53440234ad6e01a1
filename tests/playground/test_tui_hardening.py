"""The playground under abuse: tiny terminals, random keys, quitting mid-save (issue 4)."""

from __future__ import annotations

import random

import pytest

from lyrics_tui.core.fastload import read_checkpoint
from lyrics_tui.tui.app import PlaygroundApp
from tests.playground.pilot import (
    IDLE,
    TINY_TRAIN,
    TRAINING,
    make_app,
    session,
    start_training,
    tap,
    trained,
    until,
)


async def test_resize_to_40x12_and_back_during_training(tmp_path):
    app = make_app(tmp_path, train_overrides={**TINY_TRAIN, "epochs": 500})
    async with session(app, (80, 24)) as pilot:
        await start_training(app, pilot)
        for size in [(40, 12), (80, 24), (120, 40)]:
            await pilot.resize_terminal(*size)
            step = app.training.run.step
            await until(
                pilot, lambda step=step: app.training.run.step > step, f"training at {size}"
            )
            assert app.size == size
        await tap(pilot, "x")
        await until(pilot, lambda: app.training.state is IDLE, "the stop")


async def test_200_random_keys_during_training_and_generation(
    tmp_path, tiny_checkpoint, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # "w" may write the output into the working folder
    rng = random.Random(20240611)
    keys = [k for b in PlaygroundApp.BINDINGS for k in b.key.split(",") if k not in ("q", "ctrl+c")]
    keys += [
        "enter",
        "escape",
        "tab",
        "shift+tab",
        "up",
        "down",
        "left",
        "right",
        "a",
        "1",
        "backspace",
        "space",
        "pageup",
        "pagedown",
        "home",
        "end",
        "ctrl+p",
    ]

    app = make_app(
        tmp_path,
        checkpoint=str(tiny_checkpoint),
        train_overrides={**TINY_TRAIN, "epochs": 400},
        sampler={"pace_ms": 30, "max_tokens": 200},
    )
    async with session(app, (80, 24)) as pilot:
        await until(pilot, lambda: app.training.opened is not None, "the checkpoint")
        await tap(pilot, "t")
        await until(pilot, lambda: app.training.state is TRAINING, "training")
        await tap(pilot, "g")
        pressed = []
        for _ in range(200):
            pressed.append(rng.choice(keys))
            await tap(pilot, pressed[-1])
        assert app.is_running
        # back to a known state: close any modal, stop training, then everything works
        for _ in range(5):
            if app.screen is app.screen_stack[0]:
                break
            await pilot.press("escape")
        if app.training.state is not IDLE:
            app.set_focus(None)
            await tap(pilot, "x")
        await until(pilot, lambda: app.training.state is IDLE, "idle again")
        if app.training.has_model:
            app.set_focus(None)
            await tap(pilot, "g")
            await until(pilot, lambda: not app.generation.running, "a last generation")
            assert app.generation.tokens
    # (run_test re-raises anything that went wrong inside the app)


async def test_quit_while_saving_leaves_an_intact_checkpoint(tmp_path):
    app = make_app(tmp_path)
    async with session(app, (80, 24)) as pilot:
        await pilot.press("t")
        await until(pilot, lambda: trained(app), "an epoch")
        await pilot.press("s", "q")  # quit right behind the save
        await until(pilot, lambda: not app.is_running, "the quit", tries=100)
    assert not app.threads_left()
    ck_dir = tmp_path / "ck"
    saved = sorted(ck_dir.glob("*.pt"))
    assert any(p.name.startswith("tiny-e1-ppl") for p in saved), saved
    for path in saved:
        assert read_checkpoint(str(path)).epoch == 1
    assert not list(ck_dir.glob(".*.tmp")), "a temporary file was left behind"


async def test_settings_read_and_changed_while_the_form_mounts():
    """A checkpoint can finish loading (or t be pressed) while the settings form is still
    being mounted just after the first frame: reading or changing settings then must work."""
    import asyncio

    from textual.app import App

    from lyrics_tui.tui.widgets.settings_form import SettingsForm

    class FormApp(App):
        def compose(self):
            yield SettingsForm("tiny.txt", "default", {}, {"epochs": 3}, {})

    app = FormApp()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(SettingsForm)
        filling = asyncio.create_task(panel.fill())
        await asyncio.sleep(0)  # fill() is now inside mount_all
        assert panel.filled and not panel._form_ready
        panel.set_corpus("elsewhere.txt")
        panel.lock_training(True)
        assert panel.corpus == "elsewhere.txt"
        assert panel.read_training()[2]["epochs"] == 3
        await panel.fill()  # a second caller waits for the first one's form
        assert panel._form_ready
        assert app.query_one("#set-corpus").value == "elsewhere.txt"
        assert app.query_one("#train-settings").disabled
        await filling
        await pilot.pause()


async def test_the_characters_switch_reads_on_or_off_and_says_the_preset():
    """The form's chars field: blank takes the preset's (on for default), off turns words
    read through their characters off for the next run, anything else is named as wrong."""
    from textual.app import App
    from textual.widgets import Input

    from lyrics_tui.core.errors import SettingsError
    from lyrics_tui.tui.widgets.settings_form import SettingsForm

    class FormApp(App):
        def compose(self):
            yield SettingsForm("lyrics", "default", {}, {}, {})

    app = FormApp()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(SettingsForm)
        await panel.fill()
        await pilot.pause()
        field = app.query_one("#set-characters", Input)
        assert field.placeholder == "on (preset)"
        assert panel.read_training()[1]["characters"] is None  # blank: the preset's
        field.value = "off"
        assert panel.read_training()[1]["characters"] is False
        field.value = "maybe"
        with pytest.raises(SettingsError, match="not on or off"):
            panel.read_training()


async def test_the_newest_epoch_stays_in_view_when_shown_again_or_resized(
    tmp_path, tiny_checkpoint
):
    """A long history: v shows the table at its newest row, and a resize keeps it there."""
    from dataclasses import asdict, replace

    from textual.containers import VerticalScroll

    from lyrics_tui.core.checkpoint import load_checkpoint, save_checkpoint
    from tests.helpers import epoch_record

    held = load_checkpoint(tiny_checkpoint)
    rows = [asdict(epoch_record(e, 60.0 - e)) for e in range(1, 31)]
    save_checkpoint(replace(held, epoch=30, history=rows), tmp_path / "long.pt")
    app = make_app(tmp_path, checkpoint=str(tmp_path / "long.pt"))
    async with session(app, (80, 24)) as pilot:
        await until(pilot, lambda: app.training.opened is not None, "the checkpoint")
        scroll = app.query_one("#epoch-scroll", VerticalScroll)
        at_end = lambda: 0 < scroll.max_scroll_y == scroll.scroll_y  # noqa: E731
        if not scroll.region.height:
            await pilot.press("v")  # the loss view
        await until(pilot, at_end, "the newest epoch in view")
        for size in [(60, 20), (80, 24)]:
            await pilot.resize_terminal(*size)
            await until(pilot, at_end, f"the newest epoch in view at {size}")
