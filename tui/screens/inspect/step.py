"""F1 Step: step-through decoding. Each step lists the candidates for the next word with the
model's probability, the probability after the sampler's filters and the rank; pick one (1-9,
or Enter on its row), let the sampler pick (s), step back (b), finish the line (g).

With song memory on (core/cache.py) the model's probability is the network's and the cache's
mixed: both parts get a column, and "recalls" lists the earlier words the cache points at (#
counts the words read, 0 being the line start); the row under the cursor lights them in the
text above. With the song form on (core/songform) each word's rhyme group and the chance that
the line ends right after it ("ends") are shown too, and the info line says what the form
does: the rhyme aimed at, the line's length so far, or the line that comes back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Unpack

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable, Label, Static

from lyrics_tui.core.errors import LyricsError
from lyrics_tui.core.sampling import SamplerSettings
from lyrics_tui.core.tokens import NEWLINE
from lyrics_tui.tui import format as fmt
from lyrics_tui.tui.format import packed
from lyrics_tui.tui.keys import nudged_temperature
from lyrics_tui.tui.memory import MemoryChoice
from lyrics_tui.tui.screens.inspect.common import (
    FitTable,
    InspectField,
    InspectView,
    bar,
    header,
    num,
    percent,
)

if TYPE_CHECKING:  # core.inspection.step loads when a walk starts
    from lyrics_tui.core.inspection.step import DecodingStep, StepThrough
    from lyrics_tui.tui.widgets import WidgetOptions

TOP_K_STEPS = (0, 5, 10, 20, 40, 100)  # k cycles through these (0: off)
TOP_P_STEPS = (1.0, 0.95, 0.9, 0.8, 0.6)  # p cycles through these (1: off)
MIN_CANDIDATES = 9  # digits 1-9 pick; a taller terminal shows more (Enter on a row picks it)
LINE_WORDS_MAX = 30  # g samples until a line end, at most this many words
COLUMNS = ("#>", "word", "model>", "after filters>", "rank>")
# with song memory: the network's and the cache's parts, and where the cache recalls the word from
MEMORY_COLUMNS = (
    *("#>", "word", "model>", "network>", "cache>", "after filters>", "rank>", "recalls"),
)
# with the song form on (core/songform): each word's rhyme group, and the chance that the line
# ends right after it
FORM_COLUMNS = ("rhyme", "ends>")
RANK_FROM = 100  # narrower, with song memory, the rank column is left out (no wrapping)
RECALLS_FROM = 90  # narrower, with song memory and the form, so is the recalls column
LIT = "reverse"  # the earlier words the cache recalls the highlighted candidate from


class StepView(InspectView):
    """Owns the walk (core.inspection.StepThrough) and the sampler settings it steps with."""

    FIELD = "step-prompt"
    TABLE = "step-table"

    def __init__(
        self, settings: SamplerSettings, prompt: str = "", **kwargs: Unpack[WidgetOptions]
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.prompt = prompt  # the first walk's start: the playground's start text
        self.memory = MemoryChoice()  # the screen's memory control (settings.cache follows it)
        self.walk: StepThrough | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="input-row"):
            yield Label("prompt ›")
            yield InspectField(
                placeholder="/ types a start text, Enter steps from it (\\n ends a line)",
                id="step-prompt",
                compact=True,
            )
        yield Static("", id="step-text")
        yield Static("", id="step-info", classes="info")
        yield FitTable(id="step-table", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one(FitTable).add_columns(*map(header, COLUMNS))
        self.query_one(InspectField).value = self.prompt

    def show_hint(self, hint: str) -> None:
        self.query_one("#step-info", Static).update(hint)
        self.query_one("#step-text", Static).update("")
        self.query_one(FitTable).clear()

    def candidate_rows(self) -> int:
        """As many candidates as the table has lines for (the last count while it is hidden)."""
        height = self.query_one(FitTable).size.height
        if height <= 1:
            return self.walk.top if self.walk is not None else MIN_CANDIDATES
        return max(MIN_CANDIDATES, min(40, height - 1))

    def start(self, prompt: str, quiet: bool = False) -> bool:
        """A new walk from `prompt` (the same seed as the walk before, so steps repeat)."""
        from lyrics_tui.core.inspection.step import StepThrough

        if self.subject is None:  # the screen starts a walk only once it has a model
            return False
        seed = self.walk.seed if self.walk is not None else self.settings.seed
        settings = replace(self.settings, seed=seed, cache=self.memory.settings)
        text = prompt.replace("\\n", "\n")  # \n typed ends a line, as in the score view
        try:
            walk = StepThrough(self.subject, settings, text, top=self.candidate_rows())
        except LyricsError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return False
        self.walk = walk
        if not quiet:
            for warning in walk.warnings:
                self.notify(warning, severity="warning")
        self.screen.refresh_bindings()
        return True

    def rebuild(self) -> None:
        """The walk again over a new subject: the same prompt and the same picked words."""
        words = [w.text for w in self.walk.picked] if self.walk is not None else []
        prompt = self.walk.prompt if self.walk is not None else self.prompt
        if self.start(prompt, quiet=True):
            walk = self.walk
            assert walk is not None  # start() made it
            try:
                for word in words:
                    walk.choose_word(word)
            except LyricsError as exc:
                self.notify(f"stopped replaying the picked words: {exc}", severity="warning")
            self.show()

    # -- moving along: each returns whether the walk changed ----------------------------------
    def _act(self, what: Callable[[StepThrough], object]) -> bool:
        if self.walk is None:
            return False
        try:
            what(self.walk)
        except LyricsError as exc:
            self.notify(str(exc), severity="error")
            return False
        self.show()
        return True

    def pick(self, number: int) -> bool:
        return self._act(lambda walk: walk.choose(number))

    def sample(self) -> bool:
        return self._act(lambda walk: walk.sample())

    def back(self) -> bool:
        return self._act(lambda walk: walk.back())

    def sample_line(self) -> bool:
        def line(walk: StepThrough) -> None:
            for _ in range(LINE_WORDS_MAX):
                if walk.sample().text == NEWLINE:
                    break

        return self._act(line)

    # -- the sampler's settings ------------------------------------------------------------
    def set_memory(self, memory: MemoryChoice) -> None:
        """Song memory's weight for this and the later steps."""
        self.memory = memory
        if self.walk is None:
            self.settings = replace(self.settings, cache=memory.settings)
        else:
            self._set_settings(lambda s: replace(s, cache=memory.settings))

    def _set_settings(self, change: Callable[[SamplerSettings], SamplerSettings]) -> None:
        """The same change to the walk's settings and to those the next walk starts with."""
        if self.walk is None:
            return
        try:
            self.walk.set_settings(change(self.walk.settings))
        except LyricsError as exc:
            self.notify(str(exc), severity="error")
            return
        self.settings = change(self.settings)
        self.show()

    def nudge_temperature(self, delta: float) -> None:
        if self.walk is not None:
            temperature = nudged_temperature(self.walk.settings.temperature, delta)
            self._set_settings(lambda s: replace(s, temperature=temperature))

    def next_top_k(self) -> None:
        if self.walk is not None:
            k = self.walk.settings.top_k
            later = [s for s in TOP_K_STEPS if s > k] if k else list(TOP_K_STEPS[1:])
            self._set_settings(lambda s: replace(s, top_k=later[0] if later else 0))

    def next_top_p(self) -> None:
        if self.walk is not None:
            p = self.walk.settings.top_p
            later = [s for s in TOP_P_STEPS if s < p - 1e-9]
            self._set_settings(lambda s: replace(s, top_p=later[0] if later else 1.0))

    # -- drawing ---------------------------------------------------------------------------
    def _context_text(self, walk: StepThrough, lit: tuple[tuple[int, float], ...] = ()) -> Text:
        """The prompt, then the picked words in bold; line ends as ↵; the words at the
        positions `lit` (song memory's pointers) highlighted; the tail that fits."""
        text = Text()
        if not walk.prompt_tokens and not walk.picked:
            text.append("(line start: nothing read yet)", style="dim")
            return text
        lit_at = {position for position, _ in lit}
        words = [*walk.prompt_tokens, *(w.text for w in walk.picked)]
        # position 0 is the line start read before the prompt, so word i is at position i + 1
        for i, token in enumerate(words):
            style = "bold underline" if i >= len(walk.prompt_tokens) else ""
            if i + 1 in lit_at:
                style = f"{style} {LIT}".strip()
            text.append("↵ " if token == NEWLINE else token, style=style)
        room = max(20, (self.query_one("#step-text").size.width or 76) * 2 - 2)
        if cell_len(text.plain) > room:
            while cell_len(text.plain) > room - 1:
                text = text[1:]
            text = Text("…") + text
        return text

    def _show_context(self, walk: StepThrough) -> None:
        """The text so far, lit where the cache recalls the candidate under the cursor from."""
        lit: tuple[tuple[int, float], ...] = ()
        table = self.query_one(FitTable)
        candidates = walk.current.candidates
        if 0 <= table.cursor_row < len(candidates):
            lit = candidates[table.cursor_row].pointers
        self.query_one("#step-text", Static).update(self._context_text(walk, lit))

    def _info(self, view: DecodingStep, seed: int) -> str:
        """The step's figures, the sampler's settings and song memory's, packed to the width."""
        parts = [
            f"step {view.index + 1}",
            f"entropy {view.entropy_bits:.2f} bits (≈ {view.effective_choices:,.1f} equal choices)",
            f"{view.survivors:,} of {view.vocab_size:,} words survive",
            f"temperature {view.temperature:.2f}",
            self.memory.label,
            f"top-k {view.top_k or 'off'}",
            f"top-p {f'{view.top_p:.2f}' if view.top_p < 1 else 'off'}",
            *([f"penalty {view.repetition_penalty:g}"] if view.repetition_penalty != 1 else []),
            f"seed {seed}",
            f"<unk> {fmt.prob(view.unk_prob)}, never picked",
        ]
        if view.cache is not None and view.remembered:
            parts.append(f"memory draws on {view.remembered:,} earlier words (the row's lit above)")
        elif view.cache is not None:
            parts.append("memory: nothing to recall yet")
        if view.form is not None:
            parts.extend(view.form.parts())
        return packed(parts, self.query_one("#step-info").size.width or 76)

    def show(self) -> None:
        walk = self.walk
        if walk is None:
            return
        if walk.top != self.candidate_rows():
            walk.set_top(self.candidate_rows())
        view = walk.current
        self.query_one("#step-info", Static).update(Text(self._info(view, walk.seed)))
        width = self.screen.size.width
        memory = view.cache is not None
        columns: tuple[str, ...] = COLUMNS
        if memory:
            columns = tuple(c for c in MEMORY_COLUMNS if width >= RANK_FROM or c != "rank>")
        if view.form is not None:
            narrow = memory and width < RECALLS_FROM
            kept = [c for c in columns if not (narrow and c == "recalls")]
            at = kept.index("after filters>") + 1
            columns = (kept[0], kept[1], FORM_COLUMNS[0], *kept[2:at], FORM_COLUMNS[1], *kept[at:])
        table = self.query_one(FitTable)
        table.with_columns(columns)
        top_final = max((c.final_prob for c in view.candidates), default=0.0) or 1.0
        bar_width = max(0, min(20, width - (100 if memory else 60)))
        for c in view.candidates:
            style = "" if c.survives else "dim"
            final = fmt.prob(c.final_prob)
            if bar_width:
                final = f"{bar(c.final_prob / top_final, bar_width):<{bar_width}} {final:>7}"
            cells = {
                "#>": num(str(c.number)),
                "word": Text(c.label, style=style),
                "model>": num(fmt.prob(c.model_prob), style),
                "network>": num(fmt.prob(c.network_prob), style),
                "cache>": num(fmt.cache_prob(c.cache_prob if view.remembered else None), style),
                "after filters>": num(final, style),
                "rank>": num(f"{c.model_rank:,}", style),
                "recalls": Text(recalls(c.pointers, 3 if width >= RANK_FROM else 2), style=style),
                "rhyme": Text(c.rhyme, style=style),
                "ends>": num(percent(c.ends_line), style),
            }
            table.add_row(*(cells[name] for name in columns), key=f"cand-{c.number}")
        self._show_context(walk)

    @on(DataTable.RowHighlighted, "#step-table")
    def _on_row_highlighted(self) -> None:
        if self.walk is not None:
            self._show_context(self.walk)

    @on(FitTable.Resized)
    def _fit(self) -> None:
        """Once laid out (and on every resize): as many candidates as the table has room for."""
        if self.walk is not None and self.walk.top != self.candidate_rows():
            self.show()


def recalls(pointers: tuple[tuple[int, float], ...], most: int) -> str:
    """The cache's strongest pointers for a word: "#12 88% #3 9%" (# counts the words read)."""
    return " ".join(f"#{position} {percent(share)}" for position, share in pointers[:most])
