"""Pilot tests of song memory in the playground (tui/memory.py, core/cache.py): the memory
control beside the temperature, generation with it, and the epoch table's second perplexity."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lyrics_tui.core.tokens import NEWLINE
from lyrics_tui.tui import format as fmt
from lyrics_tui.tui.widgets.key_bar import KeyBar
from lyrics_tui.tui.widgets.training_panel import finished_note
from tests.helpers import BUNDLED
from tests.playground.pilot import (
    make_app,
    record_notes,
    session,
    text_of,
    until,
    wait_generation,
)


def older_copy(checkpoint: Path, path: Path) -> Path:
    """The checkpoint as saved before song memory: no fit, no memory perplexity per epoch."""
    from lyrics_tui.core.checkpoint import load_checkpoint, save_checkpoint

    ck = load_checkpoint(str(checkpoint))
    ck.cache = None
    ck.history = [{k: v for k, v in row.items() if k != "cache_val_ppl"} for row in ck.history]
    save_checkpoint(ck, path)
    return path


async def opened(app, pilot) -> None:
    await until(pilot, lambda: app.training.opened is not None, "the checkpoint to open")
    await pilot.pause()


def sampler_line(app) -> str:
    return text_of(app, "#sampler-line")


async def test_memory_keys_set_lambda_beside_the_temperature(tmp_path, tiny_checkpoint):
    app = make_app(tmp_path, checkpoint=str(tiny_checkpoint))
    async with session(app) as pilot:
        await opened(app, pilot)
        fit = app.training.opened.cache_fit.settings
        assert fit.on  # the tiny model's fit trusts the cache a little
        pane = app.main.prompt_pane
        assert f"temperature 0.80 · memory λ {fit.lam:.2f} (fitted)" in sampler_line(app)
        assert app.main.generation_settings(None)[0].cache == fit
        assert "[/] Memory" in text_of(app, KeyBar)
        await pilot.press("M", "M")  # off and on: the fit, as it was
        assert f"memory λ {fit.lam:.2f} (fitted)" in sampler_line(app)

        await pilot.press("right_square_bracket")
        assert pane.memory.weight == pytest.approx(fit.lam + 0.1)
        assert f"memory λ {fit.lam + 0.1:.2f} ·" in sampler_line(app)  # no longer "fitted"
        cache = app.main.generation_settings(None)[0].cache
        assert (cache.window, cache.theta, cache.lam) == (
            fit.window,
            fit.theta,
            pytest.approx(fit.lam + 0.1),
        )
        await pilot.press("left_square_bracket")
        assert f"memory λ {fit.lam:.2f} (fitted)" in sampler_line(app)  # back at the fit

        for _ in range(10):
            await pilot.press("left_square_bracket")
        assert pane.memory.weight == 0 and "memory off" in sampler_line(app)
        assert app.main.generation_settings(None)[0].cache is None  # the network alone
        for _ in range(15):
            await pilot.press("right_square_bracket")
        assert pane.memory.weight == 0.99  # core's cap (MAX_LAMBDA)
        assert "memory λ 0.99" in sampler_line(app)

        await pilot.press("M")  # off, then back on at the weight chosen
        assert "memory off" in sampler_line(app)
        await pilot.press("M")
        assert pane.memory.weight == 0.99 and "memory λ 0.99 ·" in sampler_line(app)

        # in the start-text field [ and ] are typed; shift+up/down set λ there
        await pilot.press("slash", "left_square_bracket", "shift+down")
        assert app.query_one("#prompt").value == "["
        assert pane.memory.weight == pytest.approx(0.89)
        await pilot.press("shift+down", "shift+up", "shift+down")
        assert pane.memory.weight == pytest.approx(0.79)

        # the inspection screen starts from the playground's setting
        await pilot.press("escape", "i")
        await until(pilot, lambda: app.screen is not app.main, "the inspection screen")
        assert app.screen.memory.weight == pytest.approx(0.79)
        assert app.screen.settings.cache.lam == pytest.approx(0.79)


async def test_a_model_without_a_fit_says_how_to_fit_it(tmp_path, tiny_checkpoint):
    old = older_copy(tiny_checkpoint, tmp_path / "old.pt")
    app = make_app(tmp_path, checkpoint=str(old))
    notes = record_notes(app)
    async with session(app) as pilot:
        await opened(app, pilot)
        assert "temperature 0.80 · memory: not fitted" in sampler_line(app)
        await pilot.press("right_square_bracket")
        assert notes[-1][0] == "warning" and "t trains it on and fits it" in notes[-1][1]
        assert "memory: not fitted" in sampler_line(app)
        assert app.main.generation_settings(None)[0].cache is None
        # an older history has no memory perplexity: "-" in its column
        row = app.training.history[0]
        table = text_of(app, "#epoch-table")
        plain = re.escape(fmt.ppl(row["val_ppl"]))
        assert re.search(rf"^\s+1\s+{row['train_loss']:.3f}\s+{plain}\s+-\s", table, re.M)


async def test_generation_with_memory_copies_the_prompt(tmp_path, tiny_checkpoint):
    """λ 0.99: nearly every generated word is one the song already has; λ 0: far fewer. (With
    the song form off: on, new lines come from the network and memory picks the lines that
    come back, tests/core/test_songform.py.)"""
    lines = BUNDLED.read_text(encoding="utf-8").splitlines()
    prompt = "\n".join(lines[20:24]) + "\n"  # finished lines: what the memory recalls

    # the whole length, not a song's 8 lines; song memory in what is sampled (form off)
    sampler = {"pace_ms": 0, "max_lines": 0, "form": False}
    app = make_app(tmp_path, checkpoint=str(tiny_checkpoint), sampler=sampler)
    async with session(app) as pilot:
        await opened(app, pilot)
        tokens = app.training.opened.tokenizer.prompt(prompt)

        async def copied(seed_key: str) -> float:
            await pilot.press(seed_key)
            await wait_generation(app, pilot)
            words = [t for t in app.generation.tokens if t != NEWLINE]
            assert len(words) > 50
            return sum(w in tokens for w in words) / len(words)

        for _ in range(10):  # up to the ceiling from any fitted λ
            await pilot.press("right_square_bracket")
        assert app.main.prompt_pane.memory.weight == 0.99
        app.query_one("#prompt").value = prompt
        high = await copied("g")
        for _ in range(10):
            await pilot.press("left_square_bracket")
        assert app.main.prompt_pane.memory.weight == 0
        off = await copied("r")  # the same seed, the network alone
        assert high > 0.9 and off < high - 0.5, (high, off)


def test_the_done_note_reports_both_perplexities():
    from lyrics_tui.core.events import TrainingFinished

    done = TrainingFinished("completed", 3, 70.84, None, None, cache_val_ppl=25.83)
    assert finished_note(done) == (
        "training completed after 3 epoch(s); best val ppl 70.8, with song memory 25.8"
    )
    older = TrainingFinished("stopped", 1, 99.0, None, None)
    assert finished_note(older) == "training stopped after 1 epoch(s); best val ppl 99.0"
