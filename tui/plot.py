"""The loss plot (plotext). Imported after the first frame: plotext costs ~50 ms to import."""

from __future__ import annotations

import math
from typing import Any

from textual_plotext import PlotextPlot


class LossPlot(PlotextPlot):
    """Train and validation loss per epoch."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.epochs: list[int] = []
        self.train: list[float] = []
        self.val: list[tuple[int, float]] = []

    def on_mount(self) -> None:
        super().on_mount()
        self.redraw()

    def set_history(self, rows: list[dict[str, Any]]) -> None:
        self.epochs = [r["epoch"] for r in rows]
        self.train = [r["train_loss"] for r in rows]
        self.val = [(r["epoch"], r["val_loss"]) for r in rows if r.get("val_loss") is not None]
        self.redraw()

    def redraw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if self.epochs:
            first, last = self.epochs[0], self.epochs[-1]
            step = max(1, math.ceil((last - first + 1) / 6))
            plt.xticks(list(range(first, last + 1, step)))
            plt.plot(self.epochs, self.train, label="train", marker="hd")
        if self.val:
            plt.plot([e for e, _ in self.val], [v for _, v in self.val], label="val", marker="x")
        if not self.epochs:
            plt.xlim(0, 10)
            plt.ylim(0, 10)
        self.refresh()
