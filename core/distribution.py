"""One decoding step: from a step's logits and the sampler's settings to the distribution the
next token is drawn from.

Every probability a view shows comes from here: the model's own distribution (temperature 1,
song memory mixed in), the one actually sampled from after the repetition penalty,
temperature, top-k, top-p and the song form, and the alternatives it passed over
(core/sampling.py streams a whole generation with it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lyrics_tui.core.cache import CacheSettings, mix
from lyrics_tui.core.errors import CheckpointError
from lyrics_tui.core.settings import (
    DEFAULT_REDRAFT,
    DEFAULT_RHYME,
    MAX_RETURNS,
    MAX_TOKENS,
    SAMPLER,
    check_all,
)


@dataclass(frozen=True)
class SamplerSettings:
    """temperature 0 is greedy (the tutorial's argmax); top_k 0 and top_p 1 switch those off."""

    temperature: float = 0.8
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    seed: int | None = None
    max_tokens: int = 100
    max_lines: int = 0  # stop after this many finished lines; 0: no limit
    alternatives: int = 0  # how many top candidates each token reports (no view shows them;
    # for the API: finding them costs a partition of the vocabulary a token)
    cache: CacheSettings | None = None  # song memory (core/cache.py); None: the network alone
    returns: int = MAX_RETURNS  # a line sung this many times in the last 30 is not sung again
    form: bool = True  # song form: line lengths, returning lines, new lines new (songform/)
    rhyme: float = DEFAULT_RHYME  # how strongly line ends rhyme; 0: off
    redraft: float = DEFAULT_REDRAFT  # the share of a song's new lines drafted twice; 0: off

    def validated(self) -> tuple[SamplerSettings, list[str]]:
        """Settings with out-of-range lengths capped, and a note for each cap; raise for
        values that have no sensible reading."""
        notes: list[str] = []
        check_all(SAMPLER, self)  # the ranges --help states (core/settings.py)
        t = self.temperature
        if math.isinf(t) or t > 100:
            notes.append(f"temperature {t:g} capped at 100 (already near uniform)")
            t = 100.0
        max_tokens = self.max_tokens
        if max_tokens > MAX_TOKENS:
            notes.append(f"length {max_tokens:,} capped at {MAX_TOKENS:,} tokens")
            max_tokens = MAX_TOKENS
        if self.cache is not None:
            self.cache.validated()
        return replace(self, temperature=t, max_tokens=max_tokens), notes


FEW_SURVIVORS = 256  # top-k and top-p often leave this few: Distribution.top looks at them alone


@dataclass(frozen=True)
class Distribution:
    """One decoding step. `model` is what the model predicts at temperature 1 (the network's
    softmax, mixed with song memory when it is on); `final` is what is sampled from."""

    model: np.ndarray
    final: np.ndarray
    survivors: int  # tokens with non-zero final probability
    network: np.ndarray | None = None  # the network's own softmax, when song memory is mixed in
    cache: np.ndarray | None = None  # song memory's distribution (None: off or nothing yet)
    cache_weight: float = 0.0  # λ in effect at this step (0: the network alone)

    @property
    def entropy(self) -> float:
        """Of the model distribution, in nats; worked out when asked (the step-through shows it,
        writing a song never reads it)."""
        p = self.model[self.model > 0]
        return float(-(p @ np.log(p)))

    @property
    def network_probs(self) -> np.ndarray:
        return self.model if self.network is None else self.network

    def top(self, k: int, which: str = "final") -> list[tuple[int, float]]:
        """The k likeliest words, likeliest first; from `final`, only those it may sample."""
        probs = self.final if which == "final" else self.model
        k = min(k, len(probs))
        if k <= 0:
            return []
        if which == "final" and self.survivors == 1:  # greedy decoding's: one word left
            best = int(np.argmax(probs))
            return [(best, float(probs[best]))]
        if which == "final" and self.survivors <= FEW_SURVIVORS:  # look among those left
            idx = np.flatnonzero(probs)
            if len(idx) > k:
                idx = idx[np.argpartition(-probs[idx], k - 1)[:k]]
        else:
            idx = np.argpartition(-probs, k - 1)[:k]
        idx = idx[np.argsort(-probs[idx], kind="stable")]
        return [(int(i), float(probs[i])) for i in idx if which != "final" or probs[i] > 0]


def draw(rng: np.random.Generator, probs: np.ndarray) -> int:
    """One index drawn with probabilities `probs`: the very draw `rng.choice(len(probs),
    p=probs)` makes from the same state, without its checks of `probs` (half its cost)."""
    cdf = probs.cumsum()
    cdf /= cdf[-1]
    return int(cdf.searchsorted(rng.random(), side="right"))


def softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)  # no copy when it is one already
    # ufunc.reduce itself: ndarray.max and .sum go through a Python wrapper, a microsecond a
    # call, and writing a token makes a dozen such calls
    e = np.exp(logits - np.maximum.reduce(logits))
    e /= np.add.reduce(e)
    return e


# the song form's step: (what the filters left, the model's own distribution, the network's)
# -> what is sampled
Shape = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Memory:
    """Song memory at one step: the cache's distribution, its weight λ, and <unk>'s id (whose
    probability the cache leaves to the network; core/cache.py)."""

    probs: np.ndarray
    lam: float
    unk_id: int


def next_token_distribution(
    logits: np.ndarray,
    settings: SamplerSettings,
    recent: Sequence[int] = (),
    banned: Sequence[int] = (),
    memory: Memory | None = None,
    shape: Shape | None = None,
    sample_network: bool = False,
) -> Distribution:
    """Apply song memory, repetition penalty, temperature, top-k and top-p to one step's logits.

    With song memory the repetition penalty applies to the network's scores only, before the
    cache is mixed in: it stops the network from looping on its own words, and what the cache
    recalls from earlier in the song (a chorus coming back) is left alone. Temperature, top-k
    and top-p then apply to the mixture, and last the song form (`shape`, core/songform/),
    which sees what the filters left and the model's own distribution. With `sample_network`
    the mixture is the model shown, but what is sampled comes from the network alone (the
    song form writes new lines so, and lets song memory choose the lines that come back).
    Greedy decoding takes the likeliest word of what the form leaves at temperature 1.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if not np.logical_and.reduce(np.isfinite(logits)):
        raise CheckpointError(
            "the network produced NaN or infinite scores: its weights are "
            "broken (retrain, or use an earlier checkpoint)"
        )
    network = softmax(logits)
    penalised = settings.repetition_penalty != 1.0 and len(recent) > 0
    adjusted = _penalised(logits, settings.repetition_penalty, recent) if penalised else logits
    model = network
    extra: dict[str, Any] = {}
    mixed = memory is not None and memory.lam > 0
    if memory is not None and mixed:
        model = mix(network, memory.probs, memory.lam, memory.unk_id)
        extra = {"network": network, "cache": memory.probs, "cache_weight": memory.lam}
        if not sample_network:
            if penalised:
                model_penalised = mix(softmax(adjusted), memory.probs, memory.lam, memory.unk_id)
            adjusted = np.log(np.maximum(model_penalised if penalised else model, 1e-300))
    ban = list(banned) if 0 < len(banned) < len(logits) else []
    if ban:
        adjusted = adjusted.copy() if adjusted is logits else adjusted
        adjusted[ban] = -np.inf
    if settings.temperature == 0:
        final = np.zeros_like(model)
        if shape is None:
            best = np.argmax(adjusted)
        elif adjusted is logits or (not penalised and (not mixed or sample_network)):
            kept = network.copy()  # the network's own distribution, what is banned taken out
            kept[ban] = 0.0
            best = np.argmax(shape(kept, model, network))
        else:
            best = np.argmax(shape(softmax(adjusted), model, network))
        final[int(best)] = 1.0
        return Distribution(model, final, 1, **extra)
    final = _filtered(adjusted, settings)
    if shape is not None:
        final = shape(final, model, network)
    return Distribution(model, final, int(np.count_nonzero(final)), **extra)


def _penalised(logits: np.ndarray, penalty: float, recent: Sequence[int]) -> np.ndarray:
    """The scores with the repetition penalty on the recent words (CTRL's: a positive score
    divided by it, a negative one multiplied)."""
    adjusted = logits.copy()
    ids = np.unique(np.asarray(recent, dtype=np.int64))
    vals = adjusted[ids]
    adjusted[ids] = np.where(vals > 0, vals / penalty, vals * penalty)
    return adjusted


def _filtered(adjusted: np.ndarray, settings: SamplerSettings) -> np.ndarray:
    """Temperature, then top-k and top-p: the distribution sampled from (sums to 1)."""
    # shift before dividing: a tiny temperature must not overflow to inf (and inf - inf = NaN)
    with np.errstate(over="ignore"):
        final = np.exp((adjusted - np.maximum.reduce(adjusted)) / settings.temperature)
    final /= np.add.reduce(final)
    if settings.top_k <= 0 or settings.top_k >= len(final):
        if settings.top_p >= 1.0:
            return final  # nothing cut: it sums to 1 already
    if 0 < settings.top_k < len(final):
        # the k likeliest; among words tied at the k-th probability the lowest ids, so the
        # same scores always give the same set (argpartition alone picks ties arbitrarily)
        kth = -np.partition(-final, settings.top_k - 1)[settings.top_k - 1]
        above = np.flatnonzero(final > kth)
        tied = np.flatnonzero(final == kth)[: settings.top_k - len(above)]
        keep = np.zeros(len(final), dtype=bool)
        keep[above] = True
        keep[tied] = True
        final = np.where(keep, final, 0.0)
    if settings.top_p < 1.0:
        final = nucleus(final, settings.top_p)
    return final / final.sum()


NUCLEUS_FIRST = 512  # the likeliest words looked at first for the nucleus (all if it is larger)


def nucleus(probs: np.ndarray, top_p: float) -> np.ndarray:
    """`probs` with only the smallest set of likeliest words holding `top_p` of the mass (always
    the likeliest; among words tied at the edge the lowest ids): Holtzman et al. 2020's nucleus.
    The set a stable sort of every probability gives, found from the largest few (a partition,
    a sort of those): sorting the whole vocabulary cost about as much as the network's step."""
    n = len(probs)
    total = probs.sum()
    first = n - min(n, NUCLEUS_FIRST)
    top = np.partition(probs, first)[first:] if first else probs
    top = np.sort(top)[::-1].copy()  # likeliest first (contiguous: cumsum is slower on a view)
    count = int((np.cumsum(top) / total).searchsorted(top_p))
    if count >= len(top) and len(top) < n:  # the nucleus is larger than the words looked at
        top = np.sort(probs)[::-1].copy()
        count = int((np.cumsum(top) / total).searchsorted(top_p))
    count = min(count, n - 1)  # the last word kept
    edge = top[count]
    if count + 1 < len(top) and top[count + 1] < edge:  # no tie across the edge
        return np.where(probs >= edge, probs, 0.0)
    keep = probs > edge
    keep[np.flatnonzero(probs == edge)[: count + 1 - int(np.count_nonzero(keep))]] = True
    return np.where(keep, probs, 0.0)
