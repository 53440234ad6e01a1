"""The marks a view puts on a song's finished lines: the rhyme group its last word ends on, and
whether the line comes back (it repeats one of the 30 lines before it).

Reading a rhyme needs pypinyin's dictionary (a few tenths of a second to load): a view that
must not wait asks with `wait=False` and gets no groups until it has been loaded (by
`warm_up`, in a thread)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache

from lyrics_tui.core.settings import LINE_WINDOW
from lyrics_tui.core.songform.rhyme import HAN, NO_GROUP, carries_rhyme, rhyme_group


@dataclass(frozen=True)
class LineMark:
    number: int  # the line's index in the text (0: the first)
    end: int  # the offset in the line of its last Han character (-1: none)
    group: int  # the rhyme group it ends on (NO_GROUP: none, a neutral tone, or not known yet)
    returns: bool  # the line repeats one of the LINE_WINDOW lines before it


@lru_cache(maxsize=4096)
def line_rhyme(line: str) -> int:
    """The rhyme group a line ends on, as the writer hears it (a neutral-tone ending has
    none)."""
    return rhyme_group(line) if carries_rhyme(line) else NO_GROUP


def ready() -> bool:
    return "pypinyin" in sys.modules


def warm_up() -> None:
    """Load pypinyin's dictionary (call it in a thread)."""
    line_rhyme("好")


def line_marks(text: str, wait: bool = True) -> list[LineMark]:
    """A mark for each finished line of `text` (each line followed by a line end)."""
    lines = text.split("\n")[:-1]
    known = wait or ready()
    marks = []
    for i, line in enumerate(lines):
        ends = [m.start() for m in HAN.finditer(line)]
        end = ends[-1] if ends else -1
        group = line_rhyme(line) if known and end >= 0 else NO_GROUP
        returns = bool(line.strip()) and line in lines[max(0, i - LINE_WINDOW) : i]
        marks.append(LineMark(i, end, group, returns))
    return marks
