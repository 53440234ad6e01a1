"""The main screen: status line, training panel, prompt pane (the song), settings form and key
bar.

Its layout follows what is watched and the terminal. The song view gives the song the whole
height (the training panel hidden; from TALL_ROWS a short one stays), the training view gives
the loss plot the rows (the song pane keeps its start field and last lines): training starts
the training view, writing (/, Enter, g, r) or opening a model the song view, v switches. From
WIDE_COLUMNS the settings form stays open beside the panels, narrower it replaces them while
open; below SHORT_ROWS the panels share the height.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Resize, ScreenResume
from textual.geometry import Size
from textual.screen import Screen
from textual.widgets import Input

from lyrics_tui.core.corpus import DEFAULT_CORPUS, same_corpus
from lyrics_tui.core.errors import LyricsError
from lyrics_tui.tui import format as fmt
from lyrics_tui.tui.controllers.generation import GenerationController
from lyrics_tui.tui.controllers.plan import TrainingPlan, TrainingRequest
from lyrics_tui.tui.controllers.training import TrainingController, TrainingState
from lyrics_tui.tui.memory import MemoryChoice
from lyrics_tui.tui.widgets.key_bar import KeyBar
from lyrics_tui.tui.widgets.progress_row import Progress
from lyrics_tui.tui.widgets.prompt_pane import Output, PromptPane, hint
from lyrics_tui.tui.widgets.settings_form import SettingsForm, said, sampler_defaults
from lyrics_tui.tui.widgets.status_line import StatusLine
from lyrics_tui.tui.widgets.training_panel import TrainingPanel

if TYPE_CHECKING:
    from lyrics_tui.core.checkpoint import Checkpoint
    from lyrics_tui.core.sampling import SamplerSettings

WIDE_COLUMNS = 110  # from this width the settings form stays open beside the panels
SHORT_ROWS = 20  # below this the two panels share the height instead of fixed sizes
TALL_ROWS = 34  # from this height the view not watched keeps some rows
VIEWS = ("song", "training")


class MainScreen(Screen[None]):
    """The playground's screen. It lays out the widgets and shows the controllers' state in
    them; the widgets own what they show."""

    def __init__(self, settings: SettingsForm, temperature: float) -> None:
        super().__init__()
        self.settings = settings  # made by the App: it holds the settings given at launch
        self.panel = TrainingPanel(id="train-panel")
        self.prompt_pane = PromptPane(temperature, id="prompt-pane")
        self.settings_open: bool | None = None  # None: follow the terminal's width
        self.view = "training"  # what gets the rows: "song" or "training" (show_view)
        self._was = (False, False)  # (training starting, writing) when the state was last shown
        self._paused = False  # a run paused (or pausing): space resumes it

    def widgets(self) -> ComposeResult:
        """The App composes these into this screen, its default one: so they are there for
        the App's on_mount, before the first frame."""
        self._lay_out(self.app.size)  # before the widgets exist: no restyle of the tree
        yield StatusLine("", id="status")
        with Horizontal(id="body"):
            with Vertical(id="main"):
                yield self.panel
                yield self.prompt_pane
            yield self.settings
        yield KeyBar(id="keys")

    def on_resize(self, event: Resize) -> None:
        self._lay_out(event.size)

    def on_screen_resume(self, event: ScreenResume) -> None:
        self._lay_out(self.app.size)  # the terminal may have changed under another screen

    def _lay_out(self, size: Size) -> None:
        """Layout classes; changed only when they differ (each change restyles the tree)."""
        wide = size.width >= WIDE_COLUMNS
        is_open = self.settings_open if self.settings_open is not None else wide
        wanted = {
            "-wide": wide,
            "-narrow": not wide,
            "-settings-open": is_open,
            "-short": size.height < SHORT_ROWS,
            "-tall": size.height >= TALL_ROWS,
            "-song": self.view == "song",
            "-training": self.view == "training",
        }
        if all(self.has_class(name) == on for name, on in wanted.items()):
            return
        self.remove_class(*[name for name, on in wanted.items() if not on])
        self.add_class(*[name for name, on in wanted.items() if on])

    def show_view(self, view: str) -> None:
        """Give the rows to the song or to the training panel."""
        if view in VIEWS and view != self.view:
            self.view = view
            self._lay_out(self.app.size)
            if view == "song" and not self.prompt_pane.has_focus_within:
                self.query_one("#output-scroll").focus()  # its keys scroll the song
            elif view == "training" and self.prompt_pane.query_one("#output-scroll").has_focus:
                self.query_one("#epoch-scroll").focus()

    def toggle_view(self) -> None:
        self.show_view("training" if self.view == "song" else "song")

    @property
    def form_covers_panels(self) -> bool:
        """A narrow terminal with the settings open: the form has the whole body."""
        return self.has_class("-narrow") and self.has_class("-settings-open")

    async def toggle_settings(self) -> None:
        closing = self.has_class("-settings-open")
        await self.settings.fill()
        if closing and not self._settings_check():
            return  # the form stays, the keys on the field named
        self.settings_open = not closing
        self._lay_out(self.app.size)
        if self.settings_open:
            self.call_after_refresh(self._focus_settings)
        else:
            self.query_one("#output-scroll").focus()

    def _settings_check(self) -> bool:
        """The form as t and g would read it; an error names the field and keeps it open."""
        try:
            self.settings.check()
        except LyricsError as exc:
            self.app.notify(said(exc), severity="error", timeout=8)
            field = self.settings.field_of(exc)
            if field is not None:
                field.focus()
                field.select_all()  # typing replaces the bad value, focused already or not
            return False
        return True

    def _focus_settings(self) -> None:
        """The form's first field that takes keys: the corpus, or during a run (training
        fields locked) the sampler's first, so that Esc still closes the form."""
        fields = [w for w in self.settings.query("Input, Select") if w.focusable]
        if fields:
            fields[0].focus()

    # -- the view's keys (tui/keys.py; the App binds them to this screen) -------------------
    def action_focus_prompt(self) -> None:
        self.show_view("song")
        self.query_one("#prompt", Input).focus()

    def action_toggle_view(self) -> None:
        self.toggle_view()

    def action_scroll_song(self, pages: int) -> None:
        scroll = self.query_one("#output-scroll", VerticalScroll)
        if pages < 0:
            scroll.scroll_page_up(animate=False)
        else:
            scroll.scroll_page_down(animate=False)

    # -- song memory's keys (tui/keys.py memory_bindings; the App binds them to this screen) --
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action.startswith("memory"):
            return self.prompt_pane.memory.has_model  # shown once there is a model
        return True

    def action_memory(self, delta: float) -> None:
        self.prompt_pane.nudge_memory(delta)

    def action_memory_toggle(self) -> None:
        self.prompt_pane.toggle_memory()

    # -- showing the controllers' state -------------------------------------------------------
    @property
    def corpus(self) -> str:
        """The corpus t trains on: the form's (the default bundled one when blank)."""
        return self.settings.corpus or DEFAULT_CORPUS

    def key_label(self, action: str, description: str) -> str:
        """What the key bar calls a key now: space resumes a paused run."""
        return "Resume" if action == "pause" and self._paused else description

    def show_state(
        self,
        training: TrainingController,
        generation: GenerationController,
        plan: TrainingPlan | None = None,
        why_not: str = "",
    ) -> None:
        """What follows the state: the model's history, the progress line, the form's lock,
        the status line, the seed shown and the output (or a hint). `plan` is what t would do
        now (None while training or with no model; `why_not` when the settings rule it out),
        shown too as the epochs placeholder."""
        self._follow(training.state is TrainingState.STARTING, generation.running)
        self._paused = training.state in (TrainingState.PAUSING, TrainingState.PAUSED)
        self.panel.history = tuple(training.history)
        fitted, note = training.memory()
        self.prompt_pane.memory = self.prompt_pane.memory.for_model(
            fitted, training.has_model, note
        )
        if training.state is TrainingState.IDLE:
            last = training.history[-1]["epoch"] if training.history else None
            # the latest epoch finished, rather than an empty bar at 0% under a trained model
            self.panel.show_progress(
                Progress(f"epoch {last}", 1.0, 1.0, "idle") if last else Progress()
            )
        elif training.state is TrainingState.STARTING:
            self.panel.show_progress(Progress(label="preparing…"))
        self.settings.lock_training(training.state.active)
        self.settings.show_continuation(plan.continuation if plan is not None else None)
        t_does = plan.summary if plan is not None else f"t: {why_not}" if why_not else ""
        self.query_one(StatusLine).show(training, self.corpus, t_does, generation.running)
        if self.prompt_pane.sampler is not None:  # the seed shown is the latest generation's
            self.prompt_pane.sampler = replace(self.prompt_pane.sampler, seed=generation.seed)
        self.show_output(training, generation)

    def _follow(self, starting: bool, writing: bool) -> None:
        """A run starting shows the loss; a song starting shows the song."""
        if starting and not self._was[0]:
            self.show_view("training")
        if writing and not self._was[1]:
            self.show_view("song")
        self._was = (starting, writing)

    def show_output(self, training: TrainingController, generation: GenerationController) -> None:
        g = generation
        if g.text:
            self.prompt_pane.output = Output(g.prompt_text, tuple(g.tokens), g.note)
        else:
            self.prompt_pane.output = Output(note=hint(training.has_model, training.state.active))

    def show_loaded(self, checkpoint: Checkpoint, adopt_corpus: bool) -> None:
        """A checkpoint read from a file is the model now. With `adopt_corpus` the form shows
        the corpus it was trained on (t continues it there), when that file is still there."""
        corpus = checkpoint.corpus
        found = bool(corpus) and Path(corpus).expanduser().is_file()
        if adopt_corpus and found and not same_corpus(corpus, self.settings.corpus):
            self.settings.set_corpus(corpus)
        self.panel.border_subtitle = f"loaded {fmt.path(checkpoint.path)}"
        self.show_view("song")  # a model to write with

    def training_request(self) -> TrainingRequest:
        """What t would train: the form's corpus, preset and settings."""
        preset, model, train = self.settings.read_training()
        return TrainingRequest(self.corpus, preset, model, train)

    def generation_settings(self, seed: int | None) -> tuple[SamplerSettings, float]:
        """The sampler settings of the next generation (the form's, the pane's temperature;
        `seed` when given, else the form's) and the pause between tokens in seconds."""
        form = self.settings.read_sampler()
        chosen = seed if seed is not None else form.settings.seed
        pane = self.prompt_pane
        settings = replace(
            form.settings, temperature=pane.temperature, seed=chosen, cache=pane.memory.settings
        )
        return settings, form.pace_ms / 1000

    def inspect_settings(self) -> tuple[SamplerSettings, MemoryChoice]:
        """The inspection screen's sampler: the form's (defaults while a field does not parse)
        at the pane's temperature and memory; and the memory control, which it can change."""
        pane = self.prompt_pane
        settings = replace(
            self.sampler_form(), temperature=pane.temperature, cache=pane.memory.settings
        )
        return settings, pane.memory

    def sampler_form(self) -> SamplerSettings:
        """The form's sampler settings; core's defaults while a field does not parse."""
        try:
            return self.settings.read_sampler().settings
        except LyricsError:
            return sampler_defaults()

    def show_sampler(self, seed: int | None) -> None:
        """The sampler line: the form's settings, and the seed of the latest generation."""
        self.prompt_pane.sampler = replace(self.sampler_form(), seed=seed)
