"""Losses as people read them: perplexity, bits."""

from __future__ import annotations

import math

LOG2E = 1.0 / math.log(2.0)
_MAX_NATS = 700.0  # exp(709) overflows a float; a loss this large is "astronomical" anyway
PROB_FLOOR = 1e-300  # a probability that underflowed to 0 still has a finite surprisal


def perplexity(loss: float) -> float:
    """exp(mean cross-entropy in nats per token)."""
    return math.exp(min(loss, _MAX_NATS))


def perplexity_from_bits(bits: float) -> float:
    """2 ** (mean bits per token): the same number as perplexity(nats)."""
    return perplexity(bits / LOG2E)


def surprisal_bits(prob: float) -> float:
    """-log2 p."""
    return -math.log(max(prob, PROB_FLOOR)) * LOG2E
