"""Reading a text once: the top layer's h (and an LSTM's c) after every token."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lyrics_tui.core.errors import LyricsError
from lyrics_tui.core.inspection.common import display_token
from lyrics_tui.core.inspection.subject import Subject
from lyrics_tui.core.tokens import NEWLINE
from lyrics_tui.core.vocab import UNK

MAX_CELL_TOKENS = 20_000  # a text longer than this is cut (20,000 × 512 units is 40 MB of h)
STATES = ("h", "c")
SCALE_FLOOR = 0.1  # a unit quieter than this is not stretched to full shade


@dataclass(frozen=True)
class CellReading:
    """The top layer's state after each token of a text, from a fresh line start."""

    tokens: tuple[str, ...]  # line ends included, as NEWLINE
    labels: tuple[str, ...]  # as a view shows them (the line end as ↵)
    known: tuple[bool, ...]  # False: not in the vocabulary, read as <unk>
    line_of: tuple[int, ...]  # the line (0-based) each token belongs to; a line end ends its line
    h: np.ndarray  # (tokens, hidden) float32
    c: np.ndarray | None  # the LSTM's cell state, same shape; None for RNN and GRU
    cell: str
    layer: int  # the layer read: the top one (1-based)
    source: str  # where the text came from, for a view's header
    cut: int = 0  # tokens left out past MAX_CELL_TOKENS

    @property
    def hidden_size(self) -> int:
        return int(self.h.shape[1])

    @property
    def states(self) -> tuple[str, ...]:
        return STATES if self.c is not None else ("h",)

    def values(self, state: str = "h") -> np.ndarray:
        """(tokens, hidden) activations of h or c."""
        if state == "c" and self.c is not None:
            return self.c
        if state != "h":
            raise LyricsError(f"this {self.cell.upper()} has no cell state c; use h")
        return self.h

    def unit(self, unit: int, state: str = "h") -> np.ndarray:
        check_unit(unit, self.hidden_size)
        return self.values(state)[:, unit]

    def scale(self, unit: int, state: str = "h") -> float:
        """What full shade means for one unit: its largest |value| over the text (at least
        SCALE_FLOOR). Most values of h lie within ±0.3, so on a fixed ±1 scale a unit's
        pattern would hide in two shades; the views print the scale beside it."""
        values = self.unit(unit, state)
        return max(SCALE_FLOOR, float(np.max(np.abs(values)))) if values.size else 1.0

    def lines(self) -> list[tuple[int, int]]:
        """Each line's tokens as (start, end), end exclusive, its line end included."""
        spans: list[tuple[int, int]] = []
        start = 0
        for i, token in enumerate(self.tokens):
            if token == NEWLINE:
                spans.append((start, i + 1))
                start = i + 1
        if start < len(self.tokens):
            spans.append((start, len(self.tokens)))
        return spans

    def span_text(self, start: int, end: int) -> str:
        return "".join(t if t != NEWLINE else "/" for t in self.tokens[start:end]).strip("/")


def check_unit(unit: int, hidden: int) -> None:
    if not 0 <= unit < hidden:
        raise LyricsError(f"unit must be between 0 and {hidden - 1}")


def text_lines(text: str | Sequence[str]) -> list[str]:
    """The non-blank lines of a text (a string with line breaks, or lines)."""
    parts = (
        text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        if isinstance(text, str)
        else text
    )
    return [line.strip() for line in parts if line.strip()]  # fmt: skip


@dataclass(frozen=True)
class CellText:
    """A text split as the model splits it, ready to read: its tokens (each line ending with
    a line end) and the line each belongs to, cut at MAX_CELL_TOKENS."""

    tokens: tuple[str, ...]
    line_of: tuple[int, ...]
    source: str = ""
    cut: int = 0  # tokens left out


def split_text(subject: Subject, text: str | Sequence[str], source: str = "") -> CellText:
    """The text's tokens as `read_cells` reads them (jieba or characters, as the model)."""
    lines = text_lines(text)
    if not lines:
        raise LyricsError("nothing to read: the text is empty")
    tokens: list[str] = []
    line_of: list[int] = []
    for number, line in enumerate(subject.tokenizer.lines(lines)):
        tokens.extend(line)
        line_of.extend([number] * len(line))
        if len(tokens) > MAX_CELL_TOKENS:
            break
    cut = max(0, len(tokens) - MAX_CELL_TOKENS)
    return CellText(tuple(tokens[:MAX_CELL_TOKENS]), tuple(line_of[:MAX_CELL_TOKENS]), source, cut)


def read_cells(
    subject: Subject, text: str | Sequence[str] | CellText, source: str = ""
) -> CellReading:
    """Read a text once from a line start (as training reads it: every line ends with a line
    end) and keep the top layer's state after each token. `text`: a string, lines, or a text
    already split (split_text)."""
    split = text if isinstance(text, CellText) else split_text(subject, text, source)
    vocab, stepper = subject.vocab, subject.stepper
    ids = [vocab.id(NEWLINE), *vocab.encode(split.tokens)]  # the line start first, as in scoring
    h, c = _read_states(stepper, ids)
    config = stepper.config
    return CellReading(
        tokens=split.tokens,
        labels=tuple(display_token(t) for t in split.tokens),
        known=tuple(t in vocab and t != UNK for t in split.tokens),
        line_of=split.line_of,
        h=h[1:],
        c=c[1:] if c is not None else None,
        cell=config.cell,
        layer=config.layers,
        source=split.source,
        cut=split.cut,
    )


def _read_states(stepper: Any, ids: list[int]) -> tuple[np.ndarray, np.ndarray | None]:
    """One pass: the numpy stepper's whole-sequence reader, else token by token."""
    if hasattr(stepper, "read_sequence"):
        h, c = stepper.read_sequence(ids)
        return np.asarray(h, np.float32), None if c is None else np.asarray(c, np.float32)
    state = stepper.initial_state()
    hs, cs = [], []
    for token_id in ids:
        _, state = stepper.step(state, token_id)
        h, c = stepper.hidden_vectors(state)
        hs.append(np.asarray(h, np.float32).reshape(-1))
        if c is not None:
            cs.append(np.asarray(c, np.float32).reshape(-1))
    return np.stack(hs), (np.stack(cs) if cs else None)


def held_out_text(subject: Subject) -> tuple[list[str], str] | None:
    """The last lines of the model's corpus, those its training held out (the validation
    share its checkpoint records), and a label; None when the corpus file is not here."""
    from lyrics_tui.core.corpus import corpus_path, read_corpus, split_lines

    if not subject.corpus:
        return None
    try:
        path = corpus_path(subject.corpus)
        corpus = read_corpus(path)
    except LyricsError:
        return None
    fraction = subject.val_fraction if subject.val_fraction > 0 else 0.1
    _, held = split_lines(corpus.lines, fraction)
    return held, f"{Path(path).name}, last {len(held):,} lines (held out)"


def split_held_out(subject: Subject) -> CellText | None:
    """The model's held-out lines split as `read_cells` reads them; None when the corpus is
    not here."""
    held = held_out_text(subject)
    return split_text(subject, *held) if held is not None else None
