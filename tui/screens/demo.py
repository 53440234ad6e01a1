"""The hands-free demo on screen: the playground trains on its main screen, then this screen
writes songs word by word with the candidates of each step beside them, until a key is pressed.

`DemoDriver` runs the demo controller (tui/controllers/demo.py) on a timer of the App and
pushes `DemoScreen` when the writing starts; a key closes it and the playground is the user's
again, with the model just trained. Made to be read from the back of a room: two panes, large
margins, the picked word in reverse video, nothing to type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import Static

from lyrics_tui.tui import format as fmt
from lyrics_tui.tui.controllers.demo import DemoController, DemoOptions, DemoPhase, Song

if TYPE_CHECKING:
    from textual.timer import Timer

    from lyrics_tui.core.sampling import SamplerSettings
    from lyrics_tui.tui.controllers.checkpoints import CheckpointFiles
    from lyrics_tui.tui.controllers.training import TrainingController
    from lyrics_tui.tui.screens.main import MainScreen

BAR = "█"
WORD_CELLS = 8  # the candidates' word column (4 Chinese characters)


def candidates_text(song: Song, width: int) -> Text:
    """The step that picked the song's latest word: its candidates, probability bars, and
    the pick marked."""
    step, chosen = song.step, song.chosen
    text = Text(no_wrap=True, overflow="ellipsis")
    if step is None or chosen is None:
        return Text("the first word comes next…", style="dim")
    text.append(f"step {step.index + 1} · {step.survivors:,} could follow\n", style="dim")
    top = max((c.final_prob for c in step.candidates), default=0.0) or 1.0
    bar_cells = max(4, width - WORD_CELLS - 13)  # number, word, bar, percentage, mark
    shown = False
    for c in step.candidates:
        picked = c.token_id == chosen.token_id
        shown = shown or picked
        label = c.label + " " * max(0, WORD_CELLS - cell_len(c.label))
        bar = BAR * max(1 if c.final_prob > 0 else 0, round(bar_cells * c.final_prob / top))
        style = "bold" if picked else "" if c.survives else "dim"
        text.append(f"{c.number:>2} {label}", style=f"{style} reverse" if picked else style)
        text.append(f" {bar:<{bar_cells}} {fmt.prob(c.final_prob):>6}", style=style)
        text.append(" ◀\n" if picked else "\n", style=style)
    if not shown:  # sampled from beyond the rows shown
        text.append(f"picked: {chosen.label} (rank {chosen.model_rank:,})", style="bold reverse")
    return text


def song_text(song: Song, height: int) -> Text:
    """The song so far (its last `height` lines), the latest word in reverse video."""
    lines = "".join(song.words).split("\n")
    lines = lines[-max(1, height) :]
    text = Text()
    for i, line in enumerate(lines):
        last = i == len(lines) - 1
        if last and not song.done and line and song.words and song.words[-1] != "\n":
            word = song.words[-1]
            text.append(line[: len(line) - len(word)], style="bold")
            text.append(word, style="bold reverse")
        else:
            text.append(line, style="bold")
        if not last:
            text.append("\n")
    return text


class DemoScreen(ModalScreen[None]):
    """The song being written and the step that picked its latest word; any key closes."""

    DEFAULT_CSS = """
    DemoScreen { layout: vertical; background: $background; }
    DemoScreen #demo-head { height: 1; background: $panel; padding: 0 1; text-wrap: nowrap;
        text-overflow: ellipsis; }
    DemoScreen #demo-body { height: 1fr; }
    DemoScreen #demo-song { width: 1fr; height: 1fr; border: round $secondary; padding: 0 2;
        border-title-align: left; }
    DemoScreen #demo-steps { width: 42%; min-width: 34; height: 1fr; border: round $primary;
        padding: 0 1; border-title-align: left; text-wrap: nowrap; }
    DemoScreen #demo-foot { height: 1; padding: 0 1; color: $text-muted; text-wrap: nowrap;
        text-overflow: ellipsis; }
    """

    def __init__(self, controller: DemoController, corpus: str, model: str) -> None:
        super().__init__()
        self.controller = controller
        self.corpus = corpus  # for the head line
        self.model = model  # its shape, for the foot line

    def compose(self) -> ComposeResult:
        yield Static("", id="demo-head")
        with Horizontal(id="demo-body"):
            yield Static("", id="demo-song")
            yield Static("", id="demo-steps")
        foot = "any key stops the demo; the playground stays open"
        yield Static(f"{self.model} · {foot}" if self.model else foot, id="demo-foot")

    def on_mount(self) -> None:
        self.show()

    def on_resize(self, event: events.Resize) -> None:
        self.show()

    def candidate_rows(self) -> int:
        height = self.query_one("#demo-steps").content_size.height
        return max(3, height - 2) if height else self.controller.candidates

    def show(self) -> None:
        song = self.controller.song
        if song is None:
            return
        self.controller.candidates = self.candidate_rows()
        settings = self.controller.settings
        head = f"lyrics-tui demo · {self.corpus} · song {song.number} · seed {song.seed}"
        self.query_one("#demo-head", Static).update(
            f"{head} · temperature {settings.temperature:.2f}" if settings else head
        )
        pane = self.query_one("#demo-song", Static)
        pane.border_title = f"Song {song.number}" + (" · done" if song.done else "")
        pane.update(song_text(song, pane.content_size.height or 20))
        steps = self.query_one("#demo-steps", Static)
        steps.border_title = "Candidates of each step"
        steps.update(candidates_text(song, steps.content_size.width or 34))

    def on_key(self, event: events.Key) -> None:
        event.stop()
        self.dismiss(None)


class Playground(Protocol):
    """What the demo uses of tui/app.py's PlaygroundApp (which only the entry points import):
    its parts, its t, and Textual's App methods."""

    @property
    def training(self) -> TrainingController: ...
    @property
    def files(self) -> CheckpointFiles: ...
    @property
    def main(self) -> MainScreen: ...
    def action_train(self) -> None: ...
    def notify(self, message: str, *, timeout: float | None = None) -> None: ...
    def clear_notifications(self) -> None: ...
    def set_interval(self, interval: float, callback: Callable[[], object]) -> Timer: ...
    def push_screen(self, screen: DemoScreen, callback: Callable[[None], None]) -> object: ...


class AppHost:
    """The playground as the demo controller sees it (tui/controllers/demo.py DemoHost)."""

    def __init__(self, app: Playground) -> None:
        self.app = app
        self.training = app.training

    def loading(self) -> bool:
        return bool(self.app.files.loading)

    def corpus(self) -> str:
        return str(self.app.main.corpus)

    def start_training(self, time_budget: float) -> None:
        """t, with the demo's time budget (a total, as t's epochs) for this run only."""
        settings = self.app.main.settings
        before = settings.pass_through(time_budget=time_budget)
        try:
            self.app.action_train()
        finally:
            settings.pass_through(**before)

    def sampler_settings(self) -> SamplerSettings:
        main = self.app.main
        return replace(main.sampler_form(), temperature=main.prompt_pane.temperature)


class DemoDriver:
    """Started by the App after its first frame: ticks the controller, shows the songs."""

    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.controller: DemoController | None = None
        self.screen: DemoScreen | None = None
        self._timer: Timer | None = None

    def start(self, app: Playground) -> None:
        self.app = app
        self.controller = DemoController(AppHost(app), self.options)
        budget = self.options.budget_s
        app.notify(
            f"demo: training for {budget:g} s on {fmt.path(app.main.corpus)}, then writing "
            "songs (x ends the training sooner; any key stops the songs)"
            if budget > 0
            else "demo: writing songs with the model held (any key stops them)",
            timeout=8,
        )
        self._timer = app.set_interval(max(self.options.pace_s, 0.01), self.tick)

    def tick(self) -> None:
        """One step of the demo (the timer's), and what it shows."""
        controller = self.controller
        assert controller is not None
        changed = controller.tick()
        if controller.phase is DemoPhase.STOPPED:
            self._end(controller.message)
            return
        if controller.phase is DemoPhase.WRITING and self.screen is None:
            subject = controller.subject
            assert subject is not None  # set before writing starts
            model = fmt.model_shape(subject.stepper.config, len(subject.vocab))
            self.screen = DemoScreen(controller, fmt.path(self.app.main.corpus), model)
            self.app.clear_notifications()  # the training's: the songs need the room
            self.app.push_screen(self.screen, self._closed)
        elif changed and self.screen is not None and self.screen.is_current:
            self.screen.show()

    def stop(self) -> None:
        """End the demo where it is (its screen stays until a key)."""
        self._end("")

    def _closed(self, _: None) -> None:
        self._end("demo stopped: the playground is yours (/ then Enter writes, q quits)")

    def _end(self, message: str) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self.controller is not None and self.controller.phase is not DemoPhase.STOPPED:
            self.controller.stop()
        if message:
            self.app.notify(message, timeout=8)

    @property
    def running(self) -> bool:
        return self._timer is not None
