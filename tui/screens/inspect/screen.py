"""Inside the network, in the playground: the screen that routes between the five inspection
views (step.py, score.py, neighbours.py, hidden.py; issue 5; cells.py, issue 20).

A view over core/inspection.py: every number on this screen is computed there. The screen asks a
zero-argument `subject_provider` for the model to look at (a core.inspection.Subject, or None when
there is no model yet). The provider runs in a thread worker, because building a Subject from a
live run copies its weights between two optimiser steps; r asks again, so during training the
views follow the weights as they are trained. Everything else is a few milliseconds of numpy and
runs in the UI thread.

Keys: F1-F5 (or v) switch views; digits are for picking candidates in the step-through, so
they cannot switch views there. One rule for input in every view (common.InspectView): a view
opens with the keys on its table, / puts them in its text field (as / does in the main
screen), Enter or Esc gives them back; Esc elsewhere closes the screen. F1 starts from the
playground's start text. [ and ] set song memory's weight λ (M: off/on) for the step and score
views, starting from the playground's setting (tui/memory.py). In the Score view m compares
the line under a second checkpoint (core.inspection.compare_lines); m or Esc goes back to the
single model. In the Cells view Esc first drops a selected span.

To add a view: a widget in a file of its own (an InspectView naming its FIELD and TABLE, with
classes="view" and an id "view-NAME", holding its data), a name in VIEWS and VIEW_NAMES, an
entry in `self.views`, a binding in VIEW_KEYS, and the routing of its keys below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import ContentSwitcher, DataTable, Input, Static

from lyrics_tui.core.errors import LyricsError
from lyrics_tui.core.sampling import SamplerSettings
from lyrics_tui.tui.keys import memory_bindings, temperature_bindings
from lyrics_tui.tui.memory import MemoryChoice
from lyrics_tui.tui.screens.inspect.cells import CellsView
from lyrics_tui.tui.screens.inspect.common import (
    NO_MODEL,
    InspectView,
    SubjectProvider,
    model_line,
)
from lyrics_tui.tui.screens.inspect.hidden import HiddenView
from lyrics_tui.tui.screens.inspect.neighbours import NeighboursView
from lyrics_tui.tui.screens.inspect.score import ScoreView
from lyrics_tui.tui.screens.inspect.step import StepView
from lyrics_tui.tui.widgets.key_bar import KeyBar

if TYPE_CHECKING:
    from lyrics_tui.core.inspection.subject import Subject

VIEWS = ("step", "score", "near", "hidden", "cells")
VIEW_NAMES = {
    "step": "Step",
    "score": "Score",
    "near": "Neighbours",
    "hidden": "Hidden",
    "cells": "Cells",
}
VIEW_KEYS = Binding.Group("Views")
STEP_ACTIONS = frozenset({"pick", "sample", "back", "temperature", "top_k", "top_p"})
MEMORY_ACTIONS = frozenset({"memory", "memory_toggle"})


@dataclass
class SubjectReady(Message):
    """The provider answered (subject None: no model yet; error: one line for the user)."""

    subject: Subject | None
    error: str = ""


class InspectScreen(ModalScreen[None]):
    """Five views of the model the provider returns: step-through, score, neighbours, hidden,
    cells.

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
    InspectScreen #step-info { max-height: 4; }
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
            "f5",
            "view('cells')",
            "Cells",
            group=VIEW_KEYS,
            tooltip="one hidden unit over a whole text, and the units that fire on a pattern",
        ),
        Binding(
            "v",
            "next_view",
            "Next view",
            group=VIEW_KEYS,
            tooltip="the next view (for terminals that keep F1-F5 to themselves)",
        ),
        Binding("1", "pick(1)", "Pick", key_display="1-9", tooltip="pick that candidate"),
        *[Binding(str(n), f"pick({n})", "Pick", show=False) for n in range(2, 10)],
        Binding("s", "sample", "Sample", tooltip="let the sampler pick the next word"),
        Binding(
            "b,backspace", "back", "Back", key_display="b", tooltip="step back over the last word"
        ),
        Binding("g", "sample_line", "Line", tooltip="let the sampler finish the line"),
        *temperature_bindings(),
        *memory_bindings(),
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
        memory: MemoryChoice | None = None,
        *,
        view: str = "step",
        prompt: str = "",
        checkpoint_folder: Path | None = None,
        name: str | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id)
        self.subject_provider = subject_provider
        self.settings = settings or SamplerSettings()
        # the playground's memory control; without it, the settings' cache at its λ (None: off,
        # the keys then start from the model's fit)
        cache = self.settings.cache
        self.memory = memory or MemoryChoice(cache, cache.lam if cache is not None else 0.0, True)
        self.view = view if view in VIEWS else "step"
        self.subject: Subject | None = None
        self.fetching = True  # the provider is being asked (not `loading`: a Widget reactive)
        self.loaded_once = False  # the provider has answered at least once
        # the views, each in a file of its own, holding what it shows
        self.step = StepView(self.settings, prompt, id="view-step", classes="view")
        self.score = ScoreView(checkpoint_folder, id="view-score", classes="view")
        self.near = NeighboursView(id="view-near", classes="view")
        self.hidden = HiddenView(id="view-hidden", classes="view")
        self.cells = CellsView(id="view-cells", classes="view")
        self.views: dict[str, InspectView] = {
            "step": self.step,
            "score": self.score,
            "near": self.near,
            "hidden": self.hidden,
            "cells": self.cells,
        }

    def compose(self) -> ComposeResult:
        with Horizontal(id="inspect-head"):
            yield Static("", id="inspect-tabs")
            yield Static("reading the model…", id="inspect-model")
        with ContentSwitcher(initial=f"view-{self.view}", id="inspect-views"):
            yield from self.views.values()
        yield KeyBar(id="inspect-keys")

    def on_mount(self) -> None:
        self._show_tabs()
        self._show_hints()
        self._focus_view()
        self._fetch_subject()

    def _model_line(self, subject: Subject) -> str:
        width = self.query_one("#inspect-model").content_size.width
        return model_line(subject, width)

    def on_resize(self) -> None:
        if self.subject is not None and not self.fetching:
            self.query_one("#inspect-model", Static).update(self._model_line(self.subject))

    def table(self, view: str) -> Widget:
        """The widget that holds a view's keys (a table; the Cells view's text)."""
        return self.query_one(f"#{self.views[view].TABLE}")

    def _show_tabs(self) -> None:
        colour = not self.app.no_color
        text = Text(no_wrap=True)
        for n, view in enumerate(VIEWS, 1):
            label = f"F{n} {VIEW_NAMES[view]}"
            if view == self.view:
                text.append(f"[{label}]", style="bold reverse")
            else:
                text.append(f" {label} ", style="dim" if colour else "")
            text.append(" ")
        self.query_one("#inspect-tabs", Static).update(text)

    def _focus_view(self) -> None:
        """Every view opens with the keys on its table; / gives them to its text field."""
        self.table(self.view).focus()

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
        self.query_one("#inspect-model", Static).update("reading the model…")
        self._fetch_subject()

    @on(SubjectReady)
    def _on_subject_ready(self, message: SubjectReady) -> None:
        self.fetching = False
        self.loaded_once = True
        header = self.query_one("#inspect-model", Static)
        if message.error:
            self.notify(message.error, severity="error", timeout=8)
            header.update(
                self._model_line(self.subject) if self.subject is not None else "no model"
            )
            if self.subject is None:
                self._show_hints()
            return
        self.subject = message.subject
        for view in self.views.values():
            view.subject = self.subject
        if self.subject is not None:  # the fit of the weights read (a live run's may move on)
            fitted = self.subject.fitted_cache or self.memory.fitted
            note = self.memory.note or self.subject.resolve_cache().note
            self.memory = self.memory.for_model(fitted, True, note)
            self.step.memory = self.score.memory = self.memory
        if self.subject is None:
            self.step.walk = self.score.line_score = self.near.result = None
            header.update("no model")
            self._show_hints()
        else:
            header.update(self._model_line(self.subject))
            # every view again over the new weights: the same words picked, line, word
            self.step.rebuild()
            self.score.rebuild()
            self.near.rebuild()
            self.hidden.show(self.step.walk)
            self.cells.rebuild()
            if self.view == "cells":
                self.cells.open()
        self.refresh_bindings()

    def _show_hints(self) -> None:
        """What each view shows before it has anything: loading, or no model."""
        hint = NO_MODEL if self.loaded_once else "reading the model…"
        for view in self.views.values():
            view.show_hint(hint)

    def _need_subject(self) -> bool:
        if self.subject is not None:
            return True
        self.notify(
            "reading the model…" if self.fetching or not self.loaded_once else NO_MODEL,
            severity="warning",
        )
        return False

    # -- keys: only those of the view shown ------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        walking = self.step.walk is not None
        if action in STEP_ACTIONS:
            return self.view == "step" and walking
        if action in MEMORY_ACTIONS:
            return self.view in ("step", "score") and self.subject is not None
        if action == "sample_line":
            return self.view in ("step", "hidden") and walking
        if action == "focus_input":
            return self.views[self.view].FIELD is not None
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
            self.hidden.show(self.step.walk)
        if view == "cells":
            self.cells.open()
        self._focus_view()
        self.refresh_bindings()

    def action_next_view(self) -> None:
        self.action_view(VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)])

    def action_close(self) -> None:
        if self.view == "score" and self.score.compare_subject is not None:
            self.score.stop_comparing()
            return
        if self.view == "cells" and self.cells.drop_selection():
            return
        self.dismiss(None)

    def action_focus_input(self) -> None:
        field = self.views[self.view].FIELD
        if field is not None:
            self.query_one(f"#{field}").focus()

    def action_leave_field(self) -> None:
        self.table(self.view).focus()

    def _walked(self, moved: Callable[[], bool]) -> None:
        """A step of the walk; the hidden view follows it when shown."""
        if moved() and self.view == "hidden":
            self.hidden.show(self.step.walk)

    def action_pick(self, number: int) -> None:
        self._walked(lambda: self.step.pick(number))

    def action_sample(self) -> None:
        self._walked(self.step.sample)

    def action_back(self) -> None:
        self._walked(self.step.back)

    def action_sample_line(self) -> None:
        self._walked(self.step.sample_line)

    def action_temperature(self, delta: float) -> None:
        self.step.nudge_temperature(delta)

    def action_memory(self, delta: float) -> None:
        self._set_memory(self.memory.nudged(delta))

    def action_memory_toggle(self) -> None:
        self._set_memory(self.memory.toggled())

    def _set_memory(self, memory: MemoryChoice) -> None:
        """Song memory's weight for the step and score views (both redrawn)."""
        if memory.fitted is None:
            self.notify(memory.note or "this model has no fitted song memory", severity="warning")
            return
        self.memory = memory
        self.step.set_memory(memory)
        self.score.set_memory(memory)

    def action_top_k(self) -> None:
        self.step.next_top_k()

    def action_top_p(self) -> None:
        self.step.next_top_p()

    def action_compare(self) -> None:
        if self.score.compare_subject is not None or self._need_subject():
            self.score.toggle_comparison()

    @on(Input.Submitted)
    def _on_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self._need_subject():
            return
        field = event.input.id
        if field == "step-prompt":
            if self.step.start(event.value):
                self.step.show()
        elif field == "score-line":
            self.score.score(event.value)
        elif field == "near-word":
            self.near.look_up(event.value)
        elif field == "cells-text":
            self.cells.read_input(event.value)
        self.table(self.view).focus()

    @on(DataTable.RowSelected)
    def _on_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row: pick that candidate, or look up that neighbour's neighbours."""
        event.stop()
        key = event.row_key.value or ""
        if event.data_table.id == "step-table" and key.startswith("cand-"):
            self.action_pick(int(key[5:]))
        elif event.data_table.id == "near-table" and key.startswith(("near-", "far-")):
            self.near.look_up(key.split("-", 1)[1], by_id=True)
