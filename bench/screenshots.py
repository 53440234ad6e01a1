"""SVG screenshots of the playground, made from the real app with one command:

    python bench/screenshots.py [--out docs/screenshots] [--sizes 80x24,120x40] [--only NAMES]

For each size, one Pilot session of the real PlaygroundApp on the bundled corpus: the idle
screen, a model trained on the spot (the default preset, its 24 epochs, one thread, seed 0),
caught mid-training, a generation, the settings (with the corpus picker open), the help screen,
each view of the inspection screen and the hands-free demo. Files are NAME-COLSxROWS.svg.
Fixed seeds (training, sampler, demo) keep the text the same from one run to the next on a
machine; the timings (tokens/s, elapsed, ETA) are the run's own. A temporary working folder
keeps machine paths out of the pictures.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT

SHOTS = (
    "idle",
    "training",
    "generating",
    "settings",
    "help",
    "inspect-step",
    "inspect-score",
    "inspect-neighbours",
    "inspect-hidden",
    "demo",
)
EPOCHS = 24  # the default preset's own schedule: about 10 s on one thread
CAUGHT_AT_EPOCH = 4  # the training picture: the trainer is held halfway through this epoch
SEED = 7  # the sampler's
START = "城市"  # a start word of the bundled corpus
DEMO_WORDS = 24  # the demo picture: this many words into its first song


async def until(pilot, condition, what: str, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: timed out waiting for {what}")
        await pilot.pause(0.05)


class Shots:
    """Saves NAME-COLSxROWS.svg for the names asked for."""

    def __init__(self, app, out: Path, size: tuple[int, int], only: set[str]) -> None:
        self.app, self.out, self.size, self.only = app, out, size, only
        self.saved: list[Path] = []

    def wants(self, *names: str) -> bool:
        return any(name in self.only for name in names)

    async def take(self, pilot, name: str) -> None:
        if name not in self.only:
            return
        self.app.clear_notifications()
        await pilot.pause(0.2)
        await pilot.pause()
        path = self.out / f"{name}-{self.size[0]}x{self.size[1]}.svg"
        path.write_text(wide_characters(self.app.export_screenshot()), encoding="utf-8")
        self.saved.append(path)


TEXT = re.compile(r'(<text [^>]*?textLength=")([0-9.]+)("[^>]*>)([^<]*)(</text>)')


def wide_characters(svg: str) -> str:
    """Rich's SVG export stretches each run of text over len(text) cells, so a Chinese
    character (two cells in a terminal) gets one and the characters overlap
    (Textualize/rich#2742): give each run its width in cells."""
    from rich.cells import cell_len

    def fix(match: re.Match[str]) -> str:
        text = html.unescape(match.group(4))
        if not text or cell_len(text) == len(text):
            return match.group(0)
        width = float(match.group(2)) / len(text) * cell_len(text)
        return f"{match.group(1)}{width:g}{match.group(3)}{match.group(4)}{match.group(5)}"

    return TEXT.sub(fix, svg)


def hold_training(app) -> tuple[threading.Event, threading.Event]:
    """Hold the trainer thread halfway through epoch CAUGHT_AT_EPOCH (in the training
    controller's report callable, which that thread calls), until released."""
    from lyrics_tui.core.events import BatchFinished
    from lyrics_tui.tui.controllers.training import RunEvent

    held, release = threading.Event(), threading.Event()
    post = app.training.post

    def holding_post(report) -> None:
        post(report)
        if isinstance(report, RunEvent) and isinstance(report.event, BatchFinished):
            event = report.event
            if event.epoch == CAUGHT_AT_EPOCH and event.batch >= event.batches // 2:
                if not held.is_set():
                    held.set()
                    release.wait(120)

    app.training.post = holding_post
    return held, release


async def session(out: Path, size: tuple[int, int], only: set[str]) -> list[Path]:
    from lyrics_tui.tui.app import PlaygroundApp
    from lyrics_tui.tui.controllers.demo import DemoOptions
    from lyrics_tui.tui.controllers.training import TrainingState
    from lyrics_tui.tui.screens.demo import DemoDriver, DemoScreen
    from lyrics_tui.tui.screens.inspect import InspectScreen

    demo = DemoDriver(DemoOptions(budget_s=0, pace_s=3600, lines=8, seed=SEED))
    app = PlaygroundApp(
        corpus="lyrics",
        checkpoint_dir=Path("checkpoints"),
        train_overrides={"epochs": EPOCHS, "threads": 1, "seed": 0},
        sampler={"seed": SEED, "pace_ms": 0},
        device="cpu",
        open_newest=False,
    )
    shots = Shots(app, out, size, only)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: app.ready, "the first frame")
        await shots.take(pilot, "idle")
        if only <= {"idle"}:
            return shots.saved
        held, release = hold_training(app)
        await pilot.press("t")
        try:
            await until(pilot, held.is_set, "training to reach the picture's batch")
            await pilot.pause(0.3)  # the reports posted before the hold are drawn
            await shots.take(pilot, "training")
        finally:
            release.set()
        await until(
            pilot,
            lambda: app.training.state is TrainingState.IDLE and app.training.has_model,
            "training to end",
        )
        app.query_one("#set-epochs").value = ""  # so that t says where it would go on to
        app.query_one("#prompt").value = START
        app.query_one("#prompt").focus()
        await pilot.press("enter")
        await until(pilot, lambda: not app.generation.running, "the generation")
        await shots.take(pilot, "generating")

        if shots.wants("settings"):
            if not app.main.has_class("-settings-open"):
                await pilot.press("o")
            app.query_one("#set-corpus-pick").focus()
            await pilot.press("enter")  # the corpus picker, open
            await shots.take(pilot, "settings")
            await pilot.press("escape")
            if app.main.form_covers_panels:
                await pilot.press("escape")
            app.query_one("#output-scroll").focus()
        if shots.wants("help"):
            await pilot.press("question_mark")
            await shots.take(pilot, "help")
            await pilot.press("escape")

        if shots.wants("inspect-step", "inspect-score", "inspect-neighbours", "inspect-hidden"):
            await pilot.press("i")
            await until(pilot, lambda: isinstance(app.screen, InspectScreen), "inspect")
            screen = app.screen
            await until(pilot, lambda: screen.subject is not None, "the model to inspect")
            screen.query_one("#step-prompt").value = START
            screen.query_one("#step-prompt").focus()
            await pilot.press("enter")
            for _ in range(4):
                await pilot.press("s")
            await shots.take(pilot, "inspect-step")
            lines = (ROOT / "data" / "lyrics.txt").read_text(encoding="utf-8").splitlines()
            for view, field, text in (
                ("score", "#score-line", lines[9]),
                ("near", "#near-word", START),
            ):
                screen.action_view(view)
                screen.query_one(field).value = text
                screen.query_one(field).focus()
                await pilot.press("enter")
                await shots.take(
                    pilot, "inspect-score" if view == "score" else "inspect-neighbours"
                )
            screen.action_view("hidden")
            await shots.take(pilot, "inspect-hidden")
            await pilot.press("escape")

        if shots.wants("demo"):
            demo.start(app)  # its timer waits an hour: the ticks here make the picture
            for _ in range(1 + DEMO_WORDS):
                demo.tick()
                await pilot.pause()
            await until(pilot, lambda: isinstance(app.screen, DemoScreen), "the demo")
            demo.stop()
            app.screen.show()
            await shots.take(pilot, "demo")
    return shots.saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--sizes", default="80x24,120x40")
    parser.add_argument(
        "--only", default=",".join(SHOTS), help="comma-separated: " + ", ".join(SHOTS)
    )
    args = parser.parse_args()
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = only - set(SHOTS)
    if unknown:
        raise SystemExit(f"screenshots: unknown {', '.join(sorted(unknown))}")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    sizes = [tuple(int(n) for n in size.split("x")) for size in args.sizes.split(",")]
    os.environ.pop("NO_COLOR", None)
    with tempfile.TemporaryDirectory(prefix="lyrics-tui-shots-") as work:
        os.chdir(work)  # checkpoints/ and every path on screen are relative to it
        os.environ["LYRICS_TUI_RUNS_DB"] = str(Path(work) / "runs.sqlite3")  # not the user's
        started = time.monotonic()
        for size in sizes:
            for path in asyncio.run(session(out, size, only)):
                print(path)
        print(f"screenshots: done in {time.monotonic() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
