"""The hidden state as a view draws it: one vector quantised for a heat strip or a sparkline, and
the top layer's state after each word read."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lyrics_tui.core.inspection.common import Serialisable, display_token
from lyrics_tui.core.steppers import Stepper

LEVELS = 4  # hidden units are quantised to integers in [-LEVELS, LEVELS]
_SPARK = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class UnitStrip(Serialisable):
    """One vector of hidden units, ready for a heat strip or a sparkline.

    levels[i] is values[i] quantised to an integer in [-LEVELS, LEVELS] over [-scale, scale]
    (0 is 0; the sign says which way the unit leans, the magnitude how far). h of every cell lies in
    [-1, 1] so its scale is 1; an LSTM's cell state c is unbounded and is scaled by its largest
    |value| (at least 1), reported in `scale`.
    """

    values: tuple[float, ...]  # per unit, rounded to 4 decimals
    levels: tuple[int, ...]
    scale: float
    norm: float  # L2 norm
    mean_abs: float
    max_abs: float
    saturated: float  # share of units with |value| >= 0.95 (a tanh unit stuck at its limit)

    @property
    def spark(self) -> str:
        """A ready-made sparkline: one block per unit, ▁ = -scale, █ = +scale."""
        return _spark(self.values, self.scale)

    def binned(self, width: int) -> tuple[float, ...]:
        """Values squeezed to at most `width` cells for a narrow strip: each cell keeps the
        strongest unit of its group, sign included."""
        n = len(self.values)
        if width <= 0 or n <= width:
            return self.values
        edges = np.linspace(0, n, width + 1).astype(int)
        return tuple(
            max(self.values[a : max(b, a + 1)], key=abs) for a, b in itertools.pairwise(edges)
        )

    def binned_levels(self, width: int) -> tuple[int, ...]:
        return tuple(_level(v, self.scale) for v in self.binned(width))

    def spark_binned(self, width: int) -> str:
        return _spark(self.binned(width), self.scale)


def _level(value: float, scale: float) -> int:
    return int(max(-LEVELS, min(LEVELS, round(value / scale * LEVELS))))


def _spark(values: Iterable[float], scale: float) -> str:
    out = []
    for v in values:
        i = math.floor((v / scale + 1.0) / 2.0 * len(_SPARK))
        out.append(_SPARK[max(0, min(len(_SPARK) - 1, i))])
    return "".join(out)


def unit_strip(vector: np.ndarray, scale: float | None = None) -> UnitStrip:
    """Quantise one hidden vector. scale None: max(1, largest |value|)."""
    v = np.asarray(vector, dtype=np.float64).reshape(-1)
    max_abs = float(np.max(np.abs(v))) if v.size else 0.0
    if scale is None:
        scale = max(1.0, max_abs)
    levels = np.clip(np.rint(v / scale * LEVELS), -LEVELS, LEVELS).astype(int)
    return UnitStrip(
        values=tuple(round(float(x), 4) for x in v),
        levels=tuple(int(x) for x in levels),
        scale=float(scale),
        norm=float(np.linalg.norm(v)),
        mean_abs=float(np.mean(np.abs(v))) if v.size else 0.0,
        max_abs=max_abs,
        saturated=float(np.mean(np.abs(v) >= 0.95)) if v.size else 0.0,
    )


@dataclass(frozen=True)
class HiddenStep(Serialisable):
    """The top layer's state right after the network has read one word."""

    index: int  # position in the whole sequence read so far (0: the line start fed first)
    text: str  # the word just read
    label: str  # display_token(text)
    generated: bool  # False for the line start and prompt words
    h: UnitStrip
    c: UnitStrip | None  # LSTM only
    change: float  # L2 distance of h from the previous step's h (0 for the first)


def hidden_step(
    stepper: Stepper,
    state: Any,
    index: int,
    text: str,
    generated: bool,
    previous_h: np.ndarray | None,
) -> tuple[HiddenStep, np.ndarray]:
    h, c = stepper.hidden_vectors(state)
    h = np.asarray(h, dtype=np.float64).reshape(-1)
    change = float(np.linalg.norm(h - previous_h)) if previous_h is not None else 0.0
    step = HiddenStep(
        index=index,
        text=text,
        label=display_token(text),
        generated=generated,
        h=unit_strip(h, scale=1.0),
        c=unit_strip(np.asarray(c)) if c is not None else None,
        change=change,
    )
    return step, h
