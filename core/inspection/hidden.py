"""The hidden-state trace: the top layer's state after every word of a prompt and a generation."""

from __future__ import annotations

from dataclasses import dataclass

from lyrics_tui.core.errors import SettingsError
from lyrics_tui.core.inspection.common import Serialisable
from lyrics_tui.core.inspection.step import StepThrough
from lyrics_tui.core.inspection.subject import Subject
from lyrics_tui.core.inspection.units import HiddenStep
from lyrics_tui.core.sampling import SamplerSettings

MAX_HIDDEN_STEPS = 1000


@dataclass(frozen=True)
class HiddenTrace(Serialisable):
    cell: str
    hidden_size: int
    layer: int  # the layer shown: the top one (1-based)
    text: str
    steps: tuple[HiddenStep, ...]
    seed: int


def hidden_trace(
    subject: Subject, prompt: str = "", length: int = 20, settings: SamplerSettings | None = None
) -> HiddenTrace:
    """Read the prompt, generate `length` words, and report the top layer's state after every
    word read (the line start and prompt words first)."""
    if not 0 <= length <= MAX_HIDDEN_STEPS:
        raise SettingsError(f"length must be between 0 and {MAX_HIDDEN_STEPS}")
    walk = StepThrough(subject, settings, prompt, top=1)
    for _ in range(length):
        walk.sample()
    config = subject.stepper.config
    return HiddenTrace(
        cell=config.cell,
        hidden_size=config.hidden,
        layer=config.layers,
        text=walk.text,
        steps=walk.hidden_steps,
        seed=walk.seed,
    )
