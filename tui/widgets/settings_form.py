"""The settings form: training settings (locked while a run is active) and sampler settings
(always live). It holds what was typed and hands it back as plain values; core checks them
(core/settings.py, the table --help is made from too). A field is checked as it is typed (marked
when out of range), and when it is submitted (Enter) or the form closed: an error names the
field by its label and keeps the keys there."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Select

from lyrics_tui.core.config import CELLS, PRESETS, resolve_settings
from lyrics_tui.core.corpus import bundled_corpus, corpus_settings
from lyrics_tui.core.errors import LyricsError, SettingsError
from lyrics_tui.core.settings import MODEL, PACE_MS_MAX, SAMPLER, SONG_LINES, TRAIN
from lyrics_tui.tui.widgets.corpus_picker import (
    CorpusSuggester,
    corpus_about,
    picker_options,
    recent_corpora,
)

if TYPE_CHECKING:
    from lyrics_tui.core.resume import ContinuePlan
    from lyrics_tui.core.sampling import SamplerSettings

# (field, label, type): blank fields take the preset's value (shown as placeholder).
MODEL_FIELDS = [
    ("embed", "embed", int),
    ("hidden", "hidden", int),
    ("layers", "layers", int),
    ("dropout", "dropout", float),
    ("characters", "chars", bool),  # words read through their characters while training
]
TRAIN_FIELDS = [
    ("epochs", "epochs", int),
    ("lr", "lr", float),
    ("batch_size", "batch", int),
    ("bptt", "bptt", int),
]
PACE_MS = 30  # a pause between tokens, so that they can be watched arriving
# (field, label, type); blank: core's default (core.sampling.SamplerSettings), the placeholder
SAMPLER_FIELDS = [
    ("top_k", "top-k", int),
    ("top_p", "top-p", float),
    ("repetition_penalty", "penalty", float),  # the network's scores of recent words, divided
    ("rhyme", "rhyme", float),  # how strongly line ends rhyme (core/songform); 0: off
    ("redraft", "redraft", float),  # the share of new lines drafted twice (core/songform)
    ("form", "form", bool),  # song form, on or off: line lengths, lines that return, rhyme
    ("returns", "returns", int),  # a line sung this often in the last 30 is not sung again
    ("max_lines", "lines", int),  # a song: SONG_LINES lines unless set
    ("max_tokens", "length", int),
    ("seed", "seed", int),
    ("pace_ms", "pace ms", int),
]
# what a field left blank means where it is not core's default
FORM_DEFAULTS = {"seed": "random", "pace_ms": PACE_MS, "max_lines": SONG_LINES}
LABELS = {
    "corpus": "corpus",
    "preset": "preset",
    "cell": "cell",
    **{name: label for name, label, _ in MODEL_FIELDS + TRAIN_FIELDS + SAMPLER_FIELDS},
}
KINDS = {name: kind for name, _, kind in MODEL_FIELDS + TRAIN_FIELDS + SAMPLER_FIELDS}
TRAIN_NAMES = {name for name, _, _ in TRAIN_FIELDS}  # "seed" is a sampler field here


def label_for(setting: str) -> str:
    """A setting as the form names it: its field's label (batch_size -> batch)."""
    return LABELS.get(setting, setting.replace("_", "-"))


def said(error: LyricsError) -> str:
    """An error as the playground says it: settings named by the form's labels."""
    return error.render(label_for)


def check_field(name: str, text: str) -> None:
    """One field's text, parsed and checked against its range (core/settings.py); blank is
    always fine (the default). SettingsError names the field."""
    value = parse_field(name, text, KINDS[name])
    if value is None:
        return
    if name == "pace_ms":
        if not 0 <= value <= PACE_MS_MAX:
            raise SettingsError(f"{{pace_ms}} must be between 0 and {PACE_MS_MAX}")
        return
    table = MODEL if name in MODEL else TRAIN if name in TRAIN_NAMES else SAMPLER
    table[name].check(value)


def sampler_defaults() -> SamplerSettings:
    """Core's sampler settings, imported when first needed: core.sampling brings numpy, which
    the first frame does without."""
    from lyrics_tui.core.sampling import SamplerSettings

    return SamplerSettings()


@dataclass(frozen=True)
class SamplerFields:
    """The form's sampler part: core's settings (the temperature is the prompt pane's) and the
    pause between tokens."""

    settings: SamplerSettings
    pace_ms: int


@dataclass
class SettingChanged(Message):
    """A field of the form changed (`name` as in the config, e.g. "epochs", "top_k")."""

    name: str


def on_off(value: object) -> object:
    """A value as its field shows it: a switch as on or off."""
    return ("on" if value else "off") if isinstance(value, bool) else value


def parse_field(name: str, text: str, kind: type) -> int | float | bool | None:
    text = text.strip()
    if not text:
        return None
    if kind is bool:  # on or off
        if text.lower() not in ("on", "off"):
            raise SettingsError(f"{{{name}}}: {text!r} is not on or off")
        return text.lower() == "on"
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise SettingsError(f"{{{name}}}: {text!r} is not {what}") from None


class SettingsForm(VerticalScroll):
    """Training settings (locked while a run is active) and sampler settings (always live)."""

    DEFAULT_CSS = "#corpus-about { width: 1fr; height: auto; color: $text-muted; padding-left: 9; }"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.leave_field", "Done")]

    def __init__(
        self,
        corpus: str,
        preset: str = "default",
        model_values: dict[str, object] | None = None,
        train_values: dict[str, object] | None = None,
        sampler_values: dict[str, object] | None = None,
    ) -> None:
        super().__init__(id="settings")
        self._corpus = corpus
        self._preset = preset if preset in PRESETS else "default"
        self._model_values = dict(model_values or {})  # what was given at launch
        self._train_values = dict(train_values or {})
        self._sampler_values = dict(sampler_values or {})
        self._filled = False  # fill() has been called
        self._form_ready = False  # ... and the form is mounted: read and write its widgets
        self._mounted = asyncio.Event()
        self._locked = False
        self._continues: ContinuePlan | None = None  # what blank epochs mean now
        self._suggester = CorpusSuggester()

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
        self.run_worker(self._read_recent(), exit_on_error=False)

    async def _read_recent(self) -> None:
        """The corpus files trained on lately, for the picker and the completion."""
        recent = await asyncio.to_thread(recent_corpora)
        self._suggester.recent = recent
        if recent:
            self.query_one("#set-corpus-pick", Select).set_options(picker_options(recent))

    def _form(self) -> ComposeResult:
        yield Label("Training · set before a run", classes="section")
        rows = [
            Horizontal(
                Label("corpus", classes="field-label"),
                Input(
                    self._corpus,
                    placeholder="lyrics, songci or a file",
                    suggester=self._suggester,
                    id="set-corpus",
                    compact=True,
                ),
                classes="field",
            ),
            Horizontal(
                Label("", classes="field-label"),
                Select(
                    picker_options([]),
                    prompt="pick: bundled, recent",
                    id="set-corpus-pick",
                    compact=True,
                ),
                classes="field",
            ),
            Label("", id="corpus-about"),
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
            self._field(name, label, on_off(self._model_values.get(name)))
            for name, label, _ in MODEL_FIELDS
        ]
        rows += [
            self._field(name, label, self._train_values.get(name))
            for name, label, _ in TRAIN_FIELDS
        ]
        yield Vertical(*rows, id="train-settings", disabled=self._locked)
        yield Label("Sampler · for the next generation", classes="section")
        defaults = {**asdict(sampler_defaults()), **FORM_DEFAULTS}
        for name, label, _ in SAMPLER_FIELDS:
            value, default = self._sampler_values.get(name), defaults[name]
            yield self._field(name, label, on_off(value), str(on_off(default)))

    def _field(self, name: str, label: str, value: object, placeholder: str = "") -> Horizontal:
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
        """Blank fields' values as placeholders: the preset's, or the corpus's own (core's
        corpus_settings, the rule the CLI follows too)."""
        corpus = self.corpus
        try:
            model, train = corpus_settings(corpus or None, preset)
            plain = resolve_settings(preset)
        except LyricsError:
            return
        bundled = bundled_corpus(corpus or None)
        for config, default, fields in (
            (model, plain[0], MODEL_FIELDS),
            (train, plain[1], TRAIN_FIELDS),
        ):
            for name, _, _ in fields:
                value = getattr(config, name)
                whose = "preset" if value == getattr(default, name) or not bundled else bundled.name
                self.query_one(f"#set-{name}", Input).placeholder = f"{on_off(value)} ({whose})"
        self.query_one("#corpus-about", Label).update(corpus_about(corpus, train.tokenizer))
        if self._continues is not None:
            c = self._continues
            self.query_one("#set-epochs", Input).placeholder = (
                f"as the budget allows ({c.seconds_left:.0f} s more)"
                if c.by_budget
                else f"{c.end_epoch} in all ({c.more_epochs} more)"
            )
        self.query_one("#set-cell", Select).prompt = f"{model.cell} (preset)"

    def show_continuation(self, plan: ContinuePlan | None) -> None:
        """What blank epochs mean: with a continuation plan, continuing the model held
        to its end epoch (epochs are totals); with None, the preset's epochs for a new model."""
        if plan == self._continues:
            return
        self._continues = plan
        if self._form_ready:
            self._show_preset(str(self.query_one("#set-preset", Select).value))

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "set-corpus-pick":
            if isinstance(event.value, str):  # the picked corpus goes into the field
                self.query_one("#set-corpus", Input).value = event.value
            return
        if event.select.id == "set-preset" and isinstance(event.value, str):
            self._show_preset(event.value)
        if event.select.id:
            self.post_message(SettingChanged(event.select.id.removeprefix("set-")))

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "set-corpus" and self._form_ready:
            self._show_preset(str(self.query_one("#set-preset", Select).value))
        if event.input.id:
            name = event.input.id.removeprefix("set-")
            if name in KINDS:  # marked while out of range; said on Enter or when closing
                event.input.set_class(self._error(name, event.value) is not None, "-invalid")
            self.post_message(SettingChanged(name))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        name = (event.input.id or "").removeprefix("set-")
        error = self._error(name, event.value) if name in KINDS else None
        if error is not None:
            self.notify(said(error), severity="error", timeout=8)  # the keys stay here
            return
        self.screen.focus_next()

    @staticmethod
    def _error(name: str, text: str) -> SettingsError | None:
        try:
            check_field(name, text)
        except SettingsError as exc:
            return exc
        return None

    def lock_training(self, locked: bool) -> None:
        self._locked = locked
        if self._form_ready:
            self.query_one("#train-settings").disabled = locked

    def _text(self, name: str, initial: object) -> str:
        if self._form_ready:
            return self.query_one(f"#set-{name}", Input).value
        return "" if initial is None else str(initial)

    @property
    def corpus(self) -> str:
        return self._text("corpus", self._corpus).strip()

    def set_corpus(self, corpus: str) -> None:
        """Show another corpus in the form (a loaded checkpoint's own; a bundled one by name)."""
        bundled = bundled_corpus(corpus)
        corpus = bundled.name if bundled is not None else corpus
        self._corpus = corpus
        if self._form_ready:
            self.query_one("#set-corpus", Input).value = corpus

    def read_training(self) -> tuple[str, dict[str, object], dict[str, object]]:
        """(preset, model overrides, train overrides); SettingsError names a malformed field."""
        if not self._form_ready:
            preset = self._preset
            model = {"cell": self._model_values.get("cell")}
            model.update(
                {
                    n: parse_field(n, self._text(n, on_off(self._model_values.get(n))), k)
                    for n, label, k in MODEL_FIELDS
                }
            )
            train: dict[str, object] = {
                n: parse_field(n, self._text(n, self._train_values.get(n)), k)
                for n, label, k in TRAIN_FIELDS
            }
            return preset, self._untie(preset, model), {**self._hidden_train(), **train}
        preset = str(self.query_one("#set-preset", Select).value)
        cell = self.query_one("#set-cell", Select).value
        model = {"cell": cell if isinstance(cell, str) else None}
        for name, _, kind in MODEL_FIELDS:
            model[name] = parse_field(name, self.query_one(f"#set-{name}", Input).value, kind)
        train = self._hidden_train()
        for name, _, kind in TRAIN_FIELDS:
            train[name] = parse_field(name, self.query_one(f"#set-{name}", Input).value, kind)
        return str(preset), self._untie(str(preset), model), train

    def pass_through(self, **values: object) -> dict[str, object]:
        """Set training settings the form has no field for (None: unset), as if given at
        launch (a driver's, e.g. the demo's time budget); the values they replace."""
        before = {name: self._train_values.get(name) for name in values}
        self._train_values.update(values)
        return before

    def _hidden_train(self) -> dict[str, object]:
        """Training settings given at launch that the form has no field for (threads,
        precision, ...): they pass through unchanged."""
        shown = {name for name, _, _ in TRAIN_FIELDS}
        return {k: v for k, v in self._train_values.items() if k not in shown and v is not None}

    @staticmethod
    def _untie(preset: str, model: dict[str, object]) -> dict[str, object]:
        """The form has no weight-tying field: a preset that ties input and output embeddings
        (needs embed == hidden) is untied when the sizes given differ."""
        if model.get("embed") is not None or model.get("hidden") is not None:
            model_cfg, _ = resolve_settings(preset)
            embed = model.get("embed") or model_cfg.embed
            hidden = model.get("hidden") or model_cfg.hidden
            if model_cfg.tie_weights and embed != hidden:
                model["tie_weights"] = False
        return model

    def read_sampler(self) -> SamplerFields:
        """Core's sampler settings from the fields (blank: core's default); SettingsError names
        a malformed field."""
        # Any: they go to replace() by name, and SamplerSettings' fields differ in type
        values: dict[str, Any] = {}
        for name, _, kind in SAMPLER_FIELDS:
            given = on_off(self._sampler_values.get(name))
            parsed = parse_field(name, self._text(name, given), kind)
            if parsed is not None:
                values[name] = parsed
        check_field("pace_ms", str(values.get("pace_ms", "")))
        pace_ms = values.pop("pace_ms", PACE_MS)
        values.setdefault("max_lines", SONG_LINES)
        return SamplerFields(replace(sampler_defaults(), **values), pace_ms)

    def check(self) -> None:
        """The whole form as t and g would read it (core's checks, the corpus's own settings
        included); SettingsError names the first setting out of range."""
        preset, model, train = self.read_training()
        corpus_settings(self.corpus or None, preset, model, train)
        self.read_sampler().settings.validated()

    def field_of(self, error: LyricsError) -> Input | None:
        """The field an error names, when the form has one."""
        for setting in error.settings:
            found = self.query(f"#set-{setting}")
            if found and isinstance(found.first(), Input):
                return found.first(Input)
        return None
