"""Helpers for the playground's Pilot tests: a tiny app, keys, waiting on conditions.

Waiting is done by polling a condition with a bounded number of short Pilot pauses, never by
sleeping a fixed time.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from rich.console import Console
from rich.text import Text
from textual import events

from lyrics_tui.tui.app import PlaygroundApp
from lyrics_tui.tui.controllers.training import TrainingState
from tests.helpers import tiny_corpus

IDLE, TRAINING, PAUSED = TrainingState.IDLE, TrainingState.TRAINING, TrainingState.PAUSED
STARTING = TrainingState.STARTING

TINY_MODEL = {"embed": 16, "hidden": 16, "layers": 1}
TINY_TRAIN = {"epochs": 1, "batch_size": 8, "bptt": 8}


def trained(app: PlaygroundApp, epochs: int = 1) -> bool:
    """Training has ended with at least `epochs` epochs in the model's history."""
    return app.training.state is IDLE and len(app.training.history) >= epochs


async def until(pilot, condition, what: str, tries: int = 600) -> None:
    """Textual Pilot tests: poll `condition` between short pauses; fail after `tries` pauses
    (~30 s at most)."""
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for: {what}")


def make_app(tmp_path: Path, **kwargs) -> PlaygroundApp:
    options = dict(
        corpus=str(tiny_corpus(tmp_path)),
        checkpoint_dir=tmp_path / "ck",
        model_overrides=TINY_MODEL,
        train_overrides=TINY_TRAIN,
        sampler={"pace_ms": 0},
        device="cpu",
        open_newest=False,
    )
    options.update(kwargs)
    return PlaygroundApp(**options)


def record_notes(app: PlaygroundApp) -> list[tuple[str, str]]:
    """Every notification the app shows, as (severity, text)."""
    notes: list[tuple[str, str]] = []
    original = app.notify

    def notify(message, *, title="", severity="information", timeout=None, markup=False):
        notes.append((severity, str(message)))
        original(message, title=title, severity=severity, timeout=timeout, markup=markup)

    app.notify = notify  # type: ignore[method-assign]
    return notes


def screen_lines(app) -> list[str]:
    """The terminal as plain text, one string per row (what a tmux capture shows)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        record=True,
        color_system=None,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text().splitlines()


def text_of(app_or_screen, selector) -> str:
    """The plain text a Static shows (strings, rich Text or any rich renderable)."""
    content = app_or_screen.query_one(selector).content
    if isinstance(content, str):
        return content
    if isinstance(content, Text):
        return content.plain
    console = Console(width=200, record=True, color_system=None, file=io.StringIO())
    console.print(content)
    return console.export_text()


_CHARS = {
    "question_mark": "?",
    "slash": "/",
    "minus": "-",
    "plus": "+",
    "equals_sign": "=",
    "space": " ",
}


async def tap(pilot, key: str) -> None:
    """Press a key and wait until the screen has handled it.

    Pilot.press also waits for the process to be CPU-idle (up to 1 s, twice), which never
    happens while a training thread runs; this waits for the messages only.
    """
    app = pilot.app
    app.post_message(events.Key(key, _CHARS.get(key, key if len(key) == 1 else None)))
    await pilot.pause(0.01)


async def ready(app: PlaygroundApp, pilot) -> None:
    """Wait for the parts mounted just after the first frame (plot, settings form)."""
    await until(pilot, lambda: app.ready, "the deferred widgets")


async def start_training(app: PlaygroundApp, pilot) -> None:
    """Press t and wait until the run is training."""
    await pilot.press("t")
    await until(pilot, lambda: app.training.state is TRAINING, "training to start")


async def train_one_epoch(app: PlaygroundApp, pilot) -> None:
    await pilot.press("t")
    await until(pilot, lambda: trained(app), "one epoch of training")


async def wait_generation(app: PlaygroundApp, pilot) -> None:
    await until(pilot, lambda: not app.generation.running, "the generation to finish")


@contextlib.asynccontextmanager
async def session(app: PlaygroundApp, size: tuple[int, int] = (80, 24)):
    """run_test, once the widgets mounted just after the first frame are there."""
    async with app.run_test(size=size) as pilot:
        await ready(app, pilot)
        yield pilot


def train_tiny(corpus_path: Path, out: Path, corpus_name: str = "") -> Path:
    """Train a tiny model for one epoch with core/ directly; its checkpoint path."""
    from lyrics_tui.core.config import resolve_settings
    from lyrics_tui.core.corpus import read_corpus
    from lyrics_tui.core.trainer import TrainingRun

    corpus = read_corpus(corpus_path)
    model_cfg, train_cfg = resolve_settings("default", {**TINY_MODEL}, {**TINY_TRAIN})
    train, val = corpus.split(train_cfg.val_fraction)
    TrainingRun(
        train,
        val,
        model_cfg,
        train_cfg,
        out_path=out,
        save_every_epoch=False,
        corpus_name=corpus_name,
    ).run()
    assert out.exists()
    return out
