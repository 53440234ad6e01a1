"""Every unit scored at once against a yes/no pattern (AUC) or a count (correlation)."""

from __future__ import annotations

import numpy as np


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks (1-based) down each column, ties sharing their average rank."""
    count = values.shape[0]
    order = np.argsort(values, axis=0, kind="stable")
    ordered = np.take_along_axis(values, order, axis=0)
    index = np.arange(count)[:, None]
    new = np.ones_like(ordered, dtype=bool)
    new[1:] = ordered[1:] != ordered[:-1]
    first = np.maximum.accumulate(np.where(new, index, 0), axis=0)
    last_new = np.ones_like(new)
    last_new[:-1] = new[1:]
    last = np.minimum.accumulate(np.where(last_new, index, count - 1)[::-1], axis=0)[::-1]
    ranks = np.empty(values.shape)
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=0)
    return ranks


def auc_by_unit(values: np.ndarray, yes: np.ndarray) -> np.ndarray:
    """The area under the ROC curve of each column as a detector of `yes` (Mann-Whitney U over
    the number of pairs); 0.5 when either class is empty."""
    yes = np.asarray(yes, dtype=bool)
    positives, negatives = int(yes.sum()), int((~yes).sum())
    if positives == 0 or negatives == 0:
        return np.full(values.shape[1], 0.5)
    ranks = average_ranks(values)
    u = ranks[yes].sum(axis=0) - positives * (positives + 1) / 2.0
    return np.asarray(u / (positives * negatives))


def correlation_by_unit(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Pearson's r of each column with `counts`; 0 where either does not vary."""
    x = values.astype(np.float64) - values.mean(axis=0)
    y = np.asarray(counts, np.float64) - np.mean(counts)
    denominator = np.sqrt((x * x).sum(axis=0) * (y * y).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (y @ x) / denominator
    return np.nan_to_num(r)
