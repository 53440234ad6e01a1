"""The song's marks on the output text: each finished line's last word in its rhyme group's
colour, and the lines that come back in italics. Core says which (core/songform/marks.py);
this only styles the text."""

from __future__ import annotations

from collections.abc import Sequence

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


def mark_song(text: Text, words: Sequence[str] = (), start: int = 0) -> Text:
    """Style `text` in place (and return it): `words` are the tokens from offset `start`, so
    that a line's whole last word is coloured (before them, its last character)."""
    from lyrics_tui.core.songform.marks import line_marks

    plain = text.plain
    bounds = _word_bounds(words, start)
    offset = 0
    lines = plain.split("\n")
    for mark, line in zip(line_marks(plain, wait=False), lines, strict=False):
        if mark.returns:
            text.stylize(RETURNING, offset, offset + len(line))
        if mark.group >= 0 and mark.end >= 0:
            at = offset + mark.end
            low, high = bounds.get(at, (at, at + 1))
            low, high = max(low, offset), min(high, offset + len(line))  # within its line
            text.stylize(RHYME_COLOURS[mark.group % len(RHYME_COLOURS)], low, high)
        offset += len(line) + 1
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
