"""A new line is new: what the recent lines hold, for the rules that keep a new line from
copying one of them (core/songform/writer.py).

Kept line by line in slots (line number modulo the window), so that a line's arrival is a few
small updates rather than a rebuild; the shared tables are replaced, never changed in place,
so that the step-through's copies of a writer (one per step) can share them.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass

import numpy as np

from lyrics_tui.core.settings import LINE_WINDOW

NEAR = 0.6  # a line this similar to a recent one (difflib ratio) nearly repeats it
NEAR_TRIES = 4  # the most recent lines compared in full at a step
COPY_RUN = 4  # characters in a row copied from a recent line that a new line avoids


@dataclass(frozen=True)
class SungLine:
    number: int  # 0 for the song's first line (prompt lines count)
    tokens: tuple[int, ...]
    text: str
    end: str  # its last Han character ("" when none)
    length: int  # its Han characters
    group: int  # the rhyme group it ends on (NO_GROUP: none)
    returned_from: int | None  # the number of the line it repeats, when it came back
    runs: tuple[tuple[str, int], ...] = ()  # (COPY_RUN - 1 characters, the word after them)


def runs_of(tokens: list[str], ids: list[int]) -> tuple[tuple[str, int], ...]:
    """A line's (run of COPY_RUN - 1 characters, the word after it) pairs."""
    out = []
    prefix = ""
    for text, token_id in zip(tokens, ids, strict=True):
        if len(prefix) >= COPY_RUN - 1:
            out.append((prefix[-(COPY_RUN - 1) :], token_id))
        prefix += text
    return tuple(out)


class Novelty:
    """The recent lines' words and characters, and how much of them the line being written
    shares."""

    def __init__(self, window: int = LINE_WINDOW) -> None:
        self.window = window
        self.slots: list[SungLine | None] = [None] * window
        self.holding: dict[str, np.ndarray] = {}  # a character: how often each slot holds it
        self.sizes = np.zeros(window)  # each slot's characters
        self.matchers: dict[int, difflib.SequenceMatcher[str]] = {}  # by slot
        self.copies: dict[str, Counter[int]] = {}  # a run: the words after it
        self.completions: dict[tuple[int, ...], Counter[int]] = {}  # a line less its last word
        self.recent: Counter[tuple[int, ...]] = Counter()
        self.owned = True  # no copy shares the tables: they may change in place
        self.alone = True  # and no copy ever did: the counts in them too (generation's case)
        self.start_line()

    def start_line(self) -> None:
        self.sung: Counter[str] = Counter()  # the line's characters so far
        # for each slot, how many of its characters the line shares (counted with repeats:
        # an upper bound of what difflib finds in common)
        self.shared = np.zeros(self.window)
        self.unread = ""  # characters read but not yet counted in `shared` (similar() does)

    def copy(self) -> Novelty:
        twin = object.__new__(Novelty)
        twin.__dict__.update(self.__dict__)
        twin.slots = list(self.slots)
        twin.sung = Counter(self.sung)
        twin.shared = self.shared.copy()
        self.owned = twin.owned = False  # the tables are shared from now on
        self.alone = twin.alone = False
        return twin

    def read(self, text: str) -> None:
        """The line being written goes on with `text` (counted when `similar` asks: greedy
        decoding never does)."""
        self.unread += text

    def _count_unread(self) -> None:
        for character in self.unread:
            self.sung[character] += 1
            held = self.holding.get(character)
            if held is not None:
                self.shared += self.sung[character] <= held
        self.unread = ""

    def add(self, line: SungLine) -> None:
        """A line was finished: it takes the slot of the one sung `window` lines before."""
        slot = line.number % self.window
        if not self.owned:  # copy on write
            self.holding, self.copies = dict(self.holding), dict(self.copies)
            self.completions, self.recent = dict(self.completions), Counter(self.recent)
            self.sizes, self.matchers = self.sizes.copy(), dict(self.matchers)
            self.owned = True
            fresh = True
        else:
            fresh = False
        more, less = (_more_here, _less_here) if self.alone else (_more, _less)
        holding, copies, completions, recent = (
            self.holding,
            self.copies,
            self.completions,
            self.recent,
        )
        old = self.slots[slot]
        if old is not None:
            for character in set(old.text):
                if fresh:
                    holding[character] = holding[character].copy()
                holding[character][slot] = 0.0
            for run, token_id in old.runs:
                copies[run] = less(copies[run], token_id)
            key = old.tokens[:-1]
            completions[key] = less(completions[key], old.tokens[-1])
            recent[old.tokens] -= 1
            if recent[old.tokens] <= 0:
                del recent[old.tokens]
        for character, times in Counter(line.text).items():
            held = holding.get(character)
            if held is None:
                held = holding[character] = np.zeros(self.window)
            elif fresh:
                held = holding[character] = held.copy()
            held[slot] = times
        for run, token_id in line.runs:
            copies[run] = more(copies.get(run), token_id)
        key = line.tokens[:-1]
        completions[key] = more(completions.get(key), line.tokens[-1])
        recent[line.tokens] += 1
        self.sizes[slot] = len(line.text)
        self.matchers.pop(slot, None)  # made when `similar` first compares with the line
        self.slots[slot] = line

    def copied(self, text: str) -> list[int]:
        """The words that would carry a run of COPY_RUN characters from a recent line."""
        if len(text) < COPY_RUN - 1:
            return []
        found = self.copies.get(text[-(COPY_RUN - 1) :])
        return list(found) if found else []

    def completing(self, tokens: list[int]) -> list[int]:
        """The words that would make the line one of the recent ones."""
        found = self.completions.get(tuple(tokens))
        return list(found) if found else []

    def repeats(self, tokens: list[int]) -> bool:
        return tuple(tokens) in self.recent

    def similar(self, text: str) -> SungLine | None:
        """A recent line that `text` nearly repeats (None: none): a difflib ratio of NEAR or
        more over characters, as the measures count a near-repeat (bench/song_form.py). The
        characters they share bound the ratio from above: only the lines it allows are
        compared, likeliest first."""
        if self.unread:
            self._count_unread()
        bound = 2.0 * self.shared / np.maximum(len(text) + self.sizes, 1.0)
        if not (bound >= NEAR).any():
            return None
        for slot in np.argsort(-bound)[:NEAR_TRIES]:
            line = self.slots[slot]
            if bound[slot] < NEAR or line is None:
                break
            matcher = self.matchers.get(slot)
            if matcher is None:  # (every writer sharing this table holds the same line here)
                matcher = self.matchers[slot] = difflib.SequenceMatcher(None, "", line.text)
            matcher.set_seq1(text)
            if matcher.ratio() >= NEAR:
                return line
        return None


# A count is replaced, never changed in place (a copy of the writer may share it): a new one
# with one key's count moved by one, cheaper than Counter's own + and -.
def _more(counts: Counter[int] | None, key: int) -> Counter[int]:
    out = Counter(counts) if counts else Counter()
    out[key] += 1
    return out


def _less(counts: Counter[int], key: int) -> Counter[int]:
    out = Counter(counts)
    if out[key] <= 1:
        del out[key]
    else:
        out[key] -= 1
    return out


def _more_here(counts: Counter[int] | None, key: int) -> Counter[int]:
    """_more, changing `counts` in place (no copy of the writer was ever made)."""
    if counts is None:
        counts = Counter()
    counts[key] += 1
    return counts


def _less_here(counts: Counter[int], key: int) -> Counter[int]:
    if counts[key] <= 1:
        del counts[key]
    else:
        counts[key] -= 1
    return counts
