"""The named patterns, which need no labels: what each says at every token of a text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lyrics_tui.core.errors import LyricsError
from lyrics_tui.core.inspection.cells.reading import CellReading
from lyrics_tui.core.tokens import NEWLINE

RhymeGroup = Callable[[str], "str | None"]  # a word -> its rhyme group (None: no group)


@dataclass(frozen=True)
class Pattern:
    name: str
    title: str  # as a view says it
    kind: str  # "yes/no" (scored by AUC) or "count" (scored by correlation)
    short: str  # a few characters, for a picker


PATTERNS: dict[str, Pattern] = {
    p.name: p
    for p in (
        Pattern("line-end", "the word before a line end", "yes/no", "line end"),
        Pattern("line-start", "the first word of a line", "yes/no", "line start"),
        Pattern("position", "the position in the line", "count", "position"),
        Pattern("returning", "a line sung before in the text", "yes/no", "returns"),
        Pattern("rhyme", "a last word rhyming with the line before's", "yes/no", "rhyme"),
    )
}  # fmt: skip


def same_last_character(word: str) -> str | None:
    """A simpler grouping a caller may pass instead of the rhyme groups: the word's last Han
    character (two words "rhyme" when they end on the same character)."""
    han = [ch for ch in word if "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"]
    return han[-1] if han else None


def default_rhyme() -> tuple[RhymeGroup, str]:
    """The rhyme groups the rhyme pattern uses, the song form's (十三辙 from pinyin finals,
    core/songform/rhyme.py), and a note saying so."""
    from lyrics_tui.core.songform.rhyme import word_rhyme

    return word_rhyme, "rhyme groups (十三辙) from the pinyin final of the last character"


@dataclass(frozen=True)
class Targets:
    """What a pattern says at each token: `values` (1/0, or a count) where `scored` is True."""

    values: np.ndarray  # (tokens,) float64
    scored: np.ndarray  # (tokens,) bool
    note: str = ""


def pattern_targets(reading: CellReading, name: str, rhyme: RhymeGroup | None = None) -> Targets:
    """A named pattern over the words of a text (line ends are not scored: after one, every
    unit knows a line has ended)."""
    if name not in PATTERNS:
        raise LyricsError(f"unknown pattern {name!r}; choose one of {', '.join(PATTERNS)}")
    tokens = reading.tokens
    count = len(tokens)
    words = np.array([t != NEWLINE for t in tokens], dtype=bool)
    values = np.zeros(count)
    note = ""
    if name == "line-end":
        values[:-1] = [t == NEWLINE for t in tokens[1:]]
    elif name == "line-start":
        values[0] = 1.0
        values[1:] = [t == NEWLINE for t in tokens[:-1]]
    elif name == "position":
        position = 0
        for i, token in enumerate(tokens):
            values[i] = position
            position = 0 if token == NEWLINE else position + 1
    elif name == "returning":
        seen: set[str] = set()
        for start, end in reading.lines():
            line = "".join(tokens[start:end]).strip()
            values[start:end] = line in seen
            seen.add(line)
    else:
        group, note = (rhyme, "") if rhyme is not None else default_rhyme()
        return _rhyme_targets(reading, group, note)
    return Targets(values, words, note)


def _rhyme_targets(reading: CellReading, group: RhymeGroup, note: str) -> Targets:
    """At each line's last word: 1 when it rhymes with the last word of the line before (both
    with a group); other tokens are not scored."""
    tokens = reading.tokens
    values = np.zeros(len(tokens))
    scored = np.zeros(len(tokens), dtype=bool)
    previous: str | None = None
    for start, end in reading.lines():
        last = end - 2 if tokens[end - 1] == NEWLINE else end - 1
        if last < start:
            previous = None
            continue
        mine = group(tokens[last])
        if mine is not None and previous is not None:
            scored[last] = True
            values[last] = mine == previous
        previous = mine
    return Targets(values, scored, note)
