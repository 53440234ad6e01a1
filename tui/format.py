"""How numbers (and paths) read in every view, command line and playground alike."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from rich.cells import cell_len

if TYPE_CHECKING:
    from lyrics_tui.core.config import ModelConfig


def ppl(value: float | None) -> str:
    """A perplexity: one decimal, thousands separated; huge ones in short scientific form."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:,.1f}" if value < 100_000 else f"{value:.3g}"


def ppl_short(value: float | None) -> str:
    """A perplexity in at most seven characters (a table column): 33.6, 1,065.6, 12.3k."""
    if value is None or not math.isfinite(value):
        return "-"
    if value < 10_000:
        return f"{value:,.1f}"
    return f"{value / 1000:,.1f}k" if value < 10_000_000 else f"{value:.1e}"


def duration_short(seconds: float | None) -> str:
    """A duration in at most five characters (a table column): 0:12, 59:59, 1h02, 27h."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    whole = round(seconds)
    if whole < 3600:
        return duration(whole)
    h, rest = divmod(whole, 3600)
    return f"{h}h{rest // 60:02d}" if h < 10 else f"{h}h"


def prob(p: float) -> str:
    """A probability as a percentage; tiny ones in scientific form; exactly 0 as a dash."""
    if p <= 0:
        return "—"
    if p < 0.0001:
        return f"{p:.1e}"
    return f"{p:.2%}"


def cache_prob(p: float | None) -> str:
    """Song memory's probability: "-" while it remembers nothing, 0 when it recalls other words."""
    if p is None:
        return "-"
    return "0" if p == 0 else prob(p)


def rate(per_s: float) -> str:
    """Tokens per second in at most five characters."""
    if per_s >= 100_000:
        return f"{per_s / 1000:.0f}k"
    if per_s >= 10_000:
        return f"{per_s / 1000:.1f}k"
    return f"{per_s:,.0f}"


def duration(seconds: float | None) -> str:
    """m:ss, or h:mm:ss from an hour."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    whole = round(seconds)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def model_shape(config: ModelConfig, vocab_size: int) -> str:
    """gru 384→384×1 · vocab 3,397"""
    return f"{config.cell} {config.embed}→{config.hidden}×{config.layers} · vocab {vocab_size:,}"


def when(ts: float | None) -> str:
    """A unix time as local date and minute: 2025-05-01 14:03."""
    if ts is None:
        return "-"
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def started(ts: float, this_year: int | None = None) -> str:
    """When a run started: 11-30 14:03 this year, 2024-11-30 before."""
    import time

    when = time.localtime(ts)
    year = time.localtime().tm_year if this_year is None else this_year
    return time.strftime("%m-%d %H:%M" if when.tm_year == year else "%Y-%m-%d", when)


def count(n: int | None) -> str:
    """A large count in at most five characters: 1.07M, 52.3k, 980."""
    if n is None:
        return "-"
    if n >= 1_000_000:
        return f"{n / 1e6:.2f}M"
    if n >= 10_000:
        return f"{n / 1e3:.1f}k"
    return f"{n:,}"


def path(value: str | Path) -> str:
    """A path relative to the working folder when it is inside it."""
    p = Path(value)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(p)


def epochs(done: int, planned: int) -> str:
    """Epochs of a run: 12/24; a run that fills a time budget has no planned number: 56."""
    from lyrics_tui.core.config import BUDGET_EPOCHS

    return str(done) if planned >= BUDGET_EPOCHS else f"{done}/{planned}"


def packed(parts: list[str], width: int) -> str:
    """Parts joined with " · ", a new line where the next part would not fit in `width` (a
    line breaks between parts, never inside one)."""
    lines: list[str] = []
    for part in parts:
        if lines and cell_len(lines[-1]) + 3 + cell_len(part) <= width:
            lines[-1] += " · " + part
        else:
            lines.append(part)
    return "\n".join(lines)
