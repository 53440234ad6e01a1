"""The loss plot (plotext): named series of loss per epoch. Imported after the first frame:
plotext costs ~50 ms to import."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.markup import escape
from textual.reactive import reactive
from textual_plotext import PlotextPlot

if TYPE_CHECKING:
    from lyrics_tui.core.checkpoint import EpochRow
    from lyrics_tui.tui.controllers.runs import Overlay


@dataclass(frozen=True)
class Series:
    """One line of the plot."""

    name: str  # the legend's label
    points: tuple[tuple[int, float], ...]  # (epoch, loss in nats per token)
    marker: str = "hd"  # plotext's marker: the lines differ without colour too
    color: tuple[int, int, int] | None = None  # None: plotext's next colour


# The model's own train and val lines: textual-plotext's first two colours (blue, green).
TRAIN_COLOR, VAL_COLOR = (0, 130, 200), (60, 180, 75)
# Other runs' curves (marked in the Runs screen): one colour and marker per slot.
OVERLAY_COLORS = (
    (230, 25, 75),
    (255, 225, 25),
    (245, 130, 48),
    (240, 50, 230),
    (70, 240, 240),
    (170, 110, 40),
)
OVERLAY_MARKERS = ("+", "*", "o", "#", "%", "@")


def history_series(rows: Sequence[EpochRow]) -> tuple[Series, ...]:
    """A model's train and validation loss from its history (one row per finished epoch)."""
    train = tuple((r["epoch"], r["train_loss"]) for r in rows)
    val = tuple((r["epoch"], loss) for r in rows if (loss := r.get("val_loss")) is not None)
    return Series("train", train, "hd", TRAIN_COLOR), Series("val", val, "x", VAL_COLOR)


def overlay_series(overlays: tuple[Overlay, ...]) -> tuple[Series, ...]:
    """Marked runs' validation curves."""
    return tuple(
        Series(o.label, o.points, OVERLAY_MARKERS[o.slot], OVERLAY_COLORS[o.slot]) for o in overlays
    )


def legend(series: tuple[Series, ...]) -> str:
    """The series' markers and names as Textual markup, for a legend outside the plot."""
    out = []
    for s in series:
        glyph = "▞▞" if s.marker == "hd" else s.marker * 2
        colour = f"rgb({s.color[0]},{s.color[1]},{s.color[2]})" if s.color else ""
        mark = f"[{colour}]{glyph}[/]" if colour else glyph
        out.append(f"{mark} {escape(s.name)}")
    return "  ".join(out)


class LossPlot(PlotextPlot):
    """Named series, as many as given, over a shared epoch axis (a model's train and val loss;
    other runs' validation curves can be laid over them)."""

    series: reactive[tuple[Series, ...]] = reactive((), init=False)
    legend_inside = True  # False: the names are shown elsewhere (the plot is small)

    def on_mount(self) -> None:
        super().on_mount()
        self.redraw()

    def watch_series(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        drawn = [s for s in self.series if s.points]
        epochs = [epoch for s in drawn for epoch, _ in s.points]
        if epochs:
            first, last = min(epochs), max(epochs)
            step = max(1, math.ceil((last - first + 1) / 6))
            plt.xticks(list(range(first, last + 1, step)))
        else:
            plt.xlim(0, 10)
            plt.ylim(0, 10)
        for s in drawn:
            plt.plot(
                [e for e, _ in s.points],
                [v for _, v in s.points],
                label=s.name if self.legend_inside else None,
                marker=s.marker,
                color=s.color,
            )
        self.refresh()
