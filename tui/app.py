"""The playground: `lyrics-tui` with no subcommand.

A router. The controllers (tui/controllers/) train and generate in plain threads and report
what happened; the main screen (tui/screens/main.py) lays out the widgets (tui/widgets/), which
own what they show and post what the user did. This App turns keys and widget messages into
controller calls, and reports into what the screen shows. Other screens load when first opened.

Start-up stays light: torch is imported only in the trainer thread, a checkpoint is read with
numpy after the first frame, and the plot and the settings form are mounted after it too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, TypedDict, Unpack

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from lyrics_tui.core import tuning
from lyrics_tui.core.corpus import DEFAULT_CORPUS, corpus_file
from lyrics_tui.core.errors import LyricsError
from lyrics_tui.core.events import BatchFinished, TrainingFinished, TrainingStarted
from lyrics_tui.core.paths import checkpoint_dir as default_checkpoint_dir
from lyrics_tui.core.paths import list_checkpoints, songs_dir
from lyrics_tui.core.song_file import new_song_path
from lyrics_tui.tui import format as fmt
from lyrics_tui.tui.controllers import Problem, checkpoints, generation, runs, training
from lyrics_tui.tui.keys import MAIN_BINDINGS, help_rows, palette_commands
from lyrics_tui.tui.screens.confirm import ask
from lyrics_tui.tui.screens.main import MainScreen
from lyrics_tui.tui.widgets.prompt_pane import PromptSubmitted
from lyrics_tui.tui.widgets.settings_form import (
    SAMPLER_FIELDS,
    SettingChanged,
    SettingsForm,
    said,
)
from lyrics_tui.tui.widgets.training_panel import finished_note

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel

    from lyrics_tui.tui.screens.demo import DemoDriver

QUIT_WAIT_S = 0.3  # how long quitting waits for the threads to wind down (see action_quit)
SAMPLER_NAMES = {name for name, _, _ in SAMPLER_FIELDS}
UNSAVED_LOAD = "The trained model is not saved (s saves it). Load this one and drop it?"
# What the controllers post (each a dataclass of tui/controllers/): _on_reported matches each.
Report = (
    training.TrainingReport
    | generation.GenerationReport
    | checkpoints.CheckpointReport
    | runs.RunsReport
    | Problem
)


class NotifyArgs(TypedDict, total=False):
    """App.notify's options but markup (which the playground's notify turns off)."""

    title: str
    severity: SeverityLevel
    timeout: float | None


@dataclass
class Reported(Message):
    """A controller's report, delivered in the UI thread."""

    report: Report


class PlaygroundApp(App[int]):
    """The playground. Constructor arguments let tests and benchmarks use tiny settings."""

    CSS_PATH = str(Path(__file__).with_name("app.tcss"))  # absolute: subclasses live elsewhere
    TITLE = "lyrics-tui"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = MAIN_BINDINGS

    def __init__(
        self,
        corpus: str | None = None,
        checkpoint: str | None = None,
        *,
        checkpoint_dir: str | Path | None = None,
        out_dir: str | Path | None = None,
        preset: str = "default",
        model_overrides: dict[str, object] | None = None,
        train_overrides: dict[str, object] | None = None,
        sampler: dict[str, object] | None = None,
        temperature: float = 0.8,
        device: str = "auto",
        open_newest: bool = True,
        runs_db: str | None = None,
        demo: DemoDriver | None = None,
    ) -> None:
        super().__init__()
        self.corpus = str(corpus) if corpus else DEFAULT_CORPUS  # a bundled name or a path
        self.corpus_given = corpus is not None  # --corpus wins over a checkpoint opened at launch
        self.checkpoint_arg = str(checkpoint) if checkpoint else None
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else default_checkpoint_dir()
        self.out_dir = Path(out_dir).expanduser() if out_dir else songs_dir(self.checkpoint_dir)
        self.open_newest = open_newest
        self.demo = demo  # a driver started after the first frame (tui/screens/demo.py)
        form = SettingsForm(self.corpus, preset, model_overrides, train_overrides, sampler)
        self.main = MainScreen(form, temperature)
        self.training = training.TrainingController(
            self.report, self.checkpoint_dir, device, runs_db
        )
        self.generation = generation.GenerationController(self.report)
        self.files = checkpoints.CheckpointFiles(self.report, self.checkpoint_dir)
        self.runs = runs.RunsController(self.report, runs_db)  # the Runs screen, overlays
        self.first_frame_at: float | None = None
        self.ready = False  # True once the parts mounted after the first frame are there
        self._output_pending = False
        self._quitting = False

    # -- lifecycle ---------------------------------------------------------------------------
    def get_default_screen(self) -> MainScreen:
        return self.main

    def compose(self) -> ComposeResult:
        yield from self.main.widgets()

    def on_mount(self) -> None:
        self._refresh()
        self.query_one("#output-scroll").focus()
        self.call_after_refresh(self._after_first_frame)

    async def _after_first_frame(self) -> None:
        """What the first frame need not wait for: jieba, the checkpoint, the plot, the form."""
        self.first_frame_at = time.perf_counter()
        self.generation.warm_up("word")
        if self.checkpoint_arg:
            self.files.load(self.checkpoint_arg, adopt_corpus=not self.corpus_given)
        elif self.open_newest:  # the newest best; a file that cannot be read is passed over
            self.files.load_startup(adopt_corpus=not self.corpus_given)
        self.main.show_sampler(None)  # imports core.sampling, and numpy with it
        if not corpus_file(self.corpus).exists():
            self.error(f"{self.corpus}: no such file (set the corpus in Settings, o)")
        await self.main.panel.mount_plot()
        await self.main.settings.fill()
        self.call_after_refresh(setattr, self, "ready", True)
        if self.demo is not None:
            self.demo.start(self)

    def notify(self, message: str, *, markup: bool = False, **options: Unpack[NotifyArgs]) -> None:
        """App.notify in plain text (paths, <unk>); a note already on screen is not stacked."""
        if not any(shown.message == message for shown in getattr(self, "_notifications", ())):
            super().notify(message, markup=markup, **options)

    def error(self, text: str) -> None:
        self.notify(text, severity="error", timeout=8)

    # -- what the controllers report ---------------------------------------------------------
    def report(self, report: Report) -> None:
        """The controllers' `post`, called from their threads (post_message is thread-safe)."""
        self.post_message(Reported(report))

    @on(Reported)
    def _on_reported(self, message: Reported) -> None:
        match message.report:
            case training.TrainingReport() as report:
                if self.training.receive(report):
                    self._show_training(report)
            case generation.GenerationReport() as report:
                if self.generation.receive(report):
                    self._show_generation(report)
            case checkpoints.CheckpointLoaded() as loaded:
                self._show_loaded(loaded)
            case checkpoints.LoadEnded() as ended:
                for then in self.files.receive(ended):
                    then()  # e.g. a t pressed while the model was being read
            case checkpoints.ModelSaved(path=path):
                self.training.saved()
                self._refresh()
                self.notify(f"saved {fmt.path(path)}")
            case Problem(text=text, severity=severity):
                self.notify(text, severity=severity, timeout=8)
            case runs.RunsReport() as report:
                if self.runs.receive(report):  # the curves overlaid in the loss panel changed
                    self.main.panel.overlays = self.runs.overlays()

    def _refresh(self) -> None:
        """What follows the state: the screen (with what t would do now) and the keys shown."""
        plan, why_not = None, ""
        if self.training.has_model and not self.training.state.active:
            try:
                plan = self.training.plan(self.main.training_request())
            except LyricsError as exc:
                why_not = said(exc)  # e.g. a total of epochs the model already has
        self.main.show_state(self.training, self.generation, plan, why_not)
        self.refresh_bindings()

    @on(SettingChanged)
    def _on_setting_changed(self, message: SettingChanged) -> None:
        if message.name in SAMPLER_NAMES:
            self.main.show_sampler(self.generation.seed)
        else:
            self._refresh()  # what t will do

    # -- keys: the ones that apply now are shown -------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        active, has_model = self.training.state.active, self.training.has_model
        enabled = {
            "train": not active,
            "pause": active,
            "stop": active,
            "save": self.training.run is not None,
            "load": not active,
            "reset": not active and (has_model or bool(self.training.history)),
            "generate": has_model,
            "inspect": has_model,
            "regenerate": has_model and self.generation.seed is not None,
            "copy": bool(self.generation.text),
            "write": bool(self.generation.text),
            "stop_generation": self.generation.running,
        }
        return enabled.get(action, True)

    def get_system_commands(self, screen: Screen) -> Iterator[SystemCommand]:
        run = partial(self.call_later, self.run_action)
        yield from palette_commands(self.BINDINGS, super().get_system_commands(screen), run)

    # -- training --------------------------------------------------------------------------
    def action_train(self) -> None:
        if self.training.state.active:
            self.notify("training is already running", severity="warning")
            return
        if self.files.loading:  # t continues the model being read, so it waits for it
            self.files.when_loaded(self.action_train)
            self.notify("t: a checkpoint is being opened; training starts once it is read")
            return
        try:
            plan = self.training.plan(self.main.training_request())
        except LyricsError as exc:
            self.error(said(exc))
            return
        if plan.notice:
            self.notify(plan.notice)
        self.training.start(plan)
        self._refresh()

    def action_pause(self) -> None:
        if not self.training.pause_or_resume():
            self.notify("nothing to pause yet", severity="warning")
        self._refresh()

    def action_stop(self) -> None:
        self.training.stop()
        self._refresh()

    def _show_training(self, report: training.TrainingReport) -> None:
        if isinstance(report, training.RunEvent):
            event = report.event
            self.main.panel.show_event(event)
            if isinstance(event, TrainingFinished) and not event.reason.failed:
                self.notify(finished_note(event))  # else a Problem says what went wrong
            elif isinstance(event, TrainingStarted) and event.sized:
                self.notify(f"network: {event.sized}")
                self._refresh()
            elif not isinstance(event, BatchFinished):  # an epoch, the start, a pause, a resume
                self._refresh()
        elif isinstance(report, training.RunFailed):
            self.error(report.text)
        else:  # the run is ready, or its thread ended
            self._refresh()
            if isinstance(report, training.RunReady) and report.note:
                self.notify(report.note)  # what continuing means: from epoch N to epoch M

    # -- checkpoints -------------------------------------------------------------------------
    def action_save(self) -> None:
        if self.training.run is not None:
            self.files.save(self.training.run)
        elif self.training.opened is not None:
            self.notify(f"this model is already saved in {self.training.opened.checkpoint.path}")
        else:
            self.notify("nothing to save yet: train a model first (t)", severity="warning")

    def action_load(self) -> None:
        if self.training.state.active:
            self.notify("stop training first (x), then load", severity="warning")
            return
        from lyrics_tui.tui.screens.load import LoadScreen

        folder = self.checkpoint_dir
        screen = LoadScreen(list_checkpoints(folder), folder if folder.is_dir() else Path.cwd())
        self.push_screen(screen, self._load_chosen)

    def _load_chosen(self, path: str | None) -> None:
        if path and self.training.state.active:
            self.notify("stop training first (x), then load", severity="warning")
        elif path and self.training.dirty:  # its saves failed: a load would drop the only copy
            ask(self, UNSAVED_LOAD, "Drop the model?", lambda: self.files.load(path))
        elif path:
            self.files.load(path)

    def _show_loaded(self, loaded: checkpoints.CheckpointLoaded) -> None:
        if self.training.state.active:
            self.notify("a checkpoint finished loading while training; ignored", severity="warning")
            return
        ck = loaded.opened.checkpoint
        self.training.adopt(loaded.opened, loaded.latest)
        self.generation.warm_tokenizers.add(ck.train_config.tokenizer)  # loaded with it
        self.main.show_loaded(ck, loaded.adopt_corpus)
        self._refresh()
        self.notify(
            f"loaded {Path(ck.path).name}: epoch {ck.epoch}, val ppl {fmt.ppl(ck.val_ppl)}, "
            f"vocabulary {len(ck.vocab):,} — / then Enter writes a song"
        )

    def action_reset(self) -> None:
        if self.training.state.active:
            self.notify("stop training first (x)", severity="warning")
            return
        if not self.training.may_forget(time.monotonic()):
            self.notify(
                "the trained model is not saved: press R again to discard it (s saves it)",
                severity="warning",
            )
            return
        self.generation.forget()
        self.training.forget()
        self.main.panel.border_subtitle = ""
        self.main.prompt_pane.border_title = "Song"
        self._refresh()
        self.notify("reset: no model; t trains a new one from the settings")

    # -- generation ------------------------------------------------------------------------
    def action_generate(self) -> None:
        self._generate(self.main.prompt_pane.start_text, same_seed=False)

    def action_regenerate(self) -> None:
        self._generate(self.main.prompt_pane.start_text, same_seed=True)

    @on(PromptSubmitted)
    def _on_prompt_submitted(self, message: PromptSubmitted) -> None:
        self._generate(message.text, same_seed=False)
        # after the token's frame: moving the focus restyles the pane, a frame as long again
        self.call_after_refresh(self.query_one("#output-scroll").focus)

    def _generate(self, prompt: str, same_seed: bool) -> None:
        if not self.training.has_model:
            self.notify(training.NO_MODEL, severity="warning")
            return
        g = self.generation
        try:
            settings, pace_s = self.main.generation_settings(g.seed if same_seed else None)
            started = g.start(prompt, settings, pace_s, self.training.weights)
        except LyricsError as exc:
            self.error(said(exc))
            return
        if started is None:  # the thread reads the weights first, then reports the start
            self._refresh()
            return
        self._show_output()  # the first token, in this frame; the rest of the screen follows
        self.call_after_refresh(self._show_start, started)

    def _show_output(self) -> None:
        self._output_pending = False
        self.main.show_output(self.training, self.generation)

    def _show_generation(self, report: generation.GenerationReport) -> None:
        if isinstance(report, generation.TokenGenerated):
            if not self._output_pending:  # one redraw for all the tokens queued by now
                self._output_pending = True
                self.call_later(self._show_output)
        elif isinstance(report, generation.GenerationStarted):
            self._show_output()
            self._show_start(report)
        else:
            self._refresh()

    def _show_start(self, started: generation.GenerationStarted) -> None:
        """Everything about a new generation but its text: source, warnings, seed, keys."""
        if started.gen_id != self.generation.gen_id:
            return
        self.main.prompt_pane.border_title = f"Song · {started.source}"
        for warning in started.warnings:
            self.notify(warning, severity="warning")
        self._refresh()

    def action_temperature(self, delta: float) -> None:
        self.main.prompt_pane.nudge_temperature(delta)

    def action_stop_generation(self) -> None:
        self.generation.stop()

    async def action_leave_field(self) -> None:
        """Esc in a text field: stop a generation first, else give the keys back."""
        if self.generation.stop():
            return
        if self.main.form_covers_panels:
            await self.main.toggle_settings()
        else:
            self.query_one("#output-scroll").focus()

    def _output(self, verb: str) -> str:
        """The prompt and what was generated; a warning when there is nothing to `verb` yet."""
        if not self.generation.text:
            self.notify(f"nothing to {verb} yet", severity="warning")
        return self.generation.text

    def action_copy(self) -> None:
        if not (text := self._output("copy")):
            return
        self.copy_to_clipboard(text)
        self.notify(f"copied {len(text)} characters (OSC 52: your terminal's clipboard)")

    def action_write(self) -> None:
        if not (text := self._output("write")):
            return
        from lyrics_tui.tui.screens.write import WriteScreen

        path = new_song_path(self.out_dir, self.main.corpus, self.generation.seed)
        self.push_screen(WriteScreen(self.out_dir, path, text))

    # -- other screens -----------------------------------------------------------------------
    async def action_settings(self) -> None:
        await self.main.toggle_settings()

    def action_help(self) -> None:
        from lyrics_tui.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen(help_rows(self.BINDINGS)))

    def action_inspect(self) -> None:
        """The inspection screen over the model held now, with the sampler's settings."""
        from lyrics_tui.tui.screens.inspect import InspectScreen

        (settings, memory), folder = self.main.inspect_settings(), self.checkpoint_dir
        prompt = self.main.prompt_pane.start_text  # F1 steps on from the start text
        screen = InspectScreen(
            self.training.subject, settings, memory, prompt=prompt, checkpoint_folder=folder
        )
        self.push_screen(screen)

    def action_runs(self) -> None:
        from lyrics_tui.tui.screens.runs import RunsScreen  # mark to overlay, open, delete

        self.push_screen(RunsScreen(self.runs), self._load_chosen)

    # -- quitting --------------------------------------------------------------------------
    async def action_quit(self) -> None:
        """Stop the run and any generation, give the threads a moment, then leave."""
        if self._quitting:
            self.exit(0)
            return
        self._quitting = True
        # Leaving takes many short turns of the UI thread; while jieba's dictionary loads (or a
        # trainer winds down) each turn waits out the other thread's 5 ms GIL slice.
        tuning.fast_thread_switches()
        self.training.stop()
        self.generation.stop()
        self.query_one("#status", Static).update("quitting…")
        deadline = time.monotonic() + QUIT_WAIT_S
        while time.monotonic() < deadline and self._busy():
            await asyncio.sleep(0.02)
        self.training.keep_last_epoch()
        self.exit(0)

    def on_unmount(self) -> None:
        self.runs.close()  # its thread follows the store while runs are overlaid

    def _busy(self) -> bool:
        return self.training.busy() or self.generation.busy() or self.files.busy()

    def threads_left(self) -> bool:
        """True when a training or saving thread is still running after the app ended."""
        return self.training.busy() or self.files.saving()
