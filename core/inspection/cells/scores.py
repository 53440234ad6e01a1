"""Every unit scored at once against a yes/no pattern (AUC) or a count (correlation)."""

from __future__ import annotations

import numpy as np


def auc_by_unit(values: np.ndarray, yes: np.ndarray) -> np.ndarray:
    """The area under the ROC curve of each column of `values` (tokens, units) as a detector
    of `yes`: Mann-Whitney's U over the number of (yes, no) pairs, ties counting one half;
    0.5 when either class is empty.

    U is the sum of the yes tokens' ranks among all tokens less its least possible value; a
    rank (ties: their average) is looked up in each unit's sorted values, every unit in one
    search by shifting each unit's values into a range of its own."""
    yes = np.asarray(yes, dtype=bool)
    positives, negatives = int(yes.sum()), int((~yes).sum())
    if positives == 0 or negatives == 0:
        return np.full(values.shape[1], 0.5)
    by_unit = np.ascontiguousarray(values.T, dtype=np.float64)  # (units, tokens)
    low, high = float(by_unit.min()), float(by_unit.max())
    shift = (np.arange(by_unit.shape[0]) * (high - low + 1.0) - low)[:, None]
    ordered = np.sort(by_unit, axis=1) + shift  # ascending overall: units one after another
    wanted = (by_unit[:, yes] + shift).ravel()
    below = np.searchsorted(ordered.ravel(), wanted, side="left")
    up_to = np.searchsorted(ordered.ravel(), wanted, side="right")
    starts = (np.arange(by_unit.shape[0]) * by_unit.shape[1]).repeat(positives)
    ranks = (below + up_to + 1) / 2.0 - starts  # 1-based, ties averaged
    u = ranks.reshape(-1, positives).sum(axis=1) - positives * (positives + 1) / 2.0
    return np.asarray(u / (positives * negatives))


def correlation_by_unit(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Pearson's r of each column with `counts`; 0 where either does not vary."""
    x = values.astype(np.float64) - values.mean(axis=0)
    y = np.asarray(counts, np.float64) - np.mean(counts)
    denominator = np.sqrt((x * x).sum(axis=0) * (y * y).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (y @ x) / denominator
    return np.nan_to_num(r)
