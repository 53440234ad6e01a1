"""Pilot tests of the playground: every binding, and the whole flow on a tiny model.

Each test is a coroutine (run by pytest-asyncio) that runs the app headless with App.run_test.
Waiting is done by polling a condition with a bounded number of short Pilot pauses, never by
sleeping a fixed time.
"""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path

import pytest
from textual.widgets import Input

from lyrics_tui.core.config import resolve_settings
from lyrics_tui.core.paths import song_file_name
from lyrics_tui.tui import format as fmt
from lyrics_tui.tui.app import PlaygroundApp
from lyrics_tui.tui.screens.help import HelpScreen
from lyrics_tui.tui.screens.load import LoadScreen
from lyrics_tui.tui.screens.write import WriteScreen
from lyrics_tui.tui.widgets.key_bar import KeyBar
from lyrics_tui.tui.widgets.loss_plot import LossPlot
from tests.playground.pilot import (
    IDLE,
    PAUSED,
    TINY_TRAIN,
    TRAINING,
    make_app,
    record_notes,
    session,
    start_training,
    tap,
    text_of,
    tiny_corpus,
    train_one_epoch,
    train_tiny,
    trained,
    until,
    wait_generation,
)


# -- the whole flow ----------------------------------------------------------------------------
async def test_whole_flow_train_generate_save_load(tmp_path):
    app = make_app(tmp_path)
    notes = record_notes(app)
    async with session(app, (80, 24)) as pilot:
        await train_one_epoch(app, pilot)
        # the loss shows in the panel: a table row, the plot's data, the status line
        table = text_of(app, "#epoch-table")
        row = app.training.history[0]
        assert row["cache_val_ppl"] is not None  # song memory's perplexity, beside the plain
        plain, memory = (re.escape(fmt.ppl(row[k])) for k in ("val_ppl", "cache_val_ppl"))
        assert re.search(rf"^\s+1\s+{row['train_loss']:.3f}\s+{plain}\s+{memory}\s", table, re.M)
        train, val = app.query_one(LossPlot).series
        assert (train.name, val.name) == ("train", "val")
        assert train.points == ((1, pytest.approx(row["train_loss"])),)
        assert val.points == ((1, pytest.approx(row["val_loss"])),)
        status = text_of(app, "#status")
        assert "trained 1 epoch(s) · " in status or "epoch 1 · " in status  # as it fits
        done = next(t for _, t in notes if t.startswith("training completed"))
        assert "best val ppl" in done and "with song memory" in done  # both perplexities

        # generate: the start text, then tokens one by one
        await pilot.press("slash")
        assert app.focused is app.query_one("#prompt")
        await pilot.press("l", "o", "v", "e")  # typed into the field, not taken as keys
        assert app.query_one("#prompt").value == "love"
        app.query_one("#prompt").value = "城市"
        await pilot.press("enter")
        await wait_generation(app, pilot)
        assert app.generation.tokens, "no tokens were generated"
        output = text_of(app, "#output")
        assert output.startswith("城市")
        assert "".join(app.generation.tokens) in output

        # save: the name carries epoch and validation perplexity
        await pilot.press("s")
        ck_dir = tmp_path / "ck"
        await until(pilot, lambda: any(ck_dir.glob("tiny-e1-ppl*.pt")), "the saved file")
        saved = next(ck_dir.glob("tiny-e1-ppl*.pt"))
        assert re.fullmatch(r"tiny-e1-ppl\d+\.\d\.pt", saved.name)
        assert f"ppl{row['val_ppl']:.1f}" in saved.name

        # reset, then load it back from the list
        await pilot.press("R")
        assert not app.training.has_model
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LoadScreen), "the load screen")
        listed = app.screen.files
        assert saved in listed
        app.screen.query_one("#load-list").highlighted = listed.index(saved)
        await pilot.press("enter")
        await until(pilot, lambda: app.training.opened is not None, "the checkpoint to load")
        assert Path(app.training.opened.checkpoint.path) == saved
        assert app.training.history and app.training.history[0]["epoch"] == 1
        await pilot.press("g")
        await wait_generation(app, pilot)
        assert app.generation.tokens
    assert not [n for n in notes if n[0] == "error"], notes


# -- training keys -----------------------------------------------------------------------------
async def test_pause_resume_and_stop(tmp_path):
    app = make_app(tmp_path, train_overrides={**TINY_TRAIN, "epochs": 500})
    async with session(app, (80, 24)) as pilot:
        await start_training(app, pilot)
        await tap(pilot, "space")
        await until(pilot, lambda: app.training.state is PAUSED, "the pause")
        assert "paused" in text_of(app, "#status")
        keys = lambda: dict(app.screen.query_one(KeyBar).entries())  # noqa: E731
        await until(pilot, lambda: keys().get("space") == "Resume", "space offered as Resume")
        run_ = app.training.run
        step = run_.step
        await pilot.pause(0.2)
        assert run_.step == step, "training went on while paused"
        await tap(pilot, "space")
        await until(pilot, lambda: run_.step > step, "training to resume")
        await until(pilot, lambda: keys().get("space") == "Pause", "space offered as Pause")
        await tap(pilot, "x")
        await until(pilot, lambda: app.training.state is IDLE, "the stop")
        assert run_.epoch < 500
        assert app.training.run is run_  # the stopped model stays for generating/saving


async def test_train_continues_a_trained_model(tmp_path):
    app = make_app(tmp_path)
    notes = record_notes(app)

    def status() -> str:
        return text_of(app, "#status")

    async with session(app, (80, 24)) as pilot:
        await train_one_epoch(app, pilot)
        # the status line and the epochs field say what t will do: epochs are totals
        epochs = app.query_one("#set-epochs", Input)
        epochs.value = ""  # the preset's epochs more
        more = resolve_settings("default")[1].epochs
        plan = f"t continues to epoch {1 + more}"  # "({more} more)": left out at 80 columns
        await until(pilot, lambda: plan in status(), "the plan")
        assert epochs.placeholder == f"{1 + more} in all ({more} more)"
        epochs.value = "1"  # no more than it has: t would say why not
        await until(pilot, lambda: "t: the checkpoint already has 1 epochs" in status(), "why")
        epochs.value = "2"  # epochs in all
        await until(pilot, lambda: "t continues to epoch 2" in status(), "the plan")
        await pilot.press("t")
        await until(pilot, lambda: trained(app, 2), "a second epoch")
        assert [h["epoch"] for h in app.training.history] == [1, 2]
        assert any("continuing from epoch 1 to epoch 2 (1 more)" in t for _, t in notes)


def checkpoint_of_corpus(tmp_path: Path) -> tuple[Path, Path]:
    """(a tiny checkpoint that records its corpus, that corpus) in a folder of their own."""
    folder = tmp_path / "other"
    folder.mkdir()
    corpus_path = tiny_corpus(folder, lines=80)
    return train_tiny(corpus_path, folder / "other-e1.pt", str(corpus_path)), corpus_path


async def test_t_trains_a_new_model_when_the_corpus_is_not_the_models(tmp_path):
    checkpoint, _ = checkpoint_of_corpus(tmp_path)

    app = make_app(tmp_path, checkpoint=str(checkpoint))  # --corpus tiny.txt given too
    notes = record_notes(app)
    async with session(app, (80, 24)) as pilot:
        await until(pilot, lambda: app.training.opened is not None, "the checkpoint")
        assert app.main.settings.corpus.endswith("tiny.txt")  # --corpus wins at launch
        await pilot.press("t")
        await until(pilot, lambda: trained(app), "an epoch")
        assert [h["epoch"] for h in app.training.history] == [1]  # not epoch 2 of that model
        assert any("training a new model on tiny.txt" in text for _, text in notes), notes
        assert app.training.run.corpus_name.endswith("tiny.txt")


async def test_a_loaded_checkpoint_brings_its_corpus_and_t_continues_it(tmp_path):
    checkpoint, corpus = checkpoint_of_corpus(tmp_path)

    app = make_app(tmp_path, corpus=None, checkpoint=str(checkpoint))
    notes = record_notes(app)
    kept = checkpoint.read_bytes()
    async with session(app, (80, 24)) as pilot:
        await until(pilot, lambda: app.training.opened is not None, "the checkpoint")
        await until(pilot, lambda: app.main.settings.corpus == str(corpus), "its corpus")
        app.query_one("#set-epochs", Input).value = "2"  # epochs in all
        await pilot.press("t")
        await until(pilot, lambda: trained(app, 2), "a second epoch")
        assert [h["epoch"] for h in app.training.history] == [1, 2]
        assert any("continuing from epoch 1 to epoch 2" in text for _, text in notes)
    # saved beside the file continued, not in the checkpoints folder; other-e1.pt is named as
    # a snapshot (s) is, and a snapshot stays as it was taken: the run goes on in other.pt
    assert checkpoint.with_name("other-last.pt").exists()
    assert checkpoint.read_bytes() == kept
    assert not list((tmp_path / "ck").glob("*.pt"))


async def test_a_new_model_never_replaces_an_earlier_runs_file(tmp_path):
    """R then t trains a new model: it goes to tiny-2.pt, and tiny.pt keeps the first run's
    model (a quit a moment after t had replaced it with a model of two batches)."""
    app = make_app(tmp_path)
    folder = tmp_path / "ck"
    async with session(app, (80, 24)) as pilot:
        await train_one_epoch(app, pilot)
        first = {p.name: p.read_bytes() for p in folder.glob("*.pt")}
        assert set(first) == {"tiny.pt", "tiny-last.pt"}
        await pilot.press("R", "R")
        assert not app.training.has_model
        await train_one_epoch(app, pilot)
    assert {p.name for p in folder.glob("*.pt")} == {*first, "tiny-2.pt", "tiny-2-last.pt"}
    assert {name: (folder / name).read_bytes() for name in first} == first


async def test_quit_mid_training_leaves_no_thread_behind(tmp_path):
    before = set(threading.enumerate())
    app = make_app(tmp_path, train_overrides={**TINY_TRAIN, "epochs": 100_000})

    async with session(app, (80, 24)) as pilot:
        await start_training(app, pilot)
        await tap(pilot, "q")
        await until(pilot, lambda: not app.is_running, "the app to quit", tries=100)
    # the training thread was told to stop: it ends (joined with a bound)
    threads = app.training.threads
    assert threads
    for thread in threads:
        thread.join(timeout=20)
    assert not any(thread.is_alive() for thread in threads)
    # as asyncio.run does at its end: join the executor's idle threads
    await asyncio.get_running_loop().shutdown_default_executor()
    assert set(threading.enumerate()) == before


async def test_ctrl_c_quits(tmp_path):
    app = make_app(tmp_path)
    async with session(app, (80, 24)) as pilot:
        await pilot.press("slash")  # even from inside a text field
        await pilot.press("ctrl+c")
        await until(pilot, lambda: not app.is_running, "the app to quit", tries=100)


async def test_reset_forgets_a_model_on_disk_at_once(tmp_path):
    app = make_app(tmp_path)
    async with session(app, (80, 24)) as pilot:
        await train_one_epoch(app, pilot)
        assert not app.training.dirty and "unsaved" not in text_of(app, "#status")
        await pilot.press("g")
        await wait_generation(app, pilot)
        assert app.main.prompt_pane.border_title.startswith("Song · trained model")
        await pilot.press("R")
        assert not app.training.has_model
        assert app.main.prompt_pane.border_title == "Song"  # no model's name over no song


async def test_reset_asks_again_when_the_model_is_unsaved(tmp_path):
    (tmp_path / "ck").write_text("a file where the checkpoints folder should be")
    app = make_app(tmp_path)  # so no save can succeed
    notes = record_notes(app)
    async with session(app, (80, 24)) as pilot:
        await train_one_epoch(app, pilot)
        assert app.training.dirty and "unsaved" in text_of(app, "#status")
        await pilot.press("R")
        assert app.training.has_model, "one R must not discard an unsaved model"
        assert any("press R again" in text for _, text in notes)
        await pilot.press("R")
        assert not app.training.has_model and not app.training.history
        assert "no model yet" in text_of(app, "#status")


# -- generation keys ---------------------------------------------------------------------------
async def test_a_load_asks_before_dropping_an_unsaved_model(tmp_path, tiny_checkpoint):
    from lyrics_tui.tui.screens.confirm import ConfirmScreen

    (tmp_path / "ck").write_text("a file where the checkpoints folder should be")
    app = make_app(tmp_path)  # so no save can succeed
    async with session(app, (80, 24)) as pilot:
        await train_one_epoch(app, pilot)
        assert app.training.dirty
        app._load_chosen(str(tiny_checkpoint))  # as l or the runs view hand a path over
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("n")
        await pilot.pause()
        assert app.training.run is not None and app.training.opened is None  # still held
        app._load_chosen(str(tiny_checkpoint))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question again")
        await pilot.press("y")
        await until(pilot, lambda: app.training.opened is not None, "the checkpoint loaded")


async def test_launch_with_checkpoint_generates_at_once(tmp_path, tiny_checkpoint):
    app = make_app(tmp_path, checkpoint=str(tiny_checkpoint))
    async with session(app, (80, 24)) as pilot:
        await until(pilot, lambda: app.training.opened is not None, "the checkpoint to load")
        assert "tiny-e1.pt" in text_of(app, "#status")
        await pilot.press("g")
        await wait_generation(app, pilot)
        assert app.generation.tokens


async def test_launch_opens_the_newest_checkpoint(tmp_path, tiny_checkpoint):
    app = make_app(tmp_path, checkpoint_dir=tiny_checkpoint.parent, open_newest=True)
    async with session(app, (80, 24)) as pilot:
        await until(pilot, lambda: app.training.opened is not None, "the newest checkpoint")
        assert Path(app.training.opened.checkpoint.path).name == tiny_checkpoint.name


async def test_same_seed_repeats_and_new_seed_differs(tmp_path, tiny_checkpoint):
    app = make_app(
        tmp_path, checkpoint=str(tiny_checkpoint), sampler={"pace_ms": 0, "max_tokens": 40}
    )
    async with session(app, (80, 24)) as pilot:
        await song_from_the_checkpoint(app, pilot)
        first, seed = list(app.generation.tokens), app.generation.seed
        await pilot.press("r")
        await until(
            pilot,
            lambda: not app.generation.running and app.generation.gen_id == 2,
            "regeneration",
        )
        assert app.generation.tokens == first and app.generation.seed == seed
        await pilot.press("g")
        await until(
            pilot,
            lambda: not app.generation.running and app.generation.gen_id == 3,
            "a new seed",
        )
        assert app.generation.seed != seed
        assert f"seed {app.generation.seed}" in text_of(app, "#sampler-line")


async def test_escape_stops_generation(tmp_path, tiny_checkpoint):
    app = make_app(
        tmp_path, checkpoint=str(tiny_checkpoint), sampler={"pace_ms": 50, "max_tokens": 5000}
    )
    async with session(app, (80, 24)) as pilot:
        await until(pilot, lambda: app.training.opened is not None, "the checkpoint")
        await pilot.press("g")
        await until(pilot, lambda: len(app.generation.tokens) >= 2, "the first tokens")
        await pilot.press("escape")
        await wait_generation(app, pilot)
        assert len(app.generation.tokens) < 5000
        assert "stopped after" in text_of(app, "#output")


async def test_temperature_keys(tmp_path):
    app = make_app(tmp_path)
    notes = record_notes(app)
    async with session(app, (80, 24)) as pilot:
        assert "temperature 0.80" in text_of(app, "#sampler-line")
        await pilot.press("plus")
        assert app.main.prompt_pane.temperature == pytest.approx(0.9)
        await pilot.press("equals_sign")
        assert "temperature 1.00" in text_of(app, "#sampler-line")
        for _ in range(12):
            await pilot.press("minus")
        assert app.main.prompt_pane.temperature == 0.0  # clamped: 0 is greedy
        assert notes[-1][1] == "the temperature is at 0, always the likeliest word"
        assert len(notes) == 2  # once at 0: the two presses past it, no more
        await pilot.press("slash", "up", "up")  # in the start-text field as well
        assert app.main.prompt_pane.temperature == pytest.approx(0.2)
        await pilot.press("down")
        assert app.main.prompt_pane.temperature == pytest.approx(0.1)
        await pilot.press("escape")
        assert app.focused is app.query_one("#output-scroll")


async def test_copy_and_write_output(tmp_path, tiny_checkpoint):
    app = make_app(tmp_path, checkpoint=str(tiny_checkpoint))
    async with session(app, (80, 24)) as pilot:
        await song_from_the_checkpoint(app, pilot)
        text = app.generation.prompt_text + "".join(app.generation.tokens)
        await pilot.press("c")
        assert app.clipboard == text
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, WriteScreen), "the write screen")
        target = tmp_path / "out" / "song.txt"
        target.parent.mkdir()
        app.screen.query_one("#write-path").value = str(target)
        await pilot.press("enter")
        await until(pilot, target.exists, "the written file")
        assert target.read_text(encoding="utf-8").rstrip("\n") == text.rstrip("\n")


async def test_w_writes_into_a_songs_folder_of_its_own_and_says_where(tmp_path, tiny_checkpoint):
    app = make_app(tmp_path, checkpoint=str(tiny_checkpoint))
    notes = record_notes(app)
    async with session(app, (80, 24)) as pilot:
        await song_from_the_checkpoint(app, pilot)
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, WriteScreen), "the write screen")
        await pilot.press("enter")  # the default place
        folder = app.checkpoint_dir / "songs"
        written = folder / song_file_name(app.main.corpus, app.generation.seed)
        assert written.name.endswith(f"-seed{app.generation.seed}.txt")
        await until(pilot, written.exists, "the written song")
        assert [p.name for p in folder.iterdir()] == [written.name]
        text = app.generation.prompt_text + "".join(app.generation.tokens)
        assert written.read_text(encoding="utf-8").rstrip("\n") == text.rstrip("\n")
        said = [t for _, t in notes if t.startswith("wrote ")]
        assert said and said[-1].endswith(f"to {fmt.path(written)}")


async def test_write_to_an_unwritable_place_is_a_notification(tmp_path, tiny_checkpoint):
    app = make_app(tmp_path, checkpoint=str(tiny_checkpoint))
    notes = record_notes(app)
    async with session(app, (80, 24)) as pilot:
        await song_from_the_checkpoint(app, pilot)
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, WriteScreen), "the write screen")
        app.screen.query_one("#write-path").value = str(tmp_path / "no" / "such" / "f.txt")
        await pilot.press("enter")
        await until(pilot, lambda: any(s == "error" for s, _ in notes), "an error note")
        assert app.is_running


async def song_from_the_checkpoint(app, pilot) -> None:
    """Once the checkpoint given at launch is open, g writes a song (waited for)."""
    await until(pilot, lambda: app.training.opened is not None, "the checkpoint")
    await pilot.press("g")
    await wait_generation(app, pilot)


async def write_to(app, pilot, path: str) -> None:
    await pilot.press("w")
    await until(pilot, lambda: isinstance(app.screen, WriteScreen), "the write screen")
    if path:
        app.screen.query_one("#write-path").value = path
    await pilot.press("enter")


async def test_saving_twice_keeps_both_songs(tmp_path, tiny_checkpoint):
    app = make_app(tmp_path, checkpoint=str(tiny_checkpoint))
    async with session(app, (80, 24)) as pilot:
        await song_from_the_checkpoint(app, pilot)
        folder = app.checkpoint_dir / "songs"
        for count in (1, 2):
            await write_to(app, pilot, "")  # the default name
            await until(pilot, lambda c=count: len(list(folder.glob("*.txt"))) == c, "a song")
            await until(pilot, lambda: not isinstance(app.screen, WriteScreen), "closed")
        first, second = sorted(folder.iterdir(), key=lambda p: len(p.name))
        assert second.name == first.stem + "-2.txt"
        assert first.read_text(encoding="utf-8") == second.read_text(encoding="utf-8")


async def test_w_asks_before_replacing_a_song_and_never_replaces_a_checkpoint(
    tmp_path, tiny_checkpoint
):
    from lyrics_tui.tui.screens.confirm import ConfirmScreen

    app = make_app(tmp_path, checkpoint=str(tiny_checkpoint))
    notes = record_notes(app)
    song, model = tmp_path / "old-song.txt", tiny_checkpoint.read_bytes()
    song.write_text("an old song\n", encoding="utf-8")
    async with session(app, (80, 24)) as pilot:
        await song_from_the_checkpoint(app, pilot)
        text = app.generation.prompt_text + "".join(app.generation.tokens)

        await write_to(app, pilot, str(tiny_checkpoint))
        await until(pilot, lambda: any("holds a checkpoint" in t for _, t in notes), "refusal")
        assert tiny_checkpoint.read_bytes() == model
        assert isinstance(app.screen, WriteScreen)  # open still, to name another file

        app.screen.query_one("#write-path").value = str(song)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, WriteScreen), "back to the path")
        assert song.read_text(encoding="utf-8") == "an old song\n"

        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question again")
        await pilot.press("y")
        await until(pilot, lambda: not isinstance(app.screen, (WriteScreen, ConfirmScreen)), "done")
        assert song.read_text(encoding="utf-8").rstrip("\n") == text.rstrip("\n")


async def test_w_with_no_file_named_says_so_and_stays(tmp_path, tiny_checkpoint):
    app = make_app(tmp_path, checkpoint=str(tiny_checkpoint))
    notes = record_notes(app)
    async with session(app, (80, 24)) as pilot:
        await song_from_the_checkpoint(app, pilot)
        await write_to(app, pilot, "   ")
        await until(pilot, lambda: any("name a file" in t for _, t in notes), "the warning")
        assert isinstance(app.screen, WriteScreen)


# -- screens and discoverability ---------------------------------------------------------------
async def test_help_lists_every_binding(tmp_path):
    app = make_app(tmp_path)
    async with session(app, (80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = text_of(app.screen, "#help-text")
        for binding in PlaygroundApp.BINDINGS:
            assert binding.description in shown, binding.description
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_command_palette_offers_every_binding(tmp_path):
    app = make_app(tmp_path)
    async with session(app, (80, 24)) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for binding in PlaygroundApp.BINDINGS:
            assert any(t.startswith(binding.description) for t in titles), binding.description
        assert "Keys" not in titles  # Textual's panel of widget keys: Help (?) lists the app's
        plain = [t.split(" (")[0] for t in titles]  # "Quit (q)" and Textual's "Quit": once
        assert len(plain) == len(set(plain))
        await pilot.press("ctrl+p")
        from textual.command import CommandPalette

        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press("escape")


async def test_command_palette_runs_an_action(tmp_path):
    app = make_app(tmp_path)
    async with session(app, (80, 24)) as pilot:
        commands = {c.title.split(" (")[0]: c for c in app.get_system_commands(app.screen)}
        commands["Temperature +0.1"].callback()
        await until(pilot, lambda: app.main.prompt_pane.temperature > 0.85, "the action to run")
        assert app.main.prompt_pane.temperature == pytest.approx(0.9)


async def test_key_bar_always_shows_help_and_quit_at_80_columns(tmp_path):
    app = make_app(tmp_path, train_overrides={**TINY_TRAIN, "epochs": 500})
    async with session(app, (80, 24)) as pilot:

        def keys() -> str:
            return text_of(app, KeyBar)

        await pilot.pause()
        assert "t Train" in keys() and "? Help" in keys() and "q Quit" in keys()
        assert "x Stop" not in keys()
        await start_training(app, pilot)
        await until(pilot, lambda: "x Stop" in keys(), "the stop key in the bar")
        assert "space Pause" in keys() and "q Quit" in keys() and "t Train" not in keys()
        await tap(pilot, "x")
        await until(pilot, lambda: app.training.state is IDLE, "the stop")


async def test_settings_toggle_and_bad_values_are_notifications(tmp_path):
    app = make_app(tmp_path)
    notes = record_notes(app)
    async with session(app, (80, 24)) as pilot:
        settings = app.query_one("#settings")
        assert not settings.display or settings.region.width == 0
        await pilot.press("o")
        await pilot.pause()
        assert settings.region.width > 0
        assert app.focused is app.query_one("#set-corpus")
        await pilot.press("escape")
        await pilot.pause()
        assert settings.region.width == 0
        app.query_one("#set-epochs").value = "many"
        await pilot.press("t")
        assert ("error", "epochs: 'many' is not a whole number") in notes
        app.query_one("#set-epochs").value = "0"
        await pilot.press("t")
        assert ("error", "epochs must be between 1 and 1000000000") in notes
        assert app.training.state is IDLE


async def test_the_settings_field_with_the_keys_marks_its_label(tmp_path):
    """Reverse video on the label, not colour alone: it shows on a monochrome SSH terminal."""

    app = make_app(tmp_path)
    async with session(app, (80, 24)) as pilot:
        await pilot.press("o")
        await pilot.pause()

        def marked() -> list[str]:
            return [
                str(label.render())
                for label in app.query("#settings .field-label")
                if label.rich_style.reverse
            ]

        assert marked() == ["corpus"]
        app.query_one("#set-top_k").focus()
        await pilot.pause()
        assert marked() == ["top-k"]


async def test_wide_terminal_keeps_settings_open(tmp_path):
    app = make_app(tmp_path)
    async with session(app, (120, 40)):
        assert app.query_one("#settings").region.width > 0
        assert app.query_one("#train-panel").region.width > 0


async def test_training_settings_lock_during_a_run(tmp_path):
    app = make_app(tmp_path, train_overrides={**TINY_TRAIN, "epochs": 500})
    async with session(app, (120, 40)) as pilot:
        await start_training(app, pilot)
        assert app.query_one("#train-settings").disabled
        assert not app.query_one("#set-top_k").disabled  # sampler stays live
        await tap(pilot, "x")
        await until(pilot, lambda: app.training.state is IDLE, "the stop")
        assert not app.query_one("#train-settings").disabled


async def test_settings_opened_during_a_run_take_the_keys_and_close_on_escape(tmp_path):
    app = make_app(tmp_path, train_overrides={**TINY_TRAIN, "epochs": 500})
    async with session(app, (80, 24)) as pilot:
        await start_training(app, pilot)
        await pilot.press("o")
        await until(pilot, lambda: app.focused is not None, "a focused field")
        assert app.focused is app.query_one("#set-top_k")  # the first field not locked
        await pilot.press("escape")
        await until(pilot, lambda: app.query_one("#settings").region.width == 0, "closed")
        await tap(pilot, "x")
        await until(pilot, lambda: app.training.state is IDLE, "the stop")


async def test_a_bad_value_is_selected_so_that_typing_replaces_it(tmp_path):
    app = make_app(tmp_path)
    notes = record_notes(app)
    async with session(app, (80, 24)) as pilot:
        await pilot.press("o")
        await pilot.pause()
        field = app.query_one("#set-top_k", Input)
        field.focus()
        await pilot.press("minus", "3")  # typed at the end of what was there: -3
        await pilot.press("escape")
        await until(pilot, lambda: any(s == "error" for s, _ in notes), "the error")
        assert app.focused is field
        await pilot.press("5")
        assert field.value == "5"


async def test_launch_settings_without_a_form_field_reach_the_run(tmp_path):
    """--threads and --precision have no field in the form; they must not be dropped."""

    app = make_app(
        tmp_path,
        train_overrides={**TINY_TRAIN, "epochs": 500, "threads": 1, "precision": "fp32"},
    )
    async with session(app, (120, 40)) as pilot:
        for _ in range(2):  # before and after the form has been filled in
            await start_training(app, pilot)
            config = app.training.run.train_config
            assert (config.threads, config.precision, config.batch_size) == (1, "fp32", 8)
            await tap(pilot, "x")
            await until(pilot, lambda: app.training.state is IDLE, "the stop")
            await pilot.press("o")
            await pilot.press("escape")


# -- errors are notifications ------------------------------------------------------------------
async def test_bad_corpus_is_a_notification(tmp_path):
    app = make_app(tmp_path, corpus=str(tmp_path / "missing.txt"))
    notes = record_notes(app)
    async with session(app, (80, 24)) as pilot:
        await until(pilot, lambda: any(s == "error" for s, _ in notes), "the launch note")
        binary = tmp_path / "binary.txt"
        binary.write_bytes(b"\x00\x01\x02" * 100)
        app.query_one("#set-corpus").value = str(binary)
        await pilot.press("t")
        await until(pilot, lambda: any("binary" in t for _, t in notes), "the corpus error")
        await until(pilot, lambda: app.training.state is IDLE, "idle again")
        assert app.is_running


async def test_corrupt_checkpoint_is_a_notification(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    app = make_app(tmp_path, checkpoint=str(bad))
    notes = record_notes(app)
    async with session(app, (80, 24)) as pilot:
        await until(pilot, lambda: any(s == "error" for s, _ in notes), "the error note")
        assert any(str(bad) in t for _, t in notes)
        assert app.training.opened is None and app.is_running


async def test_unknown_prompt_words_are_a_warning(tmp_path, tiny_checkpoint):
    app = make_app(tmp_path, checkpoint=str(tiny_checkpoint))
    notes = record_notes(app)
    async with session(app, (80, 24)) as pilot:
        await until(pilot, lambda: app.training.opened is not None, "the checkpoint")
        app.query_one("#prompt").value = "zzqqxx"
        await pilot.press("g")
        await wait_generation(app, pilot)
        await until(
            pilot,
            lambda: any(s == "warning" and "zzqqxx" in t for s, t in notes),
            "a warning naming the unknown word",
        )
        assert app.generation.tokens


async def test_load_by_typed_path_and_bad_sampler_value(tmp_path, tiny_checkpoint):
    app = make_app(tmp_path)
    notes = record_notes(app)
    async with session(app, (80, 24)) as pilot:
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LoadScreen), "the load screen")
        app.screen.query_one("#load-path").value = str(tiny_checkpoint)
        app.screen.query_one("#load-path").focus()
        await pilot.press("enter")
        await until(pilot, lambda: app.training.opened is not None, "the typed checkpoint")
        app.query_one("#set-top_p").value = "2"
        await pilot.press("g")
        await until(pilot, lambda: any("top-p" in t for _, t in notes), "the sampler error")
        assert not app.generation.running
        app.query_one("#set-top_p").value = ""
        app.query_one("#set-returns").value = "99"  # the line limit, named by its label
        await pilot.press("g")
        said = "returns must be between 0 (no limit) and 30"
        await until(pilot, lambda: any(said in t for _, t in notes), "the returns error")
        assert not app.generation.running


async def test_the_form_checks_a_field_on_enter_and_on_closing_and_names_it(tmp_path):
    app = make_app(tmp_path)
    notes = record_notes(app)
    async with session(app, (80, 24)) as pilot:
        await pilot.press("o")
        await until(pilot, lambda: app.main.form_covers_panels, "the form")
        field = app.query_one("#set-top_p", Input)
        field.focus()
        await pilot.press(*"1.5")
        assert field.has_class("-invalid")  # marked as it is typed
        await pilot.press("enter")
        said = "top-p must be between 0 and 1 (off)"
        assert ("error", said) in notes and app.focused is field  # the keys stay
        await pilot.press("escape")  # closing: checked again, the form stays open
        await until(pilot, lambda: notes.count(("error", said)) == 2, "the second error")
        assert app.main.form_covers_panels and app.focused is field
        await pilot.press("backspace", "backspace", "backspace")
        assert not field.has_class("-invalid")
        batch = app.query_one("#set-batch_size", Input)
        batch.value = "0"
        await pilot.press("escape")
        await until(pilot, lambda: any("batch must be" in t for _, t in notes), "batch")
        assert app.focused is batch  # named by its label, the field found
        batch.value = ""
        await pilot.press("escape")
        await until(pilot, lambda: not app.main.form_covers_panels, "the form to close")


async def test_every_setting_the_help_mentions_is_in_the_form(tmp_path):
    app = make_app(tmp_path)
    async with session(app, (80, 24)) as pilot:
        await until(pilot, lambda: app.main.settings.filled, "the form")
        labels = {str(label.content) for label in app.main.query(".field-label")}
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        text = " ".join(text_of(app.screen, "#help-text").split())
        named = re.findall(r"\(settings: ([\w -]+)\)", text)
        assert named  # the repetition penalty, at least
        assert all(name in labels for name in named), (named, labels)


async def test_load_screen_escape_cancels(tmp_path):
    app = make_app(tmp_path)
    async with session(app, (80, 24)) as pilot:
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LoadScreen), "the load screen")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, LoadScreen), "the cancel")
        assert app.training.opened is None


async def test_generation_during_training_uses_the_live_weights(tmp_path):
    app = make_app(
        tmp_path,
        train_overrides={**TINY_TRAIN, "epochs": 500},
        sampler={"pace_ms": 0, "max_tokens": 20},
    )
    async with session(app, (80, 24)) as pilot:
        await pilot.press("t")
        await until(
            pilot,
            lambda: app.training.state is TRAINING and app.training.run.step > 0,
            "a few batches",
        )
        await tap(pilot, "g")
        await wait_generation(app, pilot)
        assert app.generation.tokens
        # the title is set just after the first token's frame, which may come after a
        # 20-token run has already finished
        await until(
            pilot,
            lambda: "live weights" in app.query_one("#prompt-pane").border_title,
            "the pane to name the live weights",
        )
        await tap(pilot, "x")
        await until(pilot, lambda: app.training.state is IDLE, "the stop")


async def test_inspect_opens_on_the_model_held_now(tmp_path, tiny_checkpoint):
    from lyrics_tui.tui.screens.inspect import InspectScreen

    app = make_app(tmp_path, checkpoint=str(tiny_checkpoint))
    async with session(app, (80, 24)) as pilot:
        await until(pilot, lambda: app.training.opened is not None, "the checkpoint")
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, InspectScreen), "the screen")
        await until(pilot, lambda: app.screen.subject is not None, "the model in it")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, InspectScreen), "closing")


async def test_inspect_steps_on_from_the_start_text_and_v_switches_the_view(
    tmp_path, tiny_checkpoint
):
    from lyrics_tui.tui.screens.inspect import InspectScreen

    app = make_app(tmp_path, checkpoint=str(tiny_checkpoint))
    async with session(app, (80, 24)) as pilot:
        await until(pilot, lambda: app.training.opened is not None, "the checkpoint")
        assert app.main.view == "song"  # a model to write with
        await pilot.press("v")
        assert app.main.view == "training" and app.main.has_class("-training")
        await pilot.press("slash")  # typing a start text shows the song again
        assert app.main.view == "song" and app.focused is app.query_one("#prompt")
        app.query_one("#prompt").value = "我的"
        await pilot.press("escape", "i")
        await until(
            pilot,
            lambda: isinstance(app.screen, InspectScreen) and app.screen.step.walk is not None,
            "the step-through",
        )
        assert app.screen.step.walk.prompt == "我的"


async def test_a_note_already_on_screen_is_not_stacked_again(tmp_path):
    app = make_app(tmp_path)
    async with session(app, (80, 24)) as pilot:
        app.main.prompt_pane.temperature = 0.0
        for _ in range(3):
            await pilot.press("minus")  # the same note each time: at 0 already
        shown = [n.message for n in app._notifications]
        assert shown == ["the temperature is at 0, always the likeliest word"]
