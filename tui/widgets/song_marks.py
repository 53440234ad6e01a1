"""The song's marks on its lines: each finished line's last word in its rhyme group's colour,
and the lines that come back in italics. Core says which (core/songform/marks.py); this only
says where in each line, and how it looks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text

# one colour per rhyme group (core/songform/rhyme.py RHYME_GROUPS, in order), told apart on
# dark and light terminals
RHYME_COLOURS = (
    "bright_red",
    "dark_orange",
    "gold1",
    "chartreuse3",
    "green3",
    "spring_green2",
    "dark_cyan",
    "deep_sky_blue1",
    "dodger_blue2",
    "medium_purple1",
    "orchid",
    "hot_pink",
    "light_salmon1",
)
RETURNING = "italic"


@dataclass(frozen=True)
class LineMark:
    """A finished line's marks: the rhyme group its last word ends on (-1: none) and that
    word's span in the line, and whether the line comes back."""

    group: int = -1
    word: tuple[int, int] = (0, 0)
    returns: bool = False


NO_MARK = LineMark()  # an unfinished line's


def line_marks(text: str, words: Sequence[str] = (), start: int = 0) -> list[LineMark]:
    """A mark per line of `text` (the last, unfinished one has none). `words` are the tokens
    from offset `start`, so that a line's whole last word is coloured (before them, its last
    character)."""
    from lyrics_tui.core.songform.marks import line_marks as core_marks

    bounds = _word_bounds(words, start)
    offset = 0
    marks = []
    for mark, line in zip(core_marks(text, wait=False), text.split("\n"), strict=False):
        word = (0, 0)
        if mark.group >= 0 and mark.end >= 0:
            at = offset + mark.end
            low, high = bounds.get(at, (at, at + 1))
            word = (max(low, offset) - offset, min(high, offset + len(line)) - offset)
        marks.append(LineMark(mark.group, word, mark.returns))
        offset += len(line) + 1
    return marks


def mark_line(text: Text, mark: LineMark) -> Text:
    """Style one drawn line in place (and return it)."""
    if mark.returns:
        text.stylize(RETURNING, 0, len(text))
    if mark.group >= 0:
        text.stylize(RHYME_COLOURS[mark.group % len(RHYME_COLOURS)], *mark.word)
    return text


def _word_bounds(words: Sequence[str], start: int) -> dict[int, tuple[int, int]]:
    """For each character offset inside a word, the word's span."""
    bounds: dict[int, tuple[int, int]] = {}
    at = start
    for word in words:
        for i in range(at, at + len(word)):
            bounds[i] = (at, at + len(word))
        at += len(word)
    return bounds
