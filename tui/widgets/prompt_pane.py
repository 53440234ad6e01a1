"""The prompt pane: the start text, the sampler line and the song written (the song view).

The song is drawn line by line (`song_lines`, `draw_line`): the start text underlined, the
written words plain; a mark per line (a rhyme, a returning line) goes in `draw_line`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Unpack

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Input, Label, Static

from lyrics_tui.tui.keys import MEMORY_FIELD_KEYS, TEMPERATURE_STEP, nudged_temperature
from lyrics_tui.tui.memory import MEMORY_LABEL_MAX, MEMORY_STEP, MemoryChoice
from lyrics_tui.tui.widgets.song_marks import NO_MARK, LineMark, line_marks, mark_line

if TYPE_CHECKING:
    from lyrics_tui.core.sampling import SamplerSettings
    from lyrics_tui.tui.widgets import WidgetOptions


@dataclass(frozen=True)
class Output:
    prompt_text: str = ""  # shown underlined
    tokens: tuple[str, ...] = ()
    note: str = ""  # after the text, dimmed: how it ended, or a hint while there is none


@dataclass(frozen=True)
class SongLine:
    """One line of the song as shown: the part of the start text on it, then what was written."""

    number: int  # from 1
    start: str
    written: str
    mark: LineMark = NO_MARK  # its rhyme and whether it comes back (finished lines)


def marks_legend(marks: list[LineMark]) -> str:
    """The song's marks in words, once it is written (never colour or italics alone)."""
    said = []
    if any(mark.returns for mark in marks):
        said.append("italic: a line sung before")
    if any(mark.group >= 0 for mark in marks):
        said.append("a line's last word coloured by its rhyme")
    return " · ".join(said)


def song_lines(output: Output) -> list[SongLine]:
    """The start text and the written tokens, cut into the song's lines, with their marks."""
    lines: list[SongLine] = []
    start, written = output.prompt_text, "".join(output.tokens)
    parts = [(part, True) for part in start.split("\n")] if start else []
    for i, part in enumerate(written.split("\n")):
        if i == 0 and parts:  # the first written words continue the start text's last line
            parts[-1] = (parts[-1][0] + "\0" + part, True)
        else:
            parts.append((part, False))
    marks = line_marks(start + written, output.tokens, len(start))
    for number, (text, has_start) in enumerate(parts, 1):
        head, _, tail = text.partition("\0") if has_start else ("", "", text)
        mark = marks[number - 1] if number <= len(marks) else NO_MARK
        lines.append(SongLine(number, head if has_start else "", tail if has_start else text, mark))
    return lines


def draw_line(line: SongLine) -> Text:
    """A line of the song: the start text bold and underlined, the written words plain; the
    last word of a finished line in its rhyme's colour, a line that comes back in italics."""
    text = Text()
    text.append(line.start, style="bold underline")
    text.append(line.written)
    return mark_line(text, line.mark)


def hint(has_model: bool, training: bool) -> str:
    """What the output area says before there is any output."""
    if has_model:
        return "Press / and type a start word, then Enter: a song is written. g writes another."
    if training:
        return (
            "Training… as soon as the first batches are done, / then Enter generates from the "
            "weights being trained."
        )
    return "No model yet: press t to train one, or l to load a checkpoint."


@dataclass
class PromptSubmitted(Message):
    """Enter in the start-text field."""

    text: str


@dataclass
class TemperatureChanged(Message):
    temperature: float


class PromptInput(Input):
    """The start text. Up/Down change the temperature here too, shift+Up/Down song memory's
    weight (letters and brackets are for typing)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "up", f"temperature({TEMPERATURE_STEP})", f"Temperature +{TEMPERATURE_STEP}", show=False
        ),
        Binding(
            "down",
            f"temperature(-{TEMPERATURE_STEP})",
            f"Temperature -{TEMPERATURE_STEP}",
            show=False,
        ),
        Binding(MEMORY_FIELD_KEYS[0], f"memory({MEMORY_STEP})", "Memory +", show=False),
        Binding(MEMORY_FIELD_KEYS[1], f"memory(-{MEMORY_STEP})", "Memory -", show=False),
        Binding("escape", "app.leave_field", "Done"),
    ]

    def action_temperature(self, delta: float) -> None:
        self.query_ancestor(PromptPane).nudge_temperature(delta)

    def action_memory(self, delta: float) -> None:
        self.query_ancestor(PromptPane).nudge_memory(delta)


class PromptPane(Vertical):
    """Owns the temperature (its keys change it; it posts TemperatureChanged) and song memory's
    weight (tui/memory.py), the sampler settings shown beside them and the output shown below;
    posts PromptSubmitted on Enter."""

    temperature: reactive[float] = reactive(0.8, init=False)
    memory: reactive[MemoryChoice] = reactive(MemoryChoice(), init=False)
    # top-k, top-p, length and the latest generation's seed; None until the first frame is out
    sampler: reactive[SamplerSettings | None] = reactive(None, init=False)
    output: reactive[Output] = reactive(Output(), init=False)

    def __init__(self, temperature: float = 0.8, **kwargs: Unpack[WidgetOptions]) -> None:
        super().__init__(**kwargs)
        self.set_reactive(PromptPane.temperature, temperature)

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
        self.border_title = "Song"
        self.query_one("#output-scroll").can_focus = True
        self._show_sampler()
        self.watch_output(self.output)

    @property
    def start_text(self) -> str:
        return self.query_one("#prompt", Input).value

    def nudge_temperature(self, delta: float) -> None:
        nudged = nudged_temperature(self.temperature, delta)
        if nudged == self.temperature:  # at an end of its range: say so rather than nothing
            end = "0, always the likeliest word" if delta < 0 else f"{nudged:.2f}, its highest"
            self.notify(f"the temperature is at {end}", timeout=3)
        self.temperature = nudged

    def nudge_memory(self, delta: float) -> None:
        if self._memory_fitted():
            self.memory = self.memory.nudged(delta)

    def toggle_memory(self) -> None:
        if self._memory_fitted():
            self.memory = self.memory.toggled()

    def _memory_fitted(self) -> bool:
        """Whether the keys can set λ; if not, a note says why."""
        if self.memory.fitted is None:
            self.notify(self.memory.note or "no model yet: no song memory", severity="warning")
        return self.memory.fitted is not None

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "prompt":
            event.stop()
            self.post_message(PromptSubmitted(event.value))

    def watch_temperature(self, temperature: float) -> None:
        self._show_sampler()
        self.post_message(TemperatureChanged(temperature))

    def watch_sampler(self) -> None:
        self._show_sampler()

    def watch_memory(self) -> None:
        self._show_sampler()

    def on_resize(self) -> None:
        self._show_sampler()

    def _show_sampler(self) -> None:
        """Temperature, memory, then the form's settings. Where the line would not fit, parts
        are left out on purpose rather than cut: filters and rhyme that are off first, then the
        length (the lines end the song first), then the lines."""
        memory = self.memory.label  # "" with no model
        parts = [f"temperature {self.temperature:.2f}", *([memory] if memory else [])]
        s = self.sampler
        if s is not None:
            parts += [
                (f"rhyme {s.rhyme:g}" if s.rhyme > 0 else "rhyme off") if s.form else "form off",
                f"top-k {s.top_k if s.top_k else 'off'}",
                f"top-p {s.top_p:.2f}" if s.top_p < 1 else "top-p off",
                f"lines {s.max_lines}" if s.max_lines else "lines any",
                f"length {s.max_tokens}",
                f"seed {s.seed if s.seed is not None else '-'}",
            ]
        line = self.query_one("#sampler-line", Static)
        room = line.size.width
        # measured with memory's longest label, so that changing λ never reflows the line
        spare = max(0, MEMORY_LABEL_MAX - cell_len(memory)) if memory else 0
        for shown in (
            lambda part: not part.endswith(" off") or part in (memory, "form off"),
            lambda part: not part.startswith("length "),
            lambda part: not part.startswith("lines "),
        ):
            if room <= 0 or cell_len(" · ".join(parts)) + spare <= room:
                break
            parts = [part for part in parts if shown(part)]
        line.update(Text(" · ".join(parts)))

    def on_descendant_focus(self) -> None:
        self._show_keys()

    def on_descendant_blur(self) -> None:
        self.call_after_refresh(self._show_keys)  # the focus has moved on by then

    def _show_keys(self) -> None:
        """What the keys do here, when they are here (the heavy border says where they are)."""
        focused = self.app.focused
        if focused is not None and focused.id == "output-scroll":
            self.border_subtitle = "↑↓ PgUp PgDn scroll · / types"
        elif focused is not None and focused.id == "prompt":
            self.border_subtitle = "Enter writes · Esc leaves"
        else:
            self.border_subtitle = ""

    def watch_output(self, output: Output) -> None:
        lines = song_lines(output)
        text = Text("\n").join(draw_line(line) for line in lines) if lines else Text()
        if output.note:
            text.append(
                ("\n" if text.plain and not text.plain.endswith("\n") else "") + output.note,
                style="dim italic",
            )
            legend = marks_legend([line.mark for line in lines])
            if legend:
                text.append("\n" + legend, style="dim")
        self.query_one("#output", Static).update(text)
        scroll = self.query_one("#output-scroll", VerticalScroll)
        self.call_after_refresh(scroll.scroll_end, animate=False)
