"""The memory control: song memory's weight λ as the playground sets it (core/cache.py).

The model's fitted settings (N, θ, λ) and the λ chosen with the keys; the prompt pane shows it
beside the temperature, generation and the inspection screen use it. Core owns the numbers
(CacheSettings.with_lambda keeps λ within 0 and its maximum); this only remembers the choice.
No import of core here: the prompt pane shows it in the first frame.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lyrics_tui.core.cache import CacheSettings

MEMORY_STEP = 0.1  # one key press; λ 0 is off, core caps it (MAX_LAMBDA)
MEMORY_LABEL_MAX = len("memory λ 0.46 (fitted)")  # the longest label (the sampler line's room)


@dataclass(frozen=True)
class MemoryChoice:
    """The model's fitted song memory and the weight chosen for it."""

    fitted: CacheSettings | None = None  # the model's (None: not fitted, or no model)
    lam: float | None = None  # the λ chosen; None: the fitted one; 0: off
    has_model: bool = False
    note: str = ""  # why there is no fit, and how to get one (when fitted is None)
    kept: float | None = None  # the λ chosen when M turned memory off: M brings it back

    @property
    def weight(self) -> float:
        """λ in effect (0: off)."""
        if self.fitted is None:
            return 0.0
        return self.fitted.lam if self.lam is None else self.lam

    @property
    def settings(self) -> CacheSettings | None:
        """What generation and the inspection views use (None: the network alone)."""
        if self.fitted is None or self.weight <= 0:
            return None
        return self.fitted if self.lam is None else self.fitted.with_lambda(self.lam)

    @property
    def label(self) -> str:
        """The sampler line's words for it ("" with no model)."""
        if not self.has_model:
            return ""
        if self.fitted is None:
            return "memory: not fitted"
        if self.weight <= 0:
            return "memory off"
        return f"memory λ {self.weight:.2f}" + (" (fitted)" if self.lam is None else "")

    def nudged(self, delta: float) -> MemoryChoice:
        """λ one key press away, within core's limits; back at the fitted λ it follows the fit."""
        if self.fitted is None:
            return self
        lam = self.fitted.with_lambda(self.weight + delta).lam
        return replace(self, lam=None if lam == self.fitted.lam else lam)

    def toggled(self) -> MemoryChoice:
        """Off when on; when off, the λ chosen before (else the fitted one, else one step)."""
        if self.fitted is None:
            return self
        if self.weight > 0:
            return replace(self, lam=0.0, kept=self.lam)
        if self.kept is not None:
            return replace(self, kept=None).nudged(self.kept)  # from 0: to the λ kept
        return replace(self, lam=None) if self.fitted.on else self.nudged(MEMORY_STEP)

    def for_model(
        self, fitted: CacheSettings | None, has_model: bool = True, note: str = ""
    ) -> MemoryChoice:
        """The same choice of λ over another model's fit (a load, a new epoch's fit)."""
        return MemoryChoice(fitted, self.lam, has_model, note, self.kept)
