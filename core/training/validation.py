"""Validation within bounds: the held-out split read as streams side by side, song memory's
per-epoch figure and its fit on bounded stretches of it, and the estimates a budget needs.

A run reads the first `read` tokens of the split each epoch (all of it, unless a time budget
is too short for that); song memory's figure each epoch covers the first `quick` of them and
the fit after training the first `fit` (why those sizes: docs/performance.md). The features
of the latest and the best epoch's reading are kept, so the fit reads nothing again.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from lyrics_tui.core import cache_eval
from lyrics_tui.core.cache import CacheFit, CacheSettings
from lyrics_tui.core.cache_eval import StreamFeatures
from lyrics_tui.core.checkpoint import Checkpoint
from lyrics_tui.core.model import RNNLanguageModel
from lyrics_tui.core.training.clock import PhaseCosts, RunClock, Timer

FIT_TOKENS = 8_000  # enough to choose N, θ and λ (docs/performance.md)
QUICK_TOKENS = 2_000  # the per-epoch song-memory figure's (it chooses λ alone)
MIN_READ_TOKENS = 2_000  # however short the budget, validation reads at least this many
READ_SHARE = 0.05  # with a budget, one validation may take this share of it
PROBE_TOKENS = 2_048  # read at the start, as PROBE_STREAMS streams, to learn the speed here
PROBE_STREAMS = 8
FIT_PER_QUICK = 20.0  # a full fit costs about this many per-epoch figures over as many tokens


@dataclass(frozen=True)
class Stretches:
    """How many validation positions each reading covers."""

    total: int  # the split's
    read: int  # the plain figure's, each epoch
    quick: int  # song memory's figure's, each epoch (the first of those read)
    fit: int  # song memory's fit's, after training

    @property
    def bounded(self) -> bool:
        return self.read < self.total

    def about(self) -> str:
        """Which tokens the figures are over, in words."""
        if not self.bounded:
            return f"all {self.total:,} validation tokens"
        return f"the first {self.read:,} of {self.total:,} validation tokens"


def stretches(total: int, read: int | None = None) -> Stretches:
    """The stretches of a split of `total` positions read `read` at a time (None: all)."""
    read = total if read is None else max(0, min(total, read))
    return Stretches(total, read, min(read, QUICK_TOKENS), min(read, FIT_TOKENS))


@dataclass(frozen=True)
class Reading:
    """One validation: the plain loss, song memory's figure, and what the fit needs."""

    loss: float
    tokens: int
    cache_settings: CacheSettings | None  # the per-epoch guess: N and θ fixed, λ chosen
    cache_ppl: float | None
    cache_tokens: int
    features: StreamFeatures  # the first `fit` positions


def validate(
    model: RNNLanguageModel, val_ids: torch.Tensor, unk_id: int, where: Stretches, device: str
) -> Reading | None:
    """Read the split's first `where.read` positions; None when there is nothing to read."""
    if where.read < 1:
        return None
    features = cache_eval.read_stream(model, val_ids[: where.read + 1], unk_id, device, where.fit)
    quick = features.head(where.quick)
    settings, ppl = None, None
    if quick.tokens >= cache_eval.MIN_FIT_TOKENS:
        settings, ppl = cache_eval.quick_fit(quick)
    return Reading(
        features.loss, features.loss_tokens, settings, ppl, quick.tokens if ppl else 0, features
    )


def fit(
    reading: Reading, deadline: float = math.inf, timer: Timer = time.perf_counter
) -> CacheFit | None:
    """Song memory's settings for the state a reading was taken of, over its fit stretch."""
    features = reading.features
    if features.tokens < cache_eval.MIN_FIT_TOKENS:
        return None
    return cache_eval.fit_cache(features, deadline=deadline, timer=timer)


@dataclass(frozen=True)
class Probe:
    """This machine's speed at validating the model being trained, measured at the start."""

    read_per_s: float  # positions read per second
    quick_per_s: float  # positions of song memory's per-epoch figure per second

    def validate_s(self, where: Stretches) -> float:
        quick = where.quick / self.quick_per_s if where.quick else 0.0
        return where.read / self.read_per_s + quick

    def fit_s(self, where: Stretches) -> float:
        """Fitting song memory for one state."""
        return FIT_PER_QUICK * where.fit / self.quick_per_s if where.fit else 0.0

    def readable(self, budget: float) -> int:
        """Positions one validation may read in a run of `budget` seconds."""
        return max(MIN_READ_TOKENS, int(self.read_per_s * READ_SHARE * budget))


def probe(
    model: RNNLanguageModel, val_ids: torch.Tensor, unk_id: int, device: str, timer: Timer
) -> Probe | None:
    """Time a short validation read and song memory's figure over it (None: too short)."""
    piece = val_ids[: PROBE_TOKENS + 1]
    if len(piece) <= cache_eval.MIN_FIT_TOKENS + 1:
        return None
    began = timer()
    streams = PROBE_STREAMS if len(piece) > 2 * cache_eval.BURN_IN else 1
    features = cache_eval.read_stream(model, piece, unk_id, device, streams=streams)
    read_s = timer() - began
    began = timer()
    cache_eval.quick_fit(features)
    quick_s = timer() - began
    tokens = features.tokens
    return Probe(tokens / max(read_s, 1e-6), tokens / max(quick_s, 1e-6))


def plan(
    model: RNNLanguageModel,
    val_ids: torch.Tensor,
    unk_id: int,
    device: str,
    clock: RunClock,
    costs: PhaseCosts,
) -> tuple[Stretches, PhaseCosts]:
    """How much of the split one validation reads, and what the phases after training will
    cost: with a budget, from a short timed read (the whole split and no estimates without)."""
    total = max(0, len(val_ids) - 1)
    found = probe(model, val_ids, unk_id, device, clock.timer) if clock.budget else None
    if found is None:
        return stretches(total), costs
    where = stretches(total, found.readable(clock.budget))
    return where, PhaseCosts(found.validate_s(where), found.fit_s(where), costs.save_s)


def fit_states(
    states: list[tuple[Checkpoint, Reading]], clock: RunClock, saves_s: float
) -> dict[int, CacheFit | None]:
    """Song memory fitted once for each distinct state (by identity) and stored in it. With a
    budget, each fit gets its share of what is left once `saves_s` is kept for the saves."""
    fits: dict[int, CacheFit | None] = {}
    todo = len({id(checkpoint) for checkpoint, _ in states})
    for checkpoint, reading in states:
        if id(checkpoint) not in fits:
            deadline = math.inf
            if clock.budget:
                deadline = clock.timer() + max(0.0, clock.left() - saves_s) / todo
            fits[id(checkpoint)] = fit(reading, deadline, clock.timer)
            todo -= 1
        found = fits[id(checkpoint)]
        checkpoint.cache = found.to_dict() if found else None
    return fits
