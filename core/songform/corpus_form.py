"""What a corpus teaches about song form, stored in each checkpoint at training time: how long
its lines are, how often a line comes back, and how often line ends rhyme."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lyrics_tui.core.settings import LINE_WINDOW
from lyrics_tui.core.songform.lengths import LineLengths
from lyrics_tui.core.songform.rhyme import last_han, rhyme_group

# An older checkpoint stored none of this: a song that returns to its lines about as often as
# Mandarin pop does (the tutorial's corpus: 0.85 and 0.11, docs/writing.md).
DEFAULT_RETURN_AFTER_RETURN = 0.8
DEFAULT_RETURN_AFTER_NEW = 0.1
DEFAULT_CONTINUE_BLOCK = 0.7
MOST_LINES = 100_000
LONGEST_RUN = 16


def return_distances(lines: Sequence[str], window: int = LINE_WINDOW) -> list[int]:
    """For each line, how many lines back it was last sung within `window` (0: it is new)."""
    out = []
    last: dict[str, int] = {}
    for i, line in enumerate(lines):
        seen = last.get(line)
        out.append(i - seen if seen is not None and i - seen <= window else 0)
        last[line] = i
    return out


def returned_lines(lines: Sequence[str], window: int = LINE_WINDOW) -> list[bool]:
    """For each line, whether it repeats one of the `window` lines before it exactly."""
    return [d > 0 for d in return_distances(lines, window)]


def _default_runs() -> tuple[int, ...]:
    # an older checkpoint's: rhymes held for a couplet or a few lines, as pop lyrics do
    return (0, 6, 4, 2, 1, *[0] * (LONGEST_RUN - 4))


def _default_distances() -> tuple[int, ...]:
    # an older checkpoint's: lines come back from 4 or more lines up, rarely from closer
    return tuple(0 if d == 0 else (1 if d < 4 else 4) for d in range(LINE_WINDOW + 1))


def line_end_groups(lines: Sequence[str]) -> list[int]:
    """The rhyme group of each line's last Han character, read on its own (as the shared
    measures do: ../shared/README.md)."""
    groups: dict[str, int] = {}
    out = []
    for line in lines:
        end = last_han(line)
        if end not in groups:
            groups[end] = rhyme_group(end)
        out.append(groups[end])
    return out


def adjacent_rhyme(groups: Sequence[int]) -> float:
    """The share of adjacent line pairs, both with a rhyme group, that end in the same one."""
    pairs = [(a, b) for a, b in itertools.pairwise(groups) if a >= 0 and b >= 0]
    return sum(a == b for a, b in pairs) / len(pairs) if pairs else 0.0


def rhyme_runs(groups: Sequence[int], longest: int = LONGEST_RUN) -> list[int]:
    """runs[n]: how many times n adjacent lines in a row end in one rhyme group (the last
    entry: that many or more; a line without a group ends a run)."""
    runs = [0] * (longest + 1)
    n = 0
    for i, group in enumerate(groups):
        n = n + 1 if i and group >= 0 and group == groups[i - 1] else (1 if group >= 0 else 0)
        if n and (i + 1 == len(groups) or groups[i + 1] != group):
            runs[min(n, longest)] += 1
    return runs


def shuffled_rhyme(groups: Sequence[int], rounds: int = 20, seed: int = 0) -> float:
    """The adjacent rhyme rate by chance: the same line ends in a shuffled order (mean of
    `rounds` shuffles)."""
    rng = random.Random(seed)
    ends = list(groups)
    total = 0.0
    for _ in range(rounds):
        rng.shuffle(ends)
        total += adjacent_rhyme(ends)
    return total / rounds


@dataclass(frozen=True)
class CorpusForm:
    lengths: LineLengths = field(default_factory=LineLengths.default)
    return_after_return: float = DEFAULT_RETURN_AFTER_RETURN  # P(a line returns | the one
    return_after_new: float = DEFAULT_RETURN_AFTER_NEW  # before returned / was new)
    rhyme_rate: float | None = None  # adjacent line ends in one rhyme group (None: unknown)
    rhyme_chance: float | None = None  # the same, line ends shuffled
    # distances[d]: how many returns came from d lines back (d = 1..30; [0] unused)
    distances: tuple[int, ...] = field(default_factory=_default_distances)
    continue_block: float = DEFAULT_CONTINUE_BLOCK  # P(a line returning after a return is
    # the line after the one that came back: a block such as a chorus)
    # runs[n]: how often n lines in a row end in one rhyme group
    runs: tuple[int, ...] = field(default_factory=_default_runs)
    stored: bool = False  # False: an older checkpoint's defaults

    @classmethod
    def of_lines(cls, lines: Sequence[str]) -> CorpusForm:
        """The form of a corpus's lines (the first MOST_LINES of them: enough for every
        figure, and bounded on a large corpus)."""
        lines = [line.strip() for line in itertools.islice(lines, MOST_LINES) if line.strip()]
        back = return_distances(lines)
        after = {True: [0, 0], False: [0, 0]}  # previous returned? -> [returns, lines]
        blocks = 0
        for i in range(1, len(lines)):
            before = back[i - 1] > 0
            after[before][0] += back[i] > 0
            after[before][1] += 1
            # the line after the one that came back comes back too
            source = i - 1 - back[i - 1]
            blocks += before and back[i] > 0 and lines[source + 1] == lines[i]
        distances = [0] * (LINE_WINDOW + 1)
        for d in back:
            distances[d] += d > 0
        groups = line_end_groups(lines)
        return cls(
            lengths=LineLengths.of_lines(lines),
            return_after_return=after[True][0] / after[True][1] if after[True][1] else 0.0,
            return_after_new=after[False][0] / after[False][1] if after[False][1] else 0.0,
            rhyme_rate=adjacent_rhyme(groups),
            rhyme_chance=shuffled_rhyme(groups),
            distances=tuple(distances),
            continue_block=blocks / after[True][0] if after[True][0] else 0.0,
            runs=tuple(rhyme_runs(groups)),
            stored=True,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "lengths": self.lengths.to_dict(),
            "return_after_return": self.return_after_return,
            "return_after_new": self.return_after_new,
            "rhyme_rate": self.rhyme_rate,
            "rhyme_chance": self.rhyme_chance,
            "distances": list(self.distances),
            "continue_block": self.continue_block,
            "runs": list(self.runs),
        }

    @classmethod
    def from_dict(cls, data: Any) -> CorpusForm:
        """A checkpoint's stored form; the defaults for an older file (or a damaged entry)."""
        if not isinstance(data, dict):
            return cls()
        try:
            lengths = LineLengths.from_dict(data["lengths"])
            after_return = float(data["return_after_return"])
            after_new = float(data["return_after_new"])
            if not (0.0 <= after_return <= 1.0 and 0.0 <= after_new <= 1.0):
                raise ValueError
            rate, chance = data.get("rhyme_rate"), data.get("rhyme_chance")
            distances = tuple(int(n) for n in data["distances"])
            block = float(data["continue_block"])
            runs = tuple(int(n) for n in data["runs"])
            if len(distances) != LINE_WINDOW + 1 or min(distances) < 0 or not 0 <= block <= 1:
                raise ValueError
            if len(runs) != LONGEST_RUN + 1 or min(runs) < 0 or sum(runs[2:]) <= 0:
                raise ValueError
            return cls(
                lengths=lengths,
                return_after_return=after_return,
                return_after_new=after_new,
                rhyme_rate=None if rate is None else float(rate),
                rhyme_chance=None if chance is None else float(chance),
                distances=distances,
                continue_block=block,
                runs=runs,
                stored=True,
            )
        except (KeyError, TypeError, ValueError):
            return cls()
