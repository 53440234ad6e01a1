"""F2 Score: how the model reads a line (each word's probability, surprisal and rank), and with
m the same line under a second checkpoint (core.inspection.compare_lines).

With song memory on (core/cache.py) the probability is the network's and the cache's mixed:
the network's part gets a column, and "memory" the share of the probability that came from the
cache (the cache's own probability too when there is room); both perplexities are shown above.
The comparison reads both models without it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Unpack

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, Label, Static

from lyrics_tui.core.errors import LyricsError
from lyrics_tui.tui import format as fmt
from lyrics_tui.tui.format import packed
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

if TYPE_CHECKING:
    from lyrics_tui.core.inspection.score import LineComparison, LineScore
    from lyrics_tui.core.inspection.subject import Subject
    from lyrics_tui.tui.widgets import WidgetOptions

SCORE_COLUMNS = ("#>", "word", "prob>", "bits", "rank>", "model's guess")
MEMORY_COLUMNS = ("#>", "word", "prob>", "network>", "cache>", "memory>", "bits", "rank>")
MEMORY_GUESS = "model's guess"  # the last column with memory on, where there is room
CACHE_FROM = 100  # narrower, with song memory, the cache's own probability is left out
COMPARE_COLUMNS = ("#>", "word", "bits A>", "bits B>", "B − A>", "better", "rank A>", "rank B>")


@dataclass
class CompareReady(Message):
    """The second model of a comparison was read (subject None: `error` says why)."""

    subject: Subject | None
    error: str = ""


class ScoreView(InspectView):
    """Owns the line scored, and while comparing the second model and the comparison."""

    FIELD = "score-line"
    TABLE = "score-table"

    def __init__(
        self, checkpoint_folder: Path | None = None, **kwargs: Unpack[WidgetOptions]
    ) -> None:
        super().__init__(**kwargs)
        self.checkpoint_folder = checkpoint_folder  # where m lists checkpoints (None: default)
        self.line_score: LineScore | None = None
        self.scored_text = ""
        self.compare_subject: Subject | None = None  # model B of the comparison
        self.memory = MemoryChoice()  # the screen's memory control
        self.comparison: LineComparison | None = None  # while comparing

    def compose(self) -> ComposeResult:
        with Horizontal(classes="input-row"):
            yield Label("line ›")
            yield InspectField(
                placeholder="/ types a line, Enter scores it", id="score-line", compact=True
            )
        yield Static("", id="score-info", classes="info")
        yield FitTable(id="score-table", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one(FitTable).add_columns(*map(header, SCORE_COLUMNS))

    @property
    def colour(self) -> bool:
        return not self.app.no_color

    def _info(self, text: str | Text) -> None:
        self.query_one("#score-info", Static).update(text)

    def show_hint(self, hint: str) -> None:
        self._info(hint)
        self.query_one(FitTable).clear()

    def set_memory(self, memory: MemoryChoice) -> None:
        """Song memory's weight; the line is scored again."""
        self.memory = memory
        self.rebuild()

    def rebuild(self) -> None:
        """The same line again, over a new subject."""
        if self.scored_text:
            self.score(self.scored_text)
        else:
            self._info("/ types a line (\\n between lines), Enter scores it word by word")

    def score(self, text: str) -> None:
        from lyrics_tui.core.inspection.score import compare_lines, score_line

        subject = self.subject
        if subject is None:  # the screen scores only once it has a model
            return
        text_read = text.replace("\\n", "\n")
        try:
            score = score_line(subject, text_read, self.memory.settings)
        except LyricsError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        self.line_score, self.scored_text = score, text
        self.comparison = None
        if self.compare_subject is not None:
            try:
                self.comparison = compare_lines(subject, self.compare_subject, text_read)
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

    def _draw_score(self, score: LineScore) -> None:
        known = (
            f" · {fmt.ppl(score.known_perplexity)} over known words"
            if score.unknown and score.known_perplexity is not None
            else ""
        )
        memory = score.cache is not None
        network = f" (the network alone {fmt.ppl(score.network_perplexity)})" if memory else ""
        parts = [
            f"perplexity {fmt.ppl(score.perplexity)}{network}{known}",
            f"{score.total_bits:.1f} bits over {len(score.words)} tokens",
            f"{score.bits_per_char:.2f} bits/char",
            self.memory.label,
        ]
        if score.unknown:
            parts.append(f"unknown (scored as <unk>): {' '.join(score.unknown)}")
        self._info(Text(packed(parts, self.query_one("#score-info").size.width or 76)))
        width = self.screen.size.width
        columns: tuple[str, ...] = SCORE_COLUMNS
        if memory:
            columns = tuple(c for c in MEMORY_COLUMNS if width >= CACHE_FROM or c != "cache>")
            columns += (MEMORY_GUESS,)
        table = self._table_with(columns)
        most = max((w.surprisal_bits for w in score.words), default=1.0) or 1.0
        bar_width = max(0, min(16, width - (104 if memory else 64)))
        for w in score.words:
            word = Text(w.label)
            if not w.known:
                word.append(" (unknown)", style="bold red" if self.colour else "bold")
            bits = f"{w.surprisal_bits:5.2f}"
            if bar_width:
                bits = f"{bits} {bar(w.surprisal_bits / most, bar_width)}"
            cells = {
                "#>": num(str(w.position + 1)),
                "word": word,
                "prob>": num(fmt.prob(w.prob)),
                "network>": num(fmt.prob(w.network_prob)),
                "cache>": num(fmt.cache_prob(w.cache_prob)),
                "memory>": num(percent(w.cache_share) if w.cache_prob is not None else "-"),
                "bits": bits,
                "rank>": num(f"{w.rank:,}"),
                MEMORY_GUESS: f"{w.top_guess_label} {fmt.prob(w.top_prob)}",
            }
            table.add_row(*(cells[name] for name in columns), key=f"word-{w.position}")

    def _table_with(self, columns: tuple[str, ...]) -> DataTable:
        return self.query_one(FitTable).with_columns(columns)

    # -- comparing with a second checkpoint --------------------------------------------------
    def toggle_comparison(self) -> None:
        """m: pick a second checkpoint and compare; m again: back to the single model."""
        if self.compare_subject is not None:
            self.stop_comparing()
            return
        if self.line_score is None:
            self.notify(
                "score a line first (type it, Enter), then m compares it", severity="warning"
            )
            return
        from lyrics_tui.core.paths import checkpoint_dir, list_checkpoints
        from lyrics_tui.tui.screens.load import LoadScreen

        folder = self.checkpoint_folder or checkpoint_dir()
        start = folder if folder.is_dir() else Path.cwd()

        def chosen(path: str | None) -> None:
            if path:
                self._info(f"reading {Path(path).name}…")
                self._load_compare(path)

        purpose = "Compare with a checkpoint (the model held stays)"
        self.app.push_screen(LoadScreen(list_checkpoints(folder), start, purpose), chosen)

    @work(thread=True, exclusive=True, group="inspect-compare", exit_on_error=False)
    def _load_compare(self, path: str) -> None:
        from lyrics_tui.core.inspection.subject import load_subject
        from lyrics_tui.core.tokens import warm_up

        try:
            subject = load_subject(path)
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
            self.score(self.scored_text)
        if self.comparison is None:  # the comparison failed: back to the single model
            self.stop_comparing()
        elif self.comparison.note:
            self.notify(self.comparison.note, severity="warning", timeout=8)

    def stop_comparing(self) -> None:
        self.compare_subject = self.comparison = None
        if self.line_score is not None:
            self._draw_score(self.line_score)

    def _draw_comparison(self, cmp: LineComparison) -> None:
        a, b = cmp.a, cmp.b
        verdict = {
            "a": "A reads it better",
            "b": "B reads it better",
            "same": "both read it alike",
        }[cmp.better]
        self._info(
            Text(
                f"A {Path(a.label).name or 'model'} · B {Path(b.label).name or 'model'}\n"
                f"perplexity A {fmt.ppl(a.perplexity)} · B {fmt.ppl(b.perplexity)} · bits/char "
                f"A {a.bits_per_char:.2f} · B {b.bits_per_char:.2f} — {verdict}"
                + (f"\n{cmp.note}" if cmp.note else " · m or Esc: one model")
            )
        )
        table = self._table_with(COMPARE_COLUMNS)
        for w in cmp.words:
            word = Text(w.label)
            if w.unknown_to:
                word.append(
                    f" (unknown to {w.unknown_to})", style="bold red" if self.colour else "bold"
                )
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
