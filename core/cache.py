"""Song memory: a continuous cache over the network's hidden states.

Lyrics repeat themselves (a chorus comes back, a verse echoes its own phrases), and a network
that predicts each word from its hidden state alone forgets what the song already said. The
continuous cache (Grave, Joulin and Usunier, "Improving Neural Language Models with a Continuous
Cache", ICLR 2017) remembers the last N hidden states h_i together with the word that followed
each, and mixes its own guess into the network's:

    p(w) = (1 - λ) · p_network(w) + λ · p_cache(w)
    p_cache(w) ∝ Σ exp(θ · h_t · h_i) over the remembered positions i whose next word was w

h is the top layer's output. θ says how sharply the cache prefers moments like this one, λ how
much it is trusted, N how far back it looks.

<unk> stands for every rare word at once, and a cache that recalled it would be rewarded for
"some rare word again" and make generation print it. So the cache never points at <unk>
(positions whose next word was <unk> are left out) and never changes how likely <unk> is: the
network's p(<unk>) is kept as it is, and the mixture shares out the rest,

    p(w) = (1 - λ) · p_network(w) + λ · (1 - p_network(<unk>)) · p_cache(w)    for w ≠ <unk>

which still sums to 1. An unknown word then costs exactly the same with and without the cache,
so plain and cache perplexities are counted over the same tokens and differ only on known
words. While no usable position is remembered (the start of a text) the network's
distribution is used as it is.

This module is numpy only (the fast CPU path never imports torch): the settings, the figures a
checkpoint stores, and the cache a stepper uses one token at a time. Scoring a whole stream and
fitting the settings with torch: core/cache_eval.py.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lyrics_tui.core.errors import SettingsError
from lyrics_tui.core.settings import SAMPLER

if TYPE_CHECKING:
    from lyrics_tui.core.checkpoint import Checkpoint

CACHE_CHOICES = ("auto", "off")  # or N,THETA,LAMBDA
MAX_WINDOW = 10_000
MAX_THETA = 100.0
MAX_LAMBDA = 0.99
CACHE_HELP = (
    "song memory (a continuous cache over the hidden states): auto uses the settings fitted "
    "after training and stored in the checkpoint, off the network alone, or N,THETA,LAMBDA[,D] "
    "(window in words, sharpness, weight 0..0.99, and the nearest position recalled, 1 = the "
    "word just read; e.g. 500,0.05,0.2)"
)


@dataclass(frozen=True)
class CacheSettings:
    """N, θ and λ (and the nearest position recalled). λ 0 switches the cache off."""

    window: int  # N: how many earlier positions are remembered
    theta: float  # θ: how sharply the cache prefers states like the current one
    lam: float  # λ: the cache's weight in the mixture
    # D: positions fewer than D back are not recalled. At 1 the newest is the word just read,
    # whose state resembles the current one; a cache that recalls it makes that word the
    # favourite next (城市 城市). Fitted with N, θ and λ; older files: 1.
    nearest: int = 1

    @property
    def on(self) -> bool:
        return self.lam > 0.0 and self.window > 0

    def validated(self) -> CacheSettings:
        if not 1 <= self.window <= MAX_WINDOW:
            raise SettingsError(f"the cache window N must be between 1 and {MAX_WINDOW:,}")
        if not (math.isfinite(self.theta) and 0.0 <= self.theta <= MAX_THETA):
            raise SettingsError(f"the cache sharpness θ must be between 0 and {MAX_THETA:g}")
        if not (math.isfinite(self.lam) and 0.0 <= self.lam <= MAX_LAMBDA):
            raise SettingsError(f"the cache weight λ must be between 0 (off) and {MAX_LAMBDA}")
        nearest = SAMPLER["nearest"]
        if not nearest.allows(self.nearest) or self.nearest > self.window:
            raise SettingsError(
                f"the cache's nearest distance D must be {nearest.range_text} (and at most N)"
            )
        return self

    def with_lambda(self, lam: float) -> CacheSettings:
        """The same memory trusted more or less (the playground's memory control)."""
        lam = round(min(MAX_LAMBDA, max(0.0, lam)), 4)
        return CacheSettings(self.window, self.theta, lam, self.nearest)

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "theta": self.theta,
            "lambda": self.lam,
            "nearest": self.nearest,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CacheSettings:
        nearest = int(data.get("nearest", 1))
        # files fitted before θ was held to its range (a tiny network's fit went past it)
        theta = min(float(data["theta"]), MAX_THETA)
        return cls(int(data["window"]), theta, float(data["lambda"]), nearest)

    @property
    def label(self) -> str:
        near = f", D {self.nearest}" if self.nearest > 1 else ""
        return f"N {self.window}, θ {self.theta:.3g}, λ {self.lam:.2f}{near}"

    @property
    def spec(self) -> str:
        """How --cache spells these settings."""
        near = f",{self.nearest}" if self.nearest > 1 else ""
        return f"{self.window},{self.theta:g},{self.lam:g}{near}"


def parse_cache(text: str) -> str | CacheSettings:
    """--cache: "auto", "off" or "N,THETA,LAMBDA[,D]"."""
    value = text.strip().lower()
    if value in CACHE_CHOICES:
        return value
    parts = [p.strip() for p in value.split(",")]
    try:
        if len(parts) not in (3, 4):
            raise ValueError
        nearest = int(parts[3]) if len(parts) == 4 else 1
        settings = CacheSettings(int(parts[0]), float(parts[1]), float(parts[2]), nearest)
    except ValueError:
        raise SettingsError(
            f"{{cache}} must be auto, off or N,THETA,LAMBDA[,D] (e.g. 500,0.05,0.2), not {text!r}"
        ) from None
    return settings.validated()


@dataclass(frozen=True)
class CacheFit:
    """Settings fitted after training, and the figures that chose them (stored in checkpoints)."""

    settings: CacheSettings
    plain_ppl: float  # the network alone, on the text fitted on
    cache_ppl: float  # with the cache, fitted and scored on the same text: optimistic
    tokens: int
    fitted_on: str  # "validation" or a file name
    # Honest figures: settings fitted on the first half of the text, scored on the second.
    cross_plain_ppl: float | None = None
    cross_cache_ppl: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.settings.to_dict(),
            "plain_ppl": self.plain_ppl,
            "cache_ppl": self.cache_ppl,
            "tokens": self.tokens,
            "fitted_on": self.fitted_on,
            "cross_plain_ppl": self.cross_plain_ppl,
            "cross_cache_ppl": self.cross_cache_ppl,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CacheFit:
        def optional(key: str) -> float | None:
            value = data.get(key)
            return None if value is None else float(value)

        return cls(
            settings=CacheSettings.from_dict(data).validated(),  # an edited file: not fitted
            plain_ppl=float(data["plain_ppl"]),
            cache_ppl=float(data["cache_ppl"]),
            tokens=int(data.get("tokens", 0)),
            fitted_on=str(data.get("fitted_on", "validation")),
            cross_plain_ppl=optional("cross_plain_ppl"),
            cross_cache_ppl=optional("cross_cache_ppl"),
        )


def stored_fit(checkpoint: Checkpoint) -> CacheFit | None:
    """The fit a checkpoint stores; None for files saved before song memory, or trained with
    too short a validation text to fit it (or damaged)."""
    data = checkpoint.cache
    if not isinstance(data, dict):
        return None
    try:
        return CacheFit.from_dict(data)
    except (KeyError, TypeError, ValueError, SettingsError):
        return None


def no_fit_note(path: str, playground: bool = False) -> str:
    """Why a checkpoint has no song memory, and what fits it: in the playground, t (training
    on fits it as the run ends); on the command line, --resume or eval --fit-cache."""
    if playground:
        return (
            f"{os.path.basename(path) or 'this model'} has no song memory yet: it is fitted as "
            "a run ends, and this one was stopped early (or saved before song memory existed); "
            "t trains it on and fits it"
        )
    return (
        f"{path or 'this checkpoint'} has no fitted song memory, so the cache is off: it is "
        "fitted as a training run ends, and this run was stopped before its end (train "
        "--resume finishes it), saved before song memory existed, or had too short a "
        "validation text; or fit it on a held-out text: lyrics-tui eval --checkpoint "
        f"{path or 'PATH'} --text HELD_OUT.txt --fit-cache"
    )


@dataclass(frozen=True)
class ResolvedCache:
    settings: CacheSettings | None  # None: off
    source: str  # "stored", "given", "off", "not fitted"
    note: str = ""  # say this to the user (e.g. how to fit an older checkpoint's cache)


def resolve_cache(
    option: str | CacheSettings | None, fit: CacheFit | None, path: str = ""
) -> ResolvedCache:
    """What --cache means for a checkpoint whose stored fit is `fit`: auto (the stored
    settings), off, or the settings given."""
    if option is None or option == "auto":
        if fit is None:
            return ResolvedCache(None, "not fitted", no_fit_note(path))
        return ResolvedCache(fit.settings if fit.settings.on else None, "stored")
    if option == "off":
        return ResolvedCache(None, "off")
    if isinstance(option, CacheSettings):
        return ResolvedCache(option.validated() if option.on else None, "given")
    return resolve_cache(parse_cache(option), fit, path)


# -- the cache, one token at a time (numpy) --------------------------------------------------
@dataclass(frozen=True)
class CacheView:
    """What the cache says at one position: its distribution over the vocabulary and which
    remembered positions it draws on."""

    probs: np.ndarray  # p_cache over the vocabulary (float64, sums to 1; 0 for <unk>)
    weights: np.ndarray  # attention on each usable remembered position (sums to 1)
    positions: np.ndarray  # where each remembered word stands in the text read (int)
    next_ids: np.ndarray  # the word each remembered position points at

    def pointers(self, token_id: int, limit: int = 0) -> tuple[tuple[int, float], ...]:
        """(position, weight) of the earlier occurrences of `token_id` the cache recalls,
        strongest first; their weights sum to probs[token_id]."""
        match = np.flatnonzero(self.next_ids == token_id)
        order = match[np.argsort(-self.weights[match], kind="stable")]
        if limit:
            order = order[:limit]
        return tuple((int(self.positions[i]), float(self.weights[i])) for i in order)


def cache_view(
    keys: np.ndarray,
    next_ids: np.ndarray,
    positions: np.ndarray,
    h: np.ndarray,
    theta: float,
    vocab_size: int,
    unk_id: int,
) -> CacheView | None:
    """p_cache at hidden state `h` over remembered (key, next word) pairs; None when no usable
    position is remembered."""
    usable = next_ids != unk_id
    if not usable.any():
        return None
    k = keys[usable]
    ids = next_ids[usable]
    scores = theta * (k.astype(np.float64) @ np.asarray(h, dtype=np.float64))
    scores -= scores.max()
    weights = np.exp(scores)
    weights /= weights.sum()
    probs = np.bincount(ids, weights=weights, minlength=vocab_size)
    return CacheView(probs, weights, positions[usable], ids)


def mix(network: np.ndarray, cache: np.ndarray | None, lam: float, unk_id: int) -> np.ndarray:
    """(1 - λ) p_network + λ (1 - p_network(<unk>)) p_cache, <unk> keeping the network's
    probability; the network alone when the cache has nothing."""
    if cache is None or lam <= 0.0:
        return network
    unk = network[unk_id]
    mixed = (1.0 - lam) * network
    mixed += (lam * (1.0 - unk)) * cache
    mixed[unk_id] = unk
    return mixed


class NeuralCache:
    """The last N (hidden state, next word) pairs in a ring buffer: adding is one row copy and a
    query one matrix-vector product, so generation stays fast however long the song."""

    def __init__(self, settings: CacheSettings, hidden_size: int, vocab_size: int, unk_id: int):
        self.settings = settings
        self.vocab_size = vocab_size
        self.unk_id = unk_id
        n = settings.window
        self.keys = np.zeros((n, hidden_size), np.float32)
        self.next_ids = np.full(n, unk_id, np.int64)  # <unk>: empty or unusable
        self.positions = np.zeros(n, np.int64)
        self.count = 0
        self._usable: tuple[int, np.ndarray, np.ndarray | None] | None = None  # probs' (below)

    def add(self, h: np.ndarray, next_id: int, position: int | None = None) -> None:
        """Remember that hidden state h was followed by `next_id` (at `position` in the text)."""
        slot = self.count % self.settings.window
        self.keys[slot] = h
        self.next_ids[slot] = next_id
        self.positions[slot] = self.count + 1 if position is None else position
        self.count += 1

    def _ids(self) -> np.ndarray:
        """The next words remembered, <unk> (unusable) for the newest D - 1 of them."""
        n = min(self.count, self.settings.window)
        ids = self.next_ids[:n]
        near = self.settings.nearest - 1
        if near > 0 and n:
            ids = ids.copy()
            ids[(self.count - 1 - np.arange(min(near, n))) % self.settings.window] = self.unk_id
        return ids

    def view(self, h: np.ndarray) -> CacheView | None:
        n = min(self.count, self.settings.window)
        return cache_view(
            self.keys[:n],
            self._ids(),
            self.positions[:n],
            h,
            self.settings.theta,
            self.vocab_size,
            self.unk_id,
        )

    def probs(self, h: np.ndarray) -> np.ndarray | None:
        """p_cache at h, or None while nothing usable is remembered."""
        found = self.probs_at(np.asarray(h, dtype=np.float32)[None, :])
        return None if found is None else found[0]

    def probs_at(self, hs: np.ndarray) -> list[np.ndarray] | None:
        """p_cache at each row of hs (k, hidden), the same cache: a line's words in one
        product, which reads the remembered states once (None while nothing is usable)."""
        n = min(self.count, self.settings.window)
        if n == 0:
            return None
        ids, usable = self._recallable()
        if usable is not None and len(ids) == 0:
            return None
        dots = self.keys[:n] @ hs.T if len(hs) > 1 else (self.keys[:n] @ hs[0])[:, None]
        out = []
        for column in dots.T:
            scores = column.astype(np.float64)
            scores *= self.settings.theta
            if usable is not None:  # (the newest D - 1 and <unk> next words are not recalled)
                # the scores of all, then the usable ones: copying the states cost 3x the product
                scores = scores[usable]
            scores -= np.maximum.reduce(scores)  # (ufunc.reduce: core/distribution.py)
            weights = np.exp(scores)
            weights /= np.add.reduce(weights)
            out.append(np.bincount(ids, weights=weights, minlength=self.vocab_size))
        return out

    def _recallable(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The next words that may be recalled, and which positions they stand at (None: all
        of them); the same from one add to the next, so worked out once per add."""
        known = self._usable
        if known is None or known[0] != self.count:
            ids = self._ids()
            usable = ids != self.unk_id
            if usable.all():
                known = (self.count, ids, None)
            else:
                known = (self.count, ids[usable], usable)
            self._usable = known
        return known[1], known[2]
