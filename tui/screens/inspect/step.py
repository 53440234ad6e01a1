"""F1 Step: step-through decoding. Each step lists the candidates for the next word with the
model's probability, the probability after the sampler's filters and the rank; pick one (1-9,
or Enter on its row), let the sampler pick (s), step back (b), finish the line (g)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Static

from lyrics_tui.core.errors import LyricsError
from lyrics_tui.core.sampling import SamplerSettings
from lyrics_tui.core.tokens import NEWLINE
from lyrics_tui.tui import format as fmt
from lyrics_tui.tui.keys import nudged_temperature
from lyrics_tui.tui.screens.inspect.common import FitTable, InspectField, bar, header, num

TOP_K_STEPS = (0, 5, 10, 20, 40, 100)  # k cycles through these (0: off)
TOP_P_STEPS = (1.0, 0.95, 0.9, 0.8, 0.6)  # p cycles through these (1: off)
MIN_CANDIDATES = 9  # digits 1-9 pick; a taller terminal shows more (Enter on a row picks it)
LINE_WORDS_MAX = 30  # g samples until a line end, at most this many words
COLUMNS = ("#>", "word", "model>", "after filters>", "rank>")


class StepView(Vertical):
    """Owns the walk (core.inspection.StepThrough) and the sampler settings it steps with."""

    def __init__(self, settings: SamplerSettings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.subject: Any = None  # core.inspection.Subject
        self.walk: Any = None  # core.inspection.StepThrough

    def compose(self) -> ComposeResult:
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

    def on_mount(self) -> None:
        self.query_one(FitTable).add_columns(*map(header, COLUMNS))

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
        from lyrics_tui.core.inspection import StepThrough

        seed = self.walk.seed if self.walk is not None else self.settings.seed
        try:
            walk = StepThrough(
                self.subject, replace(self.settings, seed=seed), prompt, top=self.candidate_rows()
            )
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
        prompt = self.walk.prompt if self.walk is not None else ""
        if self.start(prompt, quiet=True):
            try:
                for word in words:
                    self.walk.choose_word(word)
            except LyricsError as exc:
                self.notify(f"stopped replaying the picked words: {exc}", severity="warning")
            self.show()

    # -- moving along: each returns whether the walk changed ----------------------------------
    def _act(self, what: Any) -> bool:
        if self.walk is None:
            return False
        try:
            what()
        except LyricsError as exc:
            self.notify(str(exc), severity="error")
            return False
        self.show()
        return True

    def pick(self, number: int) -> bool:
        return self._act(lambda: self.walk.choose(number))

    def sample(self) -> bool:
        return self._act(lambda: self.walk.sample())

    def back(self) -> bool:
        return self._act(lambda: self.walk.back())

    def sample_line(self) -> bool:
        def line() -> None:
            for _ in range(LINE_WORDS_MAX):
                if self.walk.sample().text == NEWLINE:
                    break

        return self._act(line)

    # -- the sampler's settings ------------------------------------------------------------
    def _set_settings(self, **changes: Any) -> None:
        if self.walk is None:
            return
        try:
            self.walk.set_settings(replace(self.walk.settings, **changes))
        except LyricsError as exc:
            self.notify(str(exc), severity="error")
            return
        self.settings = replace(self.settings, **changes)
        self.show()

    def nudge_temperature(self, delta: float) -> None:
        if self.walk is not None:
            self._set_settings(
                temperature=nudged_temperature(self.walk.settings.temperature, delta)
            )

    def next_top_k(self) -> None:
        if self.walk is not None:
            k = self.walk.settings.top_k
            later = [s for s in TOP_K_STEPS if s > k] if k else list(TOP_K_STEPS[1:])
            self._set_settings(top_k=later[0] if later else 0)

    def next_top_p(self) -> None:
        if self.walk is not None:
            p = self.walk.settings.top_p
            later = [s for s in TOP_P_STEPS if s < p - 1e-9]
            self._set_settings(top_p=later[0] if later else 1.0)

    # -- drawing ---------------------------------------------------------------------------
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
        room = max(20, (self.query_one("#step-text").size.width or 76) * 2 - 2)
        if cell_len(text.plain) > room:
            while cell_len(text.plain) > room - 1:
                text = text[1:]
            text = Text("…") + text
        return text

    def show(self) -> None:
        walk = self.walk
        if walk is None:
            return
        if walk.top != self.candidate_rows():
            walk.set_top(self.candidate_rows())
        view = walk.current
        self.query_one("#step-text", Static).update(self._context_text())
        settings = (
            f"temperature {view.temperature:.2f} · top-k {view.top_k or 'off'} · "
            f"top-p {f'{view.top_p:.2f}' if view.top_p < 1 else 'off'}"
            + (f" · penalty {view.repetition_penalty:g}" if view.repetition_penalty != 1 else "")
            + f" · seed {walk.seed}"
        )
        self.query_one("#step-info", Static).update(
            Text(
                f"step {view.index + 1} · entropy {view.entropy_bits:.2f} bits (≈ "
                f"{view.effective_choices:,.1f} equal choices) · {view.survivors:,} of "
                f"{view.vocab_size:,} words survive\n{settings} · <unk> {fmt.prob(view.unk_prob)}, "
                f"never picked"
            )
        )
        table = self.query_one(FitTable)
        table.clear()
        top_final = max((c.final_prob for c in view.candidates), default=0.0) or 1.0
        bar_width = max(0, min(20, self.screen.size.width - 60))
        for c in view.candidates:
            style = "" if c.survives else "dim"
            final = fmt.prob(c.final_prob)
            if bar_width:
                final = f"{bar(c.final_prob / top_final, bar_width):<{bar_width}} {final:>7}"
            table.add_row(
                num(str(c.number)),
                Text(c.label, style=style),
                num(fmt.prob(c.model_prob), style),
                num(final, style),
                num(f"{c.model_rank:,}", style),
                key=f"cand-{c.number}",
            )

    @on(FitTable.Resized)
    def _fit(self) -> None:
        """Once laid out (and on every resize): as many candidates as the table has room for."""
        if self.walk is not None and self.walk.top != self.candidate_rows():
            self.show()
