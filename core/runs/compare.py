"""Sorting and comparing runs: the order the store lists them in, for a view that holds them
already, and the settings in which several runs differ."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lyrics_tui.core.runs.records import Comparison, RunSummary, final_figures
from lyrics_tui.core.runs.schema import SORT_KEYS
from lyrics_tui.core.runs.store import RunStore


def sort_runs(
    runs: Iterable[RunSummary], sort: str = "started", descending: bool = True
) -> list[RunSummary]:
    """The order list_runs() answers with, for a view that holds the runs already (the Runs
    screen): by `sort` (a key of SORT_KEYS), runs without a value last, ties by id."""
    field = SORT_KEYS[sort]
    rows = list(runs)
    valued = [r for r in rows if getattr(r, field) is not None]
    valued.sort(key=lambda r: (getattr(r, field), r.id), reverse=descending)
    missing = sorted((r for r in rows if getattr(r, field) is None), key=lambda r: r.id)
    return valued + (missing[::-1] if descending else missing)


def compare_runs(store: RunStore, run_ids: Sequence[int]) -> Comparison:
    """The settings in which the runs differ, side by side, and their final figures."""
    runs = [store.get_run(i) for i in run_ids]
    series = store.epoch_series(run_ids)
    flats = [r.settings() for r in runs]
    keys = list(dict.fromkeys(k for flat in flats for k in flat))
    differ = {
        k: [flat.get(k) for flat in flats]
        for k in keys
        if any(flat.get(k) != flats[0].get(k) for flat in flats[1:])
    }
    return Comparison([r.id for r in runs], differ, [final_figures(r, series[r.id]) for r in runs])
