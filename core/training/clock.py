"""A run's time: seconds spent (earlier sessions included, pauses left out) and the budget.

The budget covers the whole run: training, every validation, song memory's fit and the saves.
Training therefore ends early enough for what must follow it (`reserve`), estimated from what
those phases cost when they last ran (PhaseCosts).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

Timer = Callable[[], float]


class RunClock:
    """Elapsed seconds of a run, earlier sessions included, paused time not."""

    def __init__(self, budget: float, spent_before: float = 0.0, timer: Timer | None = None):
        self.timer: Timer = timer or time.perf_counter
        self.budget = budget  # seconds in all (0: none)
        self._before = spent_before
        self._started = self.timer()
        self._paused = 0.0

    def elapsed(self) -> float:
        return self._before + self.timer() - self._started - self._paused

    def left(self) -> float:
        """Seconds of the budget left (infinite without one)."""
        return self.budget - self.elapsed() if self.budget else math.inf

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Time spent inside does not count: a paused run is not training."""
        began = self.timer()
        try:
            yield
        finally:
            self._paused += self.timer() - began

    def timed(self) -> Stopwatch:
        return Stopwatch(self.timer)


class Stopwatch:
    """Seconds since it was made, by the run's timer."""

    def __init__(self, timer: Timer) -> None:
        self.timer = timer
        self.started = timer()

    def seconds(self) -> float:
        return self.timer() - self.started


@dataclass
class PhaseCosts:
    """What the phases after the training loop cost, as last measured (seconds): validating
    once, fitting song memory, saving a checkpoint. Before a phase has run, its estimate."""

    validate_s: float = 0.0
    fit_s: float = 0.0  # for one state
    save_s: float = 0.0

    def reserve(self, states: int = 1) -> float:
        """Time to keep for the end of a run: the partial epoch validated, song memory fitted
        for `states` states (the best and the latest, when they differ), the best and the
        latest state saved; a margin for what was not measured."""
        return SAFETY * (self.validate_s + states * self.fit_s + 2 * self.save_s)


SAFETY = 1.25  # phases vary from one run to the next; the budget is a promise
