"""Inside the network, in the playground: step-through decoding, line scoring, embedding
neighbours and the hidden state (issue 5).

A view over core/inspection.py: every number on this screen is computed there. The screen asks a
zero-argument `subject_provider` for the model to look at (a core.inspection.Subject, or None when
there is no model yet). The provider runs in a thread worker, because building a Subject from a
live run copies its weights between two optimiser steps; r asks again, so during training the
views follow the weights as they are trained. Everything else is a few milliseconds of numpy and
runs in the UI thread.

Keys: F1-F4 (or v) switch views; digits are for picking candidates in the step-through, so
they cannot switch views there. Esc in a text field leaves the field (as in the main screen),
Esc elsewhere closes the screen. In the Score view m compares the line under a second checkpoint
(core.inspection.compare_lines); m or Esc goes back to the single model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import ContentSwitcher, DataTable, Input, Label, Static

from lyrics_tui.core.errors import LyricsError
from lyrics_tui.core.sampling import SamplerSettings
from lyrics_tui.core.tokens import NEWLINE
from lyrics_tui.tui import format as fmt
from lyrics_tui.tui.keybar import KeyBar

SubjectProvider = Callable[[], Any]  # () -> core.inspection.Subject | None

VIEWS = ("step", "score", "near", "hidden")
VIEW_NAMES = {"step": "Step", "score": "Score", "near": "Neighbours", "hidden": "Hidden"}
VIEW_KEYS = Binding.Group("Views")
TEMPERATURE_KEYS = Binding.Group("Temp")
TEMPERATURE_MAX = 5.0
TOP_K_STEPS = (0, 5, 10, 20, 40, 100)  # k cycles through these (0: off)
TOP_P_STEPS = (1.0, 0.95, 0.9, 0.8, 0.6)  # p cycles through these (1: off)
MIN_CANDIDATES = 9  # digits 1-9 pick; a taller terminal shows more (Enter on a row picks it)
LINE_WORDS_MAX = 30  # g samples until a line end, at most this many words
NO_MODEL = "No model yet: press t to train one, or l to load a checkpoint (Esc goes back)."
# heat colours for hidden units, by |level| 1..4; the spark character alone carries the value.
# NO_COLOR draws no colour at all; in 16 colours these become grey, red/blue, bright red/blue.
POSITIVE = ("#7a6060", "#b02828", "#e03c3c", "#ff3030")
NEGATIVE = ("#606a7a", "#2840b0", "#3060e0", "#3c78ff")


def model_line(subject: Any) -> str:
    """The label and shape of a Subject, for the header."""
    c = subject.stepper.config
    return (
        f"{subject.label} · {c.cell} {c.embed}→{c.hidden}×{c.layers} · vocab {len(subject.vocab):,}"
    )


def app_subject(app: Any) -> Any:
    """The model a PlaygroundApp holds now, as a core.inspection.Subject (None: no model).

    A run (training or finished) gives a fresh copy of its weights (waits for the current batch
    to end: call it from a thread); a loaded checkpoint reuses its NumpyStepper."""
    from lyrics_tui.core.inspection import Subject, subject_from_run
    from lyrics_tui.core.tokens import Tokenizer

    run = getattr(app, "current_run", None)
    if run is not None:
        live = bool(getattr(app, "training_active", False))
        label = (
            f"live weights, epoch {run.epoch + 1} step {run.step}"
            if live
            else f"trained model, epoch {run.epoch}"
        )
        return subject_from_run(run, label=label)
    loaded = getattr(app, "loaded", None)
    if loaded is None:
        return None
    ck = loaded.checkpoint
    return Subject(
        loaded.stepper,
        ck.vocab,
        Tokenizer(ck.train_config.tokenizer),
        label=Path(str(ck.path)).name,
    )


def app_settings(app: Any) -> SamplerSettings:
    """The playground's sampler settings now: its temperature, and top-k, top-p and seed from
    its settings form (the defaults for a field that does not parse)."""
    try:
        values = app.settings.read_sampler()
    except Exception:
        values = {}
    return SamplerSettings(
        temperature=float(getattr(app, "temperature", 0.8)),
        top_k=int(values.get("top_k") or 0),
        top_p=float(values.get("top_p", 1.0)),
        seed=values.get("seed"),
    )


class SubjectReady(Message):
    """The provider answered (subject None: no model yet; error: one line for the user)."""

    def __init__(self, subject: Any, error: str = "") -> None:
        super().__init__()
        self.subject = subject
        self.error = error


class CompareReady(Message):
    """The second model for a comparison was read (subject None: error says why)."""

    def __init__(self, subject: Any, error: str = "") -> None:
        super().__init__()
        self.subject = subject
        self.error = error


SCORE_COLUMNS = ("#>", "word", "prob>", "bits", "rank>", "model's guess")
COMPARE_COLUMNS = ("#>", "word", "bits A>", "bits B>", "B − A>", "better", "rank A>", "rank B>")


class FitTable(DataTable):
    """A DataTable that tells the screen its new size, so a view can fit its rows to it."""

    class Resized(Message):
        def __init__(self, table: FitTable) -> None:
            super().__init__()
            self.table = table

    def on_resize(self) -> None:
        self.post_message(self.Resized(self))


class InspectField(Input):
    """A text field of this screen: Enter submits, Esc gives the keys back to the view."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "screen.leave_field", "Done")]


def heat_strip(levels: tuple[int, ...], spark: str, colour: bool) -> Text:
    """A sparkline of hidden units, each cell coloured by its level (red +, blue -)."""
    text = Text(no_wrap=True)
    for level, char in zip(levels, spark, strict=True):
        if not colour or level == 0:
            text.append(char, style="dim" if colour else "")
        else:
            palette = POSITIVE if level > 0 else NEGATIVE
            text.append(char, style=palette[min(abs(level), 4) - 1])
    return text


def bar(fraction: float, width: int, char: str = "█") -> str:
    return char * max(0, min(width, round(fraction * width)))


def header(name: str) -> Text:
    """A column label; a trailing > aligns it right, over numbers."""
    if name.endswith(">"):
        return Text(name[:-1], justify="right")
    return Text(name)


def num(text: str, style: str = "") -> Text:
    """A right-aligned table cell."""
    return Text(text, style=style, justify="right")


class InspectScreen(ModalScreen[None]):
    """Four views of the model the provider returns: step-through, score, neighbours, hidden.

    Modal (though it fills the terminal) so that the playground's own keys (t trains, q quits,
    ...) do not act from under it; only Ctrl+C still quits."""

    DEFAULT_CSS = """
    InspectScreen { layout: vertical; background: $background; }
    InspectScreen:ansi { background: ansi_default; }
    InspectScreen #inspect-head { height: 1; background: $panel; }
    InspectScreen #inspect-tabs { width: auto; text-wrap: nowrap; }
    InspectScreen #inspect-model {
        width: 1fr; padding: 0 1; text-align: right; color: $text-muted;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    InspectScreen #inspect-views { height: 1fr; }
    InspectScreen .view { height: 1fr; padding: 0 1; }
    InspectScreen .input-row { height: 1; }
    InspectScreen .input-row Label { width: auto; padding: 0 1 0 0; text-style: bold; }
    InspectScreen .input-row Input { width: 1fr; }
    InspectScreen .info { height: auto; max-height: 3; color: $text-muted; }
    InspectScreen #step-text { height: auto; max-height: 3; }
    InspectScreen DataTable { height: 1fr; scrollbar-size-vertical: 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", tooltip="back to the playground"),
        Binding(
            "f1",
            "view('step')",
            "Step",
            group=VIEW_KEYS,
            tooltip="step-through decoding: pick each next word",
        ),
        Binding(
            "f2",
            "view('score')",
            "Score",
            group=VIEW_KEYS,
            tooltip="score a line: each word's probability, surprisal and rank",
        ),
        Binding(
            "f3",
            "view('near')",
            "Neighbours",
            group=VIEW_KEYS,
            tooltip="the nearest words in the embedding space",
        ),
        Binding(
            "f4",
            "view('hidden')",
            "Hidden",
            group=VIEW_KEYS,
            tooltip="the hidden state after each word",
        ),
        Binding(
            "v",
            "next_view",
            "Next view",
            group=VIEW_KEYS,
            tooltip="the next view (for terminals that keep F1-F4 to themselves)",
        ),
        Binding("1", "pick(1)", "Pick", key_display="1-9", tooltip="pick that candidate"),
        *[Binding(str(n), f"pick({n})", "Pick", show=False) for n in range(2, 10)],
        Binding("s", "sample", "Sample", tooltip="let the sampler pick the next word"),
        Binding(
            "b,backspace", "back", "Back", key_display="b", tooltip="step back over the last word"
        ),
        Binding("g", "sample_line", "Line", tooltip="let the sampler finish the line"),
        Binding(
            "minus",
            "temperature(-0.1)",
            "Temperature -0.1",
            key_display="-",
            group=TEMPERATURE_KEYS,
        ),
        Binding(
            "plus,equals_sign",
            "temperature(0.1)",
            "Temperature +0.1",
            key_display="+",
            group=TEMPERATURE_KEYS,
        ),
        Binding("k", "top_k", "Top-k", tooltip="cycle top-k: off, 5, 10, 20, 40, 100"),
        Binding("p", "top_p", "Top-p", tooltip="cycle top-p: off, 0.95, 0.9, 0.8, 0.6"),
        Binding(
            "slash",
            "focus_input",
            "Type",
            key_display="/",
            tooltip="type a prompt, a line or a word",
        ),
        Binding(
            "r",
            "refresh_model",
            "Refresh",
            tooltip="read the model again (during training: the newest weights)",
        ),
        Binding(
            "m",
            "compare",
            "Compare",
            tooltip="score the line under a second checkpoint too (m or Esc: back)",
        ),
    ]

    def __init__(
        self,
        subject_provider: SubjectProvider,
        settings: SamplerSettings | None = None,
        *,
        view: str = "step",
        checkpoint_folder: Path | None = None,
        name: str | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id)
        self.checkpoint_folder = checkpoint_folder  # where m lists checkpoints (None: default)
        self.compare_subject: Any = None  # model B of the comparison (core.inspection.Subject)
        self.comparison: Any = None  # core.inspection.LineComparison, while comparing
        self.subject_provider = subject_provider
        self.settings = settings or SamplerSettings()
        self.view = view if view in VIEWS else "step"
        self.subject: Any = None
        self.fetching = True  # the provider is being asked (not `loading`: a Widget reactive)
        self.loaded_once = False  # the provider has answered at least once
        self.walk: Any = None  # core.inspection.StepThrough
        self.line_score: Any = None  # core.inspection.LineScore
        self.near: Any = None  # core.inspection.Neighbours
        self.near_word = ""
        self.scored_text = ""

    # -- layout --------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="inspect-head"):
            yield Static("", id="inspect-tabs")
            yield Static("reading the model…", id="inspect-model")
        with ContentSwitcher(initial=f"view-{self.view}", id="inspect-views"):
            with Vertical(id="view-step", classes="view"):
                with Horizontal(classes="input-row"):
                    yield Label("prompt ›")
                    yield InspectField(
                        placeholder="start text, Enter (empty: a new line)",
                        id="step-prompt",
                        compact=True,
                    )
                yield Static("", id="step-text")
                yield Static("", id="step-info", classes="info")
                yield FitTable(id="step-table", cursor_type="row")
            with Vertical(id="view-score", classes="view"):
                with Horizontal(classes="input-row"):
                    yield Label("line ›")
                    yield InspectField(
                        placeholder="a line to score, Enter", id="score-line", compact=True
                    )
                yield Static("", id="score-info", classes="info")
                yield FitTable(id="score-table", cursor_type="row")
            with Vertical(id="view-near", classes="view"):
                with Horizontal(classes="input-row"):
                    yield Label("word ›")
                    yield InspectField(placeholder="a word, Enter", id="near-word", compact=True)
                yield Static("", id="near-info", classes="info")
                yield FitTable(id="near-table", cursor_type="row")
            with Vertical(id="view-hidden", classes="view"):
                yield Static("", id="hidden-info", classes="info")
                yield FitTable(id="hidden-table", cursor_type="row")
        yield KeyBar(id="inspect-keys")

    def on_mount(self) -> None:
        self._show_tabs()
        for table_id, columns in (
            ("step-table", ("#>", "word", "model>", "after filters>", "rank>")),
            ("score-table", SCORE_COLUMNS),
            ("near-table", ("#>", "word", "cosine>", "", "seen>")),
        ):
            self.query_one(f"#{table_id}", DataTable).add_columns(*map(header, columns))
        self._show_hints()
        self._focus_view()
        self._fetch_subject()

    @property
    def colour(self) -> bool:
        return not getattr(self.app, "no_color", False)

    def _table(self, view: str) -> DataTable:
        return self.query_one(f"#{view}-table", DataTable)

    def _static(self, selector: str) -> Static:
        return self.query_one(selector, Static)

    def _show_tabs(self) -> None:
        text = Text(no_wrap=True)
        for n, view in enumerate(VIEWS, 1):
            label = f"F{n} {VIEW_NAMES[view]}"
            if view == self.view:
                text.append(f"[{label}]", style="bold reverse")
            else:
                text.append(f" {label} ", style="dim" if self.colour else "")
            text.append(" ")
        self._static("#inspect-tabs").update(text)

    def _focus_view(self) -> None:
        """The table when the view has something to show, else its text field."""
        if self.view == "step" or self.view == "hidden":
            self._table(self.view).focus()
        elif self.view == "score":
            target = self._table("score") if self.line_score else self.query_one("#score-line")
            target.focus()
        else:
            target = self._table("near") if self.near else self.query_one("#near-word")
            target.focus()

    # -- the model -----------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="inspect-subject", exit_on_error=False)
    def _fetch_subject(self) -> None:
        """Ask the provider (it may copy a live run's weights) and load the tokenizer's
        dictionary, so that nothing slow is left for the UI thread."""
        try:
            subject = self.subject_provider()
            if subject is not None:
                from lyrics_tui.core.tokens import warm_up

                warm_up(subject.tokenizer.kind)
        except LyricsError as exc:
            self.post_message(SubjectReady(None, str(exc)))
            return
        except Exception as exc:
            self.post_message(
                SubjectReady(None, f"could not read the model: {type(exc).__name__}: {exc}")
            )
            return
        self.post_message(SubjectReady(subject))

    def action_refresh_model(self) -> None:
        if self.fetching:
            return
        self.fetching = True
        self._static("#inspect-model").update("reading the model…")
        self._fetch_subject()

    @on(SubjectReady)
    def _on_subject_ready(self, message: SubjectReady) -> None:
        self.fetching = False
        self.loaded_once = True
        if message.error:
            self.notify(message.error, severity="error", timeout=8)
            if self.subject is None:
                self._static("#inspect-model").update("no model")
                self._show_hints()
            else:
                self._static("#inspect-model").update(model_line(self.subject))
            return
        self.subject = message.subject
        if self.subject is None:
            self.walk = self.line_score = self.near = None
            self._static("#inspect-model").update("no model")
            self._show_hints()
            self.refresh_bindings()
            return
        self._static("#inspect-model").update(model_line(self.subject))
        self._rebuild()
        self.refresh_bindings()

    def _rebuild(self) -> None:
        """Redo every view for the (new) subject: the same prompt and picked words, the same
        line scored, the same word looked up."""
        words = [w.text for w in self.walk.picked] if self.walk is not None else []
        prompt = self.walk.prompt if self.walk is not None else ""
        if self._start_walk(prompt, quiet=True):
            try:
                for word in words:
                    self.walk.choose_word(word)
            except LyricsError as exc:
                self.notify(f"stopped replaying the picked words: {exc}", severity="warning")
            self._show_step()
        if self.scored_text:
            self._score(self.scored_text)
        if self.near_word:
            self._neighbours(self.near_word)
        self._show_hidden()

    def _show_hints(self) -> None:
        """What each view shows before it has anything: loading, or no model."""
        hint = NO_MODEL if self.loaded_once else "reading the model…"
        for selector in ("#step-info", "#score-info", "#near-info", "#hidden-info"):
            self._static(selector).update(hint)
        self._static("#step-text").update("")
        for view in VIEWS:
            self._table(view).clear()

    def _need_subject(self) -> bool:
        if self.subject is not None:
            return True
        self.notify(
            "reading the model…" if self.fetching or not self.loaded_once else NO_MODEL,
            severity="warning",
        )
        return False

    # -- bindings: only the keys of the view shown -----------------------------------------
    STEP_ACTIONS: ClassVar[frozenset[str]] = frozenset(
        {"pick", "sample", "back", "temperature", "top_k", "top_p"}
    )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.STEP_ACTIONS:
            return self.view == "step" and self.walk is not None
        if action == "sample_line":
            return self.view in ("step", "hidden") and self.walk is not None
        if action == "focus_input":
            return self.view != "hidden"
        if action == "refresh_model":
            return not self.fetching
        if action == "compare":
            return self.view == "score"
        return True

    def action_view(self, view: str) -> None:
        if view not in VIEWS:
            return
        self.view = view
        self.query_one(ContentSwitcher).current = f"view-{view}"
        self._show_tabs()
        if view == "hidden":
            self._show_hidden()
        self._focus_view()
        self.refresh_bindings()

    def action_next_view(self) -> None:
        self.action_view(VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)])

    def action_close(self) -> None:
        if self.view == "score" and self.compare_subject is not None:
            self._stop_comparing()
            return
        self.dismiss(None)

    def action_focus_input(self) -> None:
        fields = {"step": "#step-prompt", "score": "#score-line", "near": "#near-word"}
        field = fields.get(self.view)
        if field:
            self.query_one(field).focus()

    def action_leave_field(self) -> None:
        self._table(self.view).focus()

    @on(Input.Submitted)
    def _on_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self._need_subject():
            return
        field = event.input.id
        if field == "step-prompt":
            if self._start_walk(event.value):
                self._show_step()
        elif field == "score-line":
            self._score(event.value)
        elif field == "near-word":
            self._neighbours(event.value)
        self._table(self.view).focus()

    @on(DataTable.RowSelected)
    def _on_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row: pick that candidate, or look up that neighbour's neighbours."""
        event.stop()
        key = event.row_key.value or ""
        if event.data_table.id == "step-table" and key.startswith("cand-"):
            self.action_pick(int(key[5:]))
        elif event.data_table.id == "near-table" and key.startswith(("near-", "far-")):
            self._neighbours(key.split("-", 1)[1], by_id=True)

    # -- 1. step-through -------------------------------------------------------------------
    def _candidate_rows(self) -> int:
        """As many candidates as the table has lines for (the view's last count while it is
        hidden)."""
        height = self._table("step").size.height
        if height <= 1:
            return self.walk.top if self.walk is not None else MIN_CANDIDATES
        return max(MIN_CANDIDATES, min(40, height - 1))

    def _start_walk(self, prompt: str, quiet: bool = False) -> bool:
        from lyrics_tui.core.inspection import StepThrough

        seed = self.walk.seed if self.walk is not None else self.settings.seed
        try:
            walk = StepThrough(
                self.subject, replace(self.settings, seed=seed), prompt, top=self._candidate_rows()
            )
        except LyricsError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return False
        self.walk = walk
        if not quiet:
            for warning in walk.warnings:
                self.notify(warning, severity="warning")
        self.refresh_bindings()
        return True

    def _act(self, what: Callable[[], Any]) -> None:
        if self.walk is None:
            return
        try:
            what()
        except LyricsError as exc:
            self.notify(str(exc), severity="error")
            return
        self._show_step()
        if self.view == "hidden":
            self._show_hidden()

    def action_pick(self, number: int) -> None:
        self._act(lambda: self.walk.choose(number))

    def action_sample(self) -> None:
        self._act(self.walk.sample)

    def action_back(self) -> None:
        self._act(self.walk.back)

    def action_sample_line(self) -> None:
        def line() -> None:
            for _ in range(LINE_WORDS_MAX):
                if self.walk.sample().text == NEWLINE:
                    break

        self._act(line)

    def _set_settings(self, **changes: Any) -> None:
        if self.walk is None:
            return
        try:
            self.walk.set_settings(replace(self.walk.settings, **changes))
        except LyricsError as exc:
            self.notify(str(exc), severity="error")
            return
        self.settings = replace(self.settings, **changes)
        self._show_step()

    def action_temperature(self, delta: float) -> None:
        if self.walk is not None:
            t = self.walk.settings.temperature
            self._set_settings(temperature=round(min(TEMPERATURE_MAX, max(0.0, t + delta)), 2))

    def action_top_k(self) -> None:
        if self.walk is not None:
            k = self.walk.settings.top_k
            later = [s for s in TOP_K_STEPS if s > k] if k else list(TOP_K_STEPS[1:])
            self._set_settings(top_k=later[0] if later else 0)

    def action_top_p(self) -> None:
        if self.walk is not None:
            p = self.walk.settings.top_p
            later = [s for s in TOP_P_STEPS if s < p - 1e-9]
            self._set_settings(top_p=later[0] if later else 1.0)

    def _context_text(self) -> Text:
        """The prompt, then the picked words in bold; line ends as ↵; the tail that fits."""
        walk = self.walk
        text = Text()
        if not walk.prompt_tokens and not walk.picked:
            text.append("(line start: nothing read yet)", style="dim")
            return text
        for token in walk.prompt_tokens:
            text.append("↵ " if token == NEWLINE else token)
        for word in walk.picked:
            text.append("↵ " if word.text == NEWLINE else word.text, style="bold underline")
        room = max(20, (self._static("#step-text").size.width or 76) * 2 - 2)
        if cell_len(text.plain) > room:
            while cell_len(text.plain) > room - 1:
                text = text[1:]
            text = Text("…") + text
        return text

    def _show_step(self) -> None:
        walk = self.walk
        if walk is None:
            return
        if walk.top != self._candidate_rows():
            walk.set_top(self._candidate_rows())
        view = walk.current
        self._static("#step-text").update(self._context_text())
        s = view
        settings = (
            f"temperature {s.temperature:.2f} · top-k {s.top_k or 'off'} · "
            f"top-p {f'{s.top_p:.2f}' if s.top_p < 1 else 'off'}"
            + (f" · penalty {s.repetition_penalty:g}" if s.repetition_penalty != 1 else "")
            + f" · seed {walk.seed}"
        )
        self._static("#step-info").update(
            Text(
                f"step {view.index + 1} · entropy {view.entropy_bits:.2f} bits (≈ "
                f"{view.effective_choices:,.1f} equal choices) · {view.survivors:,} of "
                f"{view.vocab_size:,} words survive\n{settings} · <unk> {fmt.prob(view.unk_prob)}, "
                f"never picked"
            )
        )
        table = self._table("step")
        table.clear()
        top_final = max((c.final_prob for c in view.candidates), default=0.0) or 1.0
        bar_width = max(0, min(20, self.size.width - 60))
        for c in view.candidates:
            style = "" if c.survives else "dim"
            word = Text(c.label, style=style)
            final = fmt.prob(c.final_prob)
            if bar_width:
                final = f"{bar(c.final_prob / top_final, bar_width):<{bar_width}} {final:>7}"
            table.add_row(
                num(str(c.number)),
                word,
                num(fmt.prob(c.model_prob), style),
                num(final, style),
                num(f"{c.model_rank:,}", style),
                key=f"cand-{c.number}",
            )

    @on(FitTable.Resized)
    def _on_table_resized(self, message: FitTable.Resized) -> None:
        """Once laid out (and on every resize): as many rows as the table has room for."""
        table_id = message.table.id
        if table_id == "step-table":
            if self.walk is not None and self.walk.top != self._candidate_rows():
                self._show_step()
        elif table_id == "near-table":
            near = self.near
            if (
                near is not None
                and self.subject is not None
                and message.table.size.height > 1
                and self.neighbour_counts() != (len(near.neighbours), len(near.farthest))
            ):
                self._neighbours(self.near_word)
        elif table_id == "hidden-table" and self.view == "hidden":
            self._show_hidden()

    # -- 2. score a line -------------------------------------------------------------------
    def _score(self, text: str) -> None:
        from lyrics_tui.core.inspection import compare_lines, score_line

        text_read = text.replace("\\n", "\n")
        try:
            score = score_line(self.subject, text_read)
        except LyricsError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        self.line_score, self.scored_text = score, text
        self.comparison = None
        if self.compare_subject is not None:
            try:
                self.comparison = compare_lines(self.subject, self.compare_subject, text_read)
            except LyricsError as exc:
                self.notify(str(exc), severity="error", timeout=8)
            except Exception as exc:
                self.notify(
                    f"could not compare: {type(exc).__name__}: {exc}", severity="error", timeout=8
                )
        if self.comparison is not None:
            self._draw_comparison(self.comparison)
        else:
            self._draw_score(score)

    def _draw_score(self, score: Any) -> None:
        known = (
            f" · {fmt.ppl(score.known_perplexity)} over known words"
            if score.unknown and score.known_perplexity is not None
            else ""
        )
        unknown = (
            f" · unknown (scored as <unk>): {' '.join(score.unknown)}" if score.unknown else ""
        )
        self._static("#score-info").update(
            Text(
                f"perplexity {fmt.ppl(score.perplexity)}{known} · {score.total_bits:.1f} bits over "
                f"{len(score.words)} tokens · {score.bits_per_char:.2f} bits/char{unknown}"
            )
        )
        table = self._score_table(SCORE_COLUMNS)
        most = max((w.surprisal_bits for w in score.words), default=1.0) or 1.0
        bar_width = max(0, min(16, self.size.width - 64))
        for w in score.words:
            word = Text(w.label)
            if not w.known:
                word.append(" (unknown)", style="bold red" if self.colour else "bold")
            bits = f"{w.surprisal_bits:5.2f}"
            if bar_width:
                bits = f"{bits} {bar(w.surprisal_bits / most, bar_width)}"
            table.add_row(
                num(str(w.position + 1)),
                word,
                num(fmt.prob(w.prob)),
                bits,
                num(f"{w.rank:,}"),
                f"{w.top_guess_label} {fmt.prob(w.top_prob)}",
                key=f"word-{w.position}",
            )

    def _score_table(self, columns: tuple[str, ...]) -> DataTable:
        """The score table, emptied, with these columns."""
        table = self._table("score")
        if tuple(c.label.plain for c in table.columns.values()) != tuple(
            c.rstrip(">") for c in columns
        ):
            table.clear(columns=True)
            table.add_columns(*map(header, columns))
        else:
            table.clear()
        return table

    # -- 2b. compare two checkpoints on the line -------------------------------------------
    def action_compare(self) -> None:
        """m: pick a second checkpoint and compare; m again: back to the single model."""
        if self.compare_subject is not None:
            self._stop_comparing()
            return
        if not self._need_subject():
            return
        if self.line_score is None:
            self.notify(
                "score a line first (type it, Enter), then m compares it", severity="warning"
            )
            return
        from lyrics_tui.core.paths import checkpoint_dir, list_checkpoints
        from lyrics_tui.tui.screens import LoadScreen

        folder = self.checkpoint_folder or checkpoint_dir()
        start = folder if folder.is_dir() else Path.cwd()

        def chosen(path: str | None) -> None:
            if path:
                self._static("#score-info").update(f"reading {Path(path).name}…")
                self._load_compare(path)

        self.app.push_screen(LoadScreen(list_checkpoints(folder), start), chosen)

    @work(thread=True, exclusive=True, group="inspect-compare", exit_on_error=False)
    def _load_compare(self, path: str) -> None:
        from lyrics_tui.core.inspection import load_subject

        try:
            subject = load_subject(path)
            from lyrics_tui.core.tokens import warm_up

            warm_up(subject.tokenizer.kind)
        except LyricsError as exc:
            self.post_message(CompareReady(None, str(exc)))
            return
        except Exception as exc:
            self.post_message(
                CompareReady(None, f"could not read {path}: {type(exc).__name__}: {exc}")
            )
            return
        self.post_message(CompareReady(subject))

    @on(CompareReady)
    def _on_compare_ready(self, message: CompareReady) -> None:
        if message.error or message.subject is None:
            self.notify(message.error or "no model to compare with", severity="error", timeout=8)
            if self.line_score is not None:
                self._draw_score(self.line_score)
            return
        self.compare_subject = message.subject
        if self.scored_text:
            self._score(self.scored_text)
        if self.comparison is None:  # the comparison failed: back to the single model
            self._stop_comparing()
        elif self.comparison.note:
            self.notify(self.comparison.note, severity="warning", timeout=8)

    def _stop_comparing(self) -> None:
        self.compare_subject = self.comparison = None
        if self.line_score is not None:
            self._draw_score(self.line_score)

    def _draw_comparison(self, cmp: Any) -> None:
        a, b = cmp.a, cmp.b
        verdict = {
            "a": "A reads it better",
            "b": "B reads it better",
            "same": "both read it alike",
        }[cmp.better]
        self._static("#score-info").update(
            Text(
                f"A {Path(a.label).name or 'model'} · B {Path(b.label).name or 'model'}\n"
                f"perplexity A {fmt.ppl(a.perplexity)} · B {fmt.ppl(b.perplexity)} · bits/char "
                f"A {a.bits_per_char:.2f} · B {b.bits_per_char:.2f} — {verdict}"
                + (f"\n{cmp.note}" if cmp.note else " · m or Esc: one model")
            )
        )
        table = self._score_table(COMPARE_COLUMNS)
        for w in cmp.words:
            word = Text(w.label)
            if not (w.known_a and w.known_b):
                word.append(" (unknown)", style="bold red" if self.colour else "bold")
            better = "B" if w.delta_bits < 0 else "A" if w.delta_bits > 0 else "="
            table.add_row(
                num(str(w.position + 1)),
                word,
                num(f"{w.bits_a:.2f}"),
                num(f"{w.bits_b:.2f}"),
                num(f"{w.delta_bits:+.2f}"),
                better,
                num(f"{w.rank_a:,}"),
                num(f"{w.rank_b:,}"),
                key=f"word-{w.position}",
            )

    # -- 3. neighbours ---------------------------------------------------------------------
    def neighbour_counts(self) -> tuple[int, int]:
        """(nearest, farthest) shown: as many as the table has room for."""
        height = self._table("near").size.height
        rows = max(8, height - 1) if height > 1 else 14
        farthest = 3 if rows < 24 else 5
        return max(5, rows - farthest - 1), farthest

    def _neighbours(self, word: str, by_id: bool = False) -> None:
        from lyrics_tui.core.inspection import neighbours

        if by_id:
            word = self.subject.vocab.tokens[int(word)]
        k, farthest = self.neighbour_counts()
        try:
            result = neighbours(self.subject, word, k, farthest)
        except LyricsError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        self.near, self.near_word = result, result.word
        self.query_one("#near-word", Input).value = result.label
        self._static("#near-info").update(
            Text(
                f"nearest to {result.label} by cosine similarity · seen {result.count:,} times · "
                f"vector length {result.norm:.2f} · Enter on a row looks that word up · r refreshes"
            )
        )
        table = self._table("near")
        table.clear()
        bar_width = max(8, min(30, self.size.width - 40))
        for kind, rows in (("near", result.neighbours), ("far", result.farthest)):
            if kind == "far" and rows:
                table.add_row(
                    "",
                    Text("…", style="dim"),
                    "",
                    Text("least similar", style="dim"),
                    "",
                    key="sep",
                )
            for n in rows:
                shape = bar(n.cosine, bar_width) if n.cosine > 0 else bar(-n.cosine, bar_width, "-")
                table.add_row(
                    num(f"{n.rank:,}"),
                    n.label,
                    num(f"{n.cosine:+.3f}"),
                    shape,
                    num(f"{n.count:,}"),
                    key=f"{kind}-{n.token_id}",
                )

    # -- 4. hidden state -------------------------------------------------------------------
    def strip_width(self, cell: str, hidden: int, steps: tuple[Any, ...] = ()) -> int:
        """Cells per strip: what the table's width leaves after the other columns (each
        column is padded by one cell on either side; one cell for the scrollbar)."""
        width = self._table("hidden").size.width or max(40, self.size.width - 2)
        strips = 2 if cell == "lstm" else 1
        words = max((cell_len(s.label) for s in steps), default=4)
        index = len(str(max((s.index for s in steps), default=0)))
        fixed = (index + 2) + (max(4, words) + 2) + (5 + 2) + (5 + 2) + 2 * strips + 1
        if strips == 2:
            c_norm = max((len(f"{s.c.norm:.2f}") for s in steps if s.c is not None), default=5)
            fixed += max(3, c_norm) + 2
        return max(8, min(hidden, (width - fixed) // strips))

    def _show_hidden(self) -> None:
        if self.walk is None or self.subject is None:
            return
        steps = self.walk.hidden_steps
        config = self.subject.stepper.config
        width = self.strip_width(config.cell, config.hidden, steps)
        lstm = config.cell == "lstm"
        squeeze = (
            f"each cell the strongest of {config.hidden / width:.1f} units"
            if width < config.hidden
            else "one cell per unit"
        )
        hint = "" if self.walk.picked else " · pick words in F1, or g samples a line"
        self._static("#hidden-info").update(
            Text(
                f"{config.cell.upper()} layer {config.layers}, {config.hidden} units after each "
                "word "
                f"read · ▁ = −1 … █ = +1, {squeeze}"
                + (" · c scaled to its largest |value|" if lstm else "")
                + " · picked words bold"
                + hint
            )
        )
        table = self._table("hidden")
        table.clear(columns=True)
        columns = ["#>", "word", "|h|>", "moved>", "h_t"] + (["|c|>", "c_t"] if lstm else [])
        table.add_columns(*map(header, columns))
        for step in steps:
            word = Text(step.label, style="bold" if step.generated else "")
            row = [
                num(str(step.index)),
                word,
                num(f"{step.h.norm:.2f}"),
                num(f"{step.change:.2f}"),
                heat_strip(step.h.binned_levels(width), step.h.spark_binned(width), self.colour),
            ]
            if lstm and step.c is not None:
                row += [
                    num(f"{step.c.norm:.2f}"),
                    heat_strip(
                        step.c.binned_levels(width), step.c.spark_binned(width), self.colour
                    ),
                ]
            table.add_row(*row, key=f"h-{step.index}")
        table.move_cursor(row=len(steps) - 1)
