"""The playground's three areas: training panel, settings form, prompt pane.

Views only: they show numbers core/ computed and hand the user's input back as plain values.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static

from lyrics_tui.core.config import CELLS, PRESETS, resolve_settings
from lyrics_tui.core.errors import SettingsError
from lyrics_tui.core.sampling import SamplerSettings
from lyrics_tui.tui import format as fmt

# -- training panel ----------------------------------------------------------------------------
TABLE_HEADER = " ep  train    val     ppl tok/s  time"


def epoch_row(e: dict[str, Any]) -> str:
    val = e.get("val_loss")
    return (
        f"{e['epoch']:3d} {e['train_loss']:6.3f} "
        f"{(f'{val:6.3f}' if val is not None else '     -')} {fmt.ppl(e.get('val_ppl')):>7} "
        f"{fmt.rate(e.get('tokens_per_s', 0.0)):>5} {fmt.duration(e.get('elapsed_s')):>5}"
    )


class ProgressRow(Widget):
    """One line: epoch, a bar, and core's numbers. Repainted in place (no layout pass), so
    ten updates a second during training cost the UI thread almost nothing."""

    DEFAULT_CSS = """
    ProgressRow { height: 1; padding: 0 1; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._state: tuple[str, float, float, str] = ("epoch -", 0.0, 1.0, "")

    def show(self, epoch_text: str, done: float, total: float, label: str) -> None:
        state = (epoch_text, float(done), float(max(total, 1)), label)
        if state != self._state:
            self._state = state
            self.refresh()

    def render(self) -> Text:
        epoch_text, done, total, label = self._state
        width = self.content_size.width or 60
        fraction = min(1.0, max(0.0, done / total))
        percent = f"{fraction:4.0%}"
        bar_width = max(4, width - cell_len(epoch_text) - cell_len(label) - len(percent) - 4)
        filled = round(bar_width * fraction)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(epoch_text + " ")
        text.append("━" * filled, style="bold")
        text.append(
            "╺" + "━" * max(0, bar_width - filled - 1) if filled < bar_width else "", style="dim"
        )
        text.append(f" {percent}")
        if label:
            text.append(f" {label}")
        return text


class TrainingPanel(Vertical):
    def compose(self) -> ComposeResult:
        with Horizontal(id="train-top"):
            # the plot (plotext) is mounted just after the first frame: see mount_plot
            yield Static("", id="loss-plot-slot")
            with Vertical(id="epoch-box"):
                yield Static(TABLE_HEADER, id="epoch-header")
                with VerticalScroll(id="epoch-scroll"):
                    yield Static("", id="epoch-table")
        yield ProgressRow(id="progress-row")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._rows: list[dict[str, Any]] = []
        self.plot: Any = None

    def on_mount(self) -> None:
        self.border_title = "Training · loss per epoch (nats/token)"
        self.query_one("#epoch-scroll").can_focus = True

    async def mount_plot(self) -> None:
        if self.plot is not None:
            return
        from lyrics_tui.tui.plot import LossPlot

        self.plot = LossPlot(id="loss-plot")
        slot = self.query_one("#loss-plot-slot")
        await self.query_one("#train-top").mount(self.plot, before=slot)
        await slot.remove()
        self.plot.set_history(self._rows)

    def set_history(self, rows: list[dict[str, Any]]) -> None:
        self._rows = list(rows)
        self.query_one("#epoch-table", Static).update("\n".join(epoch_row(r) for r in rows))
        scroll = self.query_one("#epoch-scroll", VerticalScroll)
        self.call_after_refresh(scroll.scroll_end, animate=False)
        if self.plot is not None:
            self.plot.set_history(self._rows)

    def set_progress(self, epoch_text: str, done: float, total: float, label: str) -> None:
        self.query_one(ProgressRow).show(epoch_text, done, total, label)


# -- settings ----------------------------------------------------------------------------------
# (field, label, type): blank fields take the preset's value (shown as placeholder).
MODEL_FIELDS = [
    ("embed", "embed", int),
    ("hidden", "hidden", int),
    ("layers", "layers", int),
    ("dropout", "dropout", float),
]
TRAIN_FIELDS = [
    ("epochs", "epochs", int),
    ("lr", "lr", float),
    ("batch_size", "batch", int),
    ("bptt", "bptt", int),
]
SAMPLER_FIELDS = [
    ("top_k", "top-k", int, "0"),
    ("top_p", "top-p", float, "1.0"),
    ("max_tokens", "length", int, "100"),
    ("seed", "seed", int, "random"),
    ("pace_ms", "pace ms", int, "30"),
]
_SAMPLER = SamplerSettings()
SAMPLER_DEFAULTS = {
    "top_k": _SAMPLER.top_k,
    "top_p": _SAMPLER.top_p,
    "max_tokens": _SAMPLER.max_tokens,
    "seed": _SAMPLER.seed,
    "pace_ms": 30,  # a pause between tokens, so that they can be watched arriving
}


def parse_field(label: str, text: str, kind: type) -> Any:
    text = text.strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise SettingsError(f"{label}: {text!r} is not {what}") from None


class SettingsPanel(VerticalScroll):
    """Training settings (locked while a run is active) and sampler settings (always live)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.leave_field", "Done")]

    def __init__(
        self,
        corpus: str,
        preset: str,
        model_values: dict[str, Any],
        train_values: dict[str, Any],
        sampler_values: dict[str, Any],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._corpus = corpus
        self._preset = preset if preset in PRESETS else "default"
        self._model_values = model_values
        self._train_values = train_values
        self._sampler_values = sampler_values
        self._filled = False  # fill() has been called
        self._form_ready = False  # ... and the form is mounted: read and write its widgets
        self._mounted = asyncio.Event()
        self._locked = False

    def compose(self) -> ComposeResult:
        return []

    @property
    def filled(self) -> bool:
        return self._filled

    async def fill(self) -> None:
        """Build the form. The app calls this just after the first frame: the form is the
        largest part of the screen's widget tree and is hidden at 80 columns anyway."""
        if self._filled:
            await self._mounted.wait()  # a second caller waits for the first one's form
            return
        self._filled = True
        await self.mount_all(list(self._form()))
        self._form_ready = True
        self._mounted.set()
        # what changed while the form was being mounted
        self.query_one("#set-corpus", Input).value = self._corpus
        self.query_one("#train-settings").disabled = self._locked
        self._show_preset(self._preset)

    def _form(self) -> ComposeResult:
        yield Label("Training · set before a run", classes="section")
        rows = [
            Horizontal(
                Label("corpus", classes="field-label"),
                Input(self._corpus, id="set-corpus", compact=True),
                classes="field",
            ),
            Horizontal(
                Label("preset", classes="field-label"),
                Select(
                    [(p, p) for p in PRESETS],
                    value=self._preset,
                    allow_blank=False,
                    id="set-preset",
                    compact=True,
                ),
                classes="field",
            ),
            Horizontal(
                Label("cell", classes="field-label"),
                Select(
                    [(c, c) for c in CELLS],
                    prompt="preset",
                    value=self._model_values.get("cell")
                    if self._model_values.get("cell") in CELLS
                    else Select.NULL,
                    id="set-cell",
                    compact=True,
                ),
                classes="field",
            ),
        ]
        rows += [
            self._field(name, label, self._model_values.get(name))
            for name, label, _ in MODEL_FIELDS
        ]
        rows += [
            self._field(name, label, self._train_values.get(name))
            for name, label, _ in TRAIN_FIELDS
        ]
        yield Vertical(*rows, id="train-settings", disabled=self._locked)
        yield Label("Sampler · for the next generation", classes="section")
        for name, label, _, placeholder in SAMPLER_FIELDS:
            yield self._field(name, label, self._sampler_values.get(name), placeholder)

    def _field(self, name: str, label: str, value: Any, placeholder: str = "") -> Horizontal:
        return Horizontal(
            Label(label, classes="field-label"),
            Input(
                "" if value is None else str(value),
                placeholder=placeholder,
                id=f"set-{name}",
                compact=True,
            ),
            classes="field",
        )

    def on_mount(self) -> None:
        self.border_title = "Settings"

    def _show_preset(self, preset: str) -> None:
        try:
            model, train = resolve_settings(preset)
        except SettingsError:
            return
        for name, _, _ in MODEL_FIELDS:
            self.query_one(f"#set-{name}", Input).placeholder = f"{getattr(model, name)} (preset)"
        for name, _, _ in TRAIN_FIELDS:
            self.query_one(f"#set-{name}", Input).placeholder = f"{getattr(train, name)} (preset)"
        self.query_one("#set-cell", Select).prompt = f"{model.cell} (preset)"

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "set-preset" and isinstance(event.value, str):
            self._show_preset(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.screen.focus_next()

    def lock_training(self, locked: bool) -> None:
        self._locked = locked
        if self._form_ready:
            self.query_one("#train-settings").disabled = locked

    def _text(self, name: str, initial: Any) -> str:
        if self._form_ready:
            return self.query_one(f"#set-{name}", Input).value
        return "" if initial is None else str(initial)

    @property
    def corpus(self) -> str:
        return self._text("corpus", self._corpus).strip()

    def set_corpus(self, corpus: str) -> None:
        """Show another corpus in the form (a loaded checkpoint's own)."""
        self._corpus = corpus
        if self._form_ready:
            self.query_one("#set-corpus", Input).value = corpus

    def read_training(self) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """(preset, model overrides, train overrides); SettingsError names a malformed field."""
        if not self._form_ready:
            preset = self._preset
            model = {"cell": self._model_values.get("cell")}
            model.update(
                {
                    n: parse_field(label, self._text(n, self._model_values.get(n)), k)
                    for n, label, k in MODEL_FIELDS
                }
            )
            train = {
                n: parse_field(label, self._text(n, self._train_values.get(n)), k)
                for n, label, k in TRAIN_FIELDS
            }
            return preset, self._untie(preset, model), {**self._hidden_train(), **train}
        preset = str(self.query_one("#set-preset", Select).value)
        cell = self.query_one("#set-cell", Select).value
        model = {"cell": cell if isinstance(cell, str) else None}
        for name, label, kind in MODEL_FIELDS:
            model[name] = parse_field(label, self.query_one(f"#set-{name}", Input).value, kind)
        train = self._hidden_train()
        for name, label, kind in TRAIN_FIELDS:
            train[name] = parse_field(label, self.query_one(f"#set-{name}", Input).value, kind)
        return str(preset), self._untie(str(preset), model), train

    def _hidden_train(self) -> dict[str, Any]:
        """Training settings given at launch that the form has no field for (threads,
        precision, ...): they pass through unchanged."""
        shown = {name for name, _, _ in TRAIN_FIELDS}
        return {k: v for k, v in self._train_values.items() if k not in shown and v is not None}

    @staticmethod
    def _untie(preset: str, model: dict[str, Any]) -> dict[str, Any]:
        """The form has no weight-tying field: a preset that ties input and output embeddings
        (needs embed == hidden) is untied when the sizes given differ."""
        if model.get("embed") is not None or model.get("hidden") is not None:
            model_cfg, _ = resolve_settings(preset)
            embed = model.get("embed") or model_cfg.embed
            hidden = model.get("hidden") or model_cfg.hidden
            if model_cfg.tie_weights and embed != hidden:
                model["tie_weights"] = False
        return model

    def read_sampler(self) -> dict[str, Any]:
        values: dict[str, Any] = dict(SAMPLER_DEFAULTS)
        for name, label, kind, _ in SAMPLER_FIELDS:
            parsed = parse_field(label, self._text(name, self._sampler_values.get(name)), kind)
            if parsed is not None:
                values[name] = parsed
        if values["pace_ms"] < 0 or values["pace_ms"] > 5000:
            raise SettingsError("pace ms must be between 0 and 5000")
        return values


# -- prompt pane -------------------------------------------------------------------------------
class PromptInput(Input):
    """The start text. Up/Down change the temperature here too (letters are for typing)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "app.temperature(0.1)", "Temperature +0.1", show=False),
        Binding("down", "app.temperature(-0.1)", "Temperature -0.1", show=False),
        Binding("escape", "app.leave_field", "Done"),
    ]


class PromptPane(Vertical):
    def compose(self) -> ComposeResult:
        with Horizontal(id="prompt-row"):
            yield Label("start ›", id="prompt-label")
            yield PromptInput(
                placeholder="a start word, then Enter (empty: a new line)",
                id="prompt",
                compact=True,
            )
        yield Static("", id="sampler-line")
        with VerticalScroll(id="output-scroll"):
            yield Static("", id="output")

    def on_mount(self) -> None:
        self.border_title = "Generate"
        self.query_one("#output-scroll").can_focus = True

    def show_sampler(self, temperature: float, sampler: dict[str, Any], seed: int | None) -> None:
        top_k = sampler.get("top_k") or 0
        top_p = sampler.get("top_p", 1.0)
        parts = [
            f"temperature {temperature:.2f}",
            f"top-k {top_k if top_k else 'off'}",
            f"top-p {top_p:.2f}" if top_p < 1 else "top-p off",
            f"length {sampler.get('max_tokens', 100)}",
            f"seed {seed if seed is not None else '-'}",
        ]
        self.query_one("#sampler-line", Static).update(Text(" · ".join(parts)))

    def show_output(self, prompt_text: str, generated: list[str], note: str = "") -> None:
        text = Text()
        text.append(prompt_text, style="bold underline")
        text.append("".join(generated))
        if note:
            text.append(
                ("\n" if text.plain and not text.plain.endswith("\n") else "") + note,
                style="dim italic",
            )
        self.query_one("#output", Static).update(text)
        scroll = self.query_one("#output-scroll", VerticalScroll)
        self.call_after_refresh(scroll.scroll_end, animate=False)
