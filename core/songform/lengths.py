"""How long a line is: the corpus's distribution of characters per line, and the rule that ends
lines at lengths drawn like it.

A line's length is its number of Han characters (what a singer sings; punctuation and Latin
letters are not counted). The rule is a hazard: with c characters written, a line ends there
with probability h(c) = P(L = c) / P(L >= c), where P is not the corpus's distribution itself
but the lengths the song still lacks against it (`lacking`): a song that has had many short
lines leans to long ones, so that even a short song's lengths follow the corpus's. Generation
never ends a line before `shortest` characters and always ends it by `longest`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from lyrics_tui.core.songform.rhyme import han_characters

LONGEST_COUNTED = 40  # lengths from here on share the last bin
EXCESS_WEIGHT = 0.05  # how much a length the song already has enough of still counts
RARE_SHARE = 0.01  # `shortest` and `longest` leave out this share of lines at each end
# Lengths of an older checkpoint's corpus, which it did not store: a bell around 8-9
# characters, the shape of Mandarin pop lyrics (the tutorial's corpus: mean 9.2).
_DEFAULT_MEAN, _DEFAULT_SPREAD = 9.0, 3.0


@dataclass(frozen=True)
class LineLengths:
    """counts[n]: how many lines of the corpus have n Han characters (the last bin: that many
    or more)."""

    counts: tuple[int, ...]

    @classmethod
    def of_lines(cls, lines: Iterable[str]) -> LineLengths:
        counts = [0] * (LONGEST_COUNTED + 1)
        for line in lines:
            if line.strip():
                counts[min(LONGEST_COUNTED, han_characters(line))] += 1
        return cls(tuple(counts))

    @classmethod
    def default(cls) -> LineLengths:
        n = np.arange(LONGEST_COUNTED + 1)
        weights = np.exp(-0.5 * ((n - _DEFAULT_MEAN) / _DEFAULT_SPREAD) ** 2)
        weights[:2] = 0.0
        return cls(tuple(round(1000 * w) for w in weights / weights.sum()))

    @property
    def lines(self) -> int:
        return sum(self.counts)

    @cached_property
    def shares(self) -> np.ndarray:
        counts = np.asarray(self.counts, dtype=np.float64)
        if counts.sum() <= 0:
            return np.asarray(LineLengths.default().shares)
        return counts / counts.sum()

    @cached_property
    def shortest(self) -> int:
        """The fewest characters a written line has (lines of 0 characters are not written)."""
        cumulative = np.cumsum(self.shares)
        return max(1, int(np.searchsorted(cumulative, RARE_SHARE, side="right")))

    @cached_property
    def longest(self) -> int:
        """The most characters a written line has."""
        cumulative = np.cumsum(self.shares)
        found = int(np.searchsorted(cumulative, 1.0 - RARE_SHARE / 2, side="left"))
        return max(self.shortest, min(LONGEST_COUNTED, found))

    @cached_property
    def hazard(self) -> np.ndarray:
        """h[c]: the chance that a line which reached c characters ends there, 0 below
        `shortest`, 1 from `longest` on."""
        shares = self.shares.copy()
        shares[: self.shortest] = 0.0
        shares[self.longest] += shares[self.longest + 1 :].sum()
        shares[self.longest + 1 :] = 0.0
        reached = np.cumsum(shares[::-1])[::-1]  # P(L >= c)
        with np.errstate(invalid="ignore", divide="ignore"):
            h = np.where(reached > 0, shares / reached, 1.0)
        h[: self.shortest] = 0.0
        h[self.longest :] = 1.0
        return h

    @cached_property
    def quantiles(self) -> np.ndarray:
        """The length at each of 1,000 evenly spaced quantiles, between `shortest` and
        `longest`: drawing a length is picking one."""
        cumulative = np.cumsum(self.shares)
        u = (np.arange(1000) + 0.5) / 1000
        found = np.searchsorted(cumulative, u, side="left")
        return np.clip(found, self.shortest, self.longest)

    @cached_property
    def _wanted(self) -> np.ndarray:
        """The corpus's shares of each length from `shortest` to `longest` (longer lines
        counted at `longest`), summing to 1."""
        top = self.longest
        wanted = self.shares[: top + 1].copy()
        wanted[top] += self.shares[top + 1 :].sum()
        wanted[: self.shortest] = 0.0
        return wanted / wanted.sum()

    def lacking(self, sung: np.ndarray) -> np.ndarray:
        """reach[c]: of the lines a song with `sung` lines of each length still lacks against
        the corpus (lengths over its share count a little, EXCESS_WEIGHT), the share of c
        characters or more, between `shortest` and `longest` (reach[longest + 1] = 0)."""
        top, wanted = self.longest, self._wanted
        had = np.zeros(top + 1)
        n = min(len(sung), top + 1)
        had[:n] = sung[:n]
        had[top] += float(np.sum(sung[n:]))
        lack = np.maximum(wanted * (had.sum() + 1.0) - had, 0.0) + EXCESS_WEIGHT * wanted
        lack /= lack.sum()
        return np.append(np.cumsum(lack[::-1])[::-1], 0.0)

    def end_chances(self, reach: np.ndarray, written: np.ndarray, step: float) -> np.ndarray:
        """The chance that a line of `written` characters ends now, when the next word is about
        `step` characters long: the share of the lengths it lacks from here to the next word
        (the lengths a word steps over end the line before it or after it), 0 below
        `shortest`, 1 from `longest` on."""
        written = np.asarray(written, dtype=np.float64)
        start = np.clip(written, 0.0, self.longest + 1.0)
        ahead = np.clip(written + max(step, 1.0), 0.0, self.longest + 1.0)
        here = np.interp(start, np.arange(len(reach)), reach)
        later = np.interp(ahead, np.arange(len(reach)), reach)
        with np.errstate(invalid="ignore", divide="ignore"):
            chance = np.where(here > 0, (here - later) / here, 1.0)
        chance = np.where(written < self.shortest, 0.0, chance)
        return np.where(written >= self.longest, 1.0, np.clip(chance, 0.0, 1.0))

    @property
    def mean(self) -> float:
        return float((self.shares * np.arange(len(self.shares))).sum())

    def distance(self, other: LineLengths | Sequence[int]) -> float:
        """Total-variation distance between the two histograms (0 same, 1 disjoint)."""
        theirs = other if isinstance(other, LineLengths) else LineLengths(tuple(other))
        return float(0.5 * np.abs(self.shares - theirs.shares).sum())

    def to_dict(self) -> dict[str, Any]:
        return {"counts": list(self.counts)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LineLengths:
        counts = [int(n) for n in data["counts"]][: LONGEST_COUNTED + 1]
        if any(n < 0 for n in counts) or sum(counts) <= 0:
            raise ValueError("line lengths must be counts, not all zero")
        counts += [0] * (LONGEST_COUNTED + 1 - len(counts))
        return cls(tuple(counts))
