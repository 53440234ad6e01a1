"""The units ranked against a named pattern or a selection (LSTMVis's rule), and where the
selected units fire together."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lyrics_tui.core.errors import LyricsError
from lyrics_tui.core.inspection.cells.patterns import PATTERNS, RhymeGroup, pattern_targets
from lyrics_tui.core.inspection.cells.reading import CellReading
from lyrics_tui.core.inspection.cells.scores import auc_by_unit, correlation_by_unit
from lyrics_tui.core.inspection.common import Serialisable

SELECTION = "selection"
THRESHOLD = 0.3  # a unit is "on" at or above this (LSTMVis's threshold; the user may move it)
AROUND = 1  # tokens just before and after a selection where its units must be off
TOGETHER = 5  # the strongest matching units whose joint firing is looked for elsewhere


@dataclass(frozen=True)
class UnitScore(Serialisable):
    unit: int
    score: float  # the ranking key: max(AUC, 1 − AUC), |r|, or the selection's margin
    value: float  # as measured: the AUC (0..1), r (−1..1) or the margin
    sign: int  # +1: higher where the pattern holds (on across a selection); −1: lower
    matched: bool = True  # a selection: on across it and off around it (LSTMVis's rule)


@dataclass(frozen=True)
class Place(Serialisable):
    """Where the selection's units are on together: tokens start..end (end exclusive)."""

    start: int
    end: int
    line: int  # 0-based
    text: str


@dataclass(frozen=True)
class Ranking(Serialisable):
    pattern: str  # a name in PATTERNS, or SELECTION
    title: str
    measure: str  # "AUC", "r" or "margin"
    state: str  # "h" or "c"
    units: tuple[UnitScore, ...]  # every unit, best first
    scored: int  # tokens scored
    positives: int  # tokens where a yes/no pattern holds (the selection's length)
    note: str = ""
    span: tuple[int, int] | None = None  # the selection, end exclusive
    threshold: float = THRESHOLD
    matched: int = 0  # units that meet the selection's rule
    together: tuple[int, ...] = ()  # the units whose joint firing `places` lists
    places: tuple[Place, ...] = ()

    @property
    def best(self) -> UnitScore:
        return self.units[0]

    def position(self, unit: int) -> int:
        """Where `unit` stands in the ranking (0: best)."""
        return next(i for i, u in enumerate(self.units) if u.unit == unit)


_LEANS = {
    "AUC": {1: "higher where it holds", -1: "lower where it holds"},
    "r": {1: "rises along the line", -1: "falls along the line"},
    "margin": {1: "on", -1: "on, negative side"},
}
# what each measure is, for a learner (docs/cells.md says more)
MEASURE_MEANING = {
    "AUC": "the chance that the unit is higher at a word where the pattern holds than at one "
    "where it does not (0.5: no link); a unit lower there is shown with 1 − AUC",
    "r": "the correlation with the position in the line, from −1 to +1",
    "margin": "the unit's lowest value across the selection minus its highest just around it",
}


def lean(measure: str, sign: int) -> str:
    """Which way a unit leans, in words: the CLI's table and the playground say it alike."""
    return _LEANS[measure][1 if sign >= 0 else -1]


def _ordered(score: np.ndarray) -> np.ndarray:
    """Unit numbers, highest score first; ties by unit number."""
    return np.lexsort((np.arange(score.shape[0]), -score))


def rank_pattern(
    reading: CellReading, name: str, state: str = "h", rhyme: RhymeGroup | None = None
) -> Ranking:
    """Every unit scored against a named pattern, best first."""
    pattern = PATTERNS.get(name)
    targets = pattern_targets(reading, name, rhyme)
    assert pattern is not None  # pattern_targets checked the name
    values = reading.values(state)[targets.scored]
    wanted = targets.values[targets.scored]
    note = targets.note
    if pattern.kind == "yes/no":
        measured = auc_by_unit(values, wanted > 0.5)
        score = np.maximum(measured, 1.0 - measured)
        sign = np.where(measured >= 0.5, 1, -1)
        positives = int((wanted > 0.5).sum())
        if positives in (0, len(wanted)):
            note = _joined(note, "the pattern never varies in this text: every unit scores 0.5")
        measure = "AUC"
    else:
        measured = correlation_by_unit(values, wanted)
        score, sign, positives, measure = np.abs(measured), np.where(measured >= 0, 1, -1), 0, "r"
    units = tuple(
        UnitScore(int(u), round(float(score[u]), 4), round(float(measured[u]), 4), int(sign[u]))
        for u in _ordered(score)
    )
    return Ranking(name, pattern.title, measure, state, units, len(wanted), positives, note)


def _joined(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def rank_selection(
    reading: CellReading,
    start: int,
    end: int,
    state: str = "h",
    threshold: float = THRESHOLD,
    around: int = AROUND,
    together: int = TOGETHER,
) -> Ranking:
    """LSTMVis's rule for tokens start..end (end exclusive): a unit matches when it is at or
    above `threshold` on every token of the span and below it on the `around` tokens just
    before and after (a unit may match by its negative side, sign −1). Units are ranked by the
    margin: the lowest value across the span minus the highest just around it. Then the
    `together` best matches: every other stretch of the text where they are all on at once."""
    count = len(reading.tokens)
    if not math.isfinite(threshold):
        raise LyricsError(f"the threshold must be a number, not {threshold}")
    if not 0 <= start < end <= count:
        raise LyricsError(f"a selection must lie within tokens 0..{count} and hold at least one")
    if around < 0 or together < 1:
        raise LyricsError("around must be 0 or more and together at least 1")
    values = reading.values(state)
    inside = values[start:end]
    beside = np.r_[max(0, start - around) : start, end : min(count, end + around)]
    margins, matched = [], []
    for side in (1, -1):
        low = (side * inside).min(axis=0)
        if beside.size:
            high = (side * values[beside]).max(axis=0)
            margins.append(low - high)
            matched.append((low >= threshold) & (high < threshold))
        else:
            margins.append(low - threshold)
            matched.append(low >= threshold)
    positive = (matched[0] > matched[1]) | ((matched[0] == matched[1]) & (margins[0] >= margins[1]))
    margin = np.where(positive, margins[0], margins[1])
    hit = np.where(positive, matched[0], matched[1])
    sign = np.where(positive, 1, -1)
    order = _ordered(margin + 1e6 * hit)  # the matches first, each group by margin
    units = tuple(
        UnitScore(
            int(u),
            round(float(margin[u]), 4),
            round(float(margin[u]), 4),
            int(sign[u]),
            bool(hit[u]),
        )
        for u in order
    )
    best = tuple(u.unit for u in units[: min(together, int(hit.sum()))])
    places = co_firing(reading, best, sign, state, threshold, (start, end))
    n = int(hit.sum())
    note = "" if n else f"no unit is on across the selection and off around it at {threshold:g}"
    return Ranking(
        SELECTION,
        f"the selection {reading.span_text(start, end)!r}",
        "margin",
        state,
        units,
        end - start,
        end - start,
        note,
        (start, end),
        threshold,
        n,
        best,
        places,
    )


def co_firing(
    reading: CellReading,
    units: Sequence[int],
    sign: np.ndarray,
    state: str,
    threshold: float,
    skip: tuple[int, int] | None = None,
) -> tuple[Place, ...]:
    """Every stretch of tokens where all `units` are on at once (each on its side), in text
    order, leaving out the stretch that overlaps `skip`."""
    if not units:
        return ()
    chosen = np.asarray(units)
    values = reading.values(state)[:, chosen] * sign[chosen]
    on = np.all(values >= threshold, axis=1)
    edges = np.flatnonzero(np.diff(np.r_[0, on.astype(np.int8), 0]))
    places = []
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if skip is not None and a < skip[1] and b > skip[0]:
            continue
        places.append(Place(int(a), int(b), reading.line_of[a], reading.span_text(a, b)))
    return tuple(places)
