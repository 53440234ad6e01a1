"""The in-epoch progress line: epoch, a bar, and core's numbers."""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


@dataclass(frozen=True)
class Progress:
    epoch_text: str = "epoch -"
    done: float = 0.0
    total: float = 1.0
    label: str = ""  # e.g. batches, loss, ETA and tokens/s


class ProgressRow(Widget):
    """One line, repainted in place when its progress changes (no layout pass), so that ten
    updates a second during training cost the UI thread almost nothing."""

    DEFAULT_CSS = """
    ProgressRow { height: 1; padding: 0 1; }
    """

    progress: reactive[Progress] = reactive(Progress())

    def render(self) -> Text:
        p = self.progress
        width = self.content_size.width or 60
        fraction = min(1.0, max(0.0, p.done / max(p.total, 1)))
        percent = f"{fraction:4.0%}"
        bar_width = max(4, width - cell_len(p.epoch_text) - cell_len(p.label) - len(percent) - 4)
        filled = round(bar_width * fraction)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(p.epoch_text + " ")
        text.append("━" * filled, style="bold")
        text.append(
            "╺" + "━" * max(0, bar_width - filled - 1) if filled < bar_width else "", style="dim"
        )
        text.append(f" {percent}")
        if p.label:
            text.append(f" {p.label}")
        return text
