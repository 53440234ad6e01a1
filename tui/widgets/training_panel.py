"""The training panel: the loss plot, a table line per epoch, and the in-epoch progress."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Unpack

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from lyrics_tui.core import events as E
from lyrics_tui.tui import format as fmt
from lyrics_tui.tui.widgets.progress_row import Progress, ProgressRow

if TYPE_CHECKING:
    from lyrics_tui.core.checkpoint import EpochRow
    from lyrics_tui.tui.controllers.runs import Overlay
    from lyrics_tui.tui.widgets import WidgetOptions
    from lyrics_tui.tui.widgets.loss_plot import LossPlot

# validation perplexity, of the network alone and with song memory (core/cache.py); the
# validation loss is the plot's (ppl = e^loss)
TABLE_HEADER = "  ep  train     ppl  memory tok/s  time"  # 39 cells, as each row
TITLE = "Training · loss per epoch (nats/token)"
PROGRESS_EVERY_S = 0.25  # the progress line is redrawn at most this often during an epoch


def epoch_row(e: EpochRow) -> str:
    """One epoch; "-" where the history has no figure (older checkpoints: no memory column)."""
    return (
        f"{e['epoch']:4d} {e['train_loss']:6.3f} {fmt.ppl_short(e.get('val_ppl')):>7} "
        f"{fmt.ppl_short(e.get('cache_val_ppl')):>7} "
        f"{fmt.rate(e.get('tokens_per_s', 0.0)):>5} {fmt.duration_short(e.get('elapsed_s')):>5}"
    )


def finished_note(event: E.TrainingFinished) -> str:
    """The notification at the end of a run: how it ended, the best perplexity with and
    without song memory (fitted on the validation split after training)."""
    note = (
        f"training {event.reason} after {event.epochs} epoch(s); "
        f"best val ppl {fmt.ppl(event.best_val_ppl)}"
    )
    if event.cache_val_ppl is not None:
        note += f", with song memory {fmt.ppl(event.cache_val_ppl)}"
    return note


class TrainingPanel(Vertical):
    """Shows a model's history (one row per finished epoch) and what a run reports."""

    history: reactive[tuple[EpochRow, ...]] = reactive((), init=False)
    overlays: reactive[tuple[Overlay, ...]] = reactive((), init=False)  # marked runs' curves

    def __init__(self, **kwargs: Unpack[WidgetOptions]) -> None:
        super().__init__(**kwargs)
        self.plot: LossPlot | None = None  # once mounted
        self._started: E.TrainingStarted | None = None  # the run under way's first event
        self._progress_drawn = 0.0

    def compose(self) -> ComposeResult:
        with Horizontal(id="train-top"):
            # the plot (plotext) is mounted just after the first frame: see mount_plot
            yield Static("", id="loss-plot-slot")
            with Vertical(id="epoch-box"):
                yield Static(TABLE_HEADER, id="epoch-header")
                with VerticalScroll(id="epoch-scroll"):
                    yield Static("", id="epoch-table")
        yield ProgressRow(id="progress-row")

    def on_mount(self) -> None:
        self.border_title = TITLE
        self.query_one("#epoch-scroll").can_focus = True

    async def mount_plot(self) -> None:
        if self.plot is not None:
            return
        from lyrics_tui.tui.widgets.loss_plot import LossPlot

        self.plot = LossPlot(id="loss-plot")
        self._plot_series()
        slot = self.query_one("#loss-plot-slot")
        await self.query_one("#train-top").mount(self.plot, before=slot)
        await slot.remove()

    def watch_history(self, rows: tuple[EpochRow, ...]) -> None:
        self.query_one("#epoch-table", Static).update("\n".join(epoch_row(r) for r in rows))
        self._show_latest()
        self._plot_series()

    def on_resize(self) -> None:
        self._show_latest()  # shown again (v) or resized: the newest epoch stays in view

    def _show_latest(self) -> None:
        scroll = self.query_one("#epoch-scroll", VerticalScroll)
        self.call_after_refresh(scroll.scroll_end, animate=False)

    def watch_overlays(self) -> None:
        self._plot_series()

    def _plot_series(self) -> None:
        """The model's own train and val loss, then the marked runs' validation loss; with
        those the legend moves to the title, where it hides no part of a small plot."""
        if self.plot is not None:
            from lyrics_tui.tui.widgets.loss_plot import history_series, legend, overlay_series

            own, others = history_series(self.history), overlay_series(self.overlays)
            if self.plot.legend_inside != (not others):
                self.plot.legend_inside = not others
                self.plot.redraw()
            self.plot.series = own + others
            shown = tuple(s for s in own if s.points) + others
            self.border_title = f"Loss · {legend(shown)}" if others else TITLE

    def show_progress(self, progress: Progress) -> None:
        self.query_one(ProgressRow).progress = progress

    def show_event(self, event: E.TrainingEvent) -> None:
        """What a core training event says: the data's size, the progress of the epoch (at
        most every PROGRESS_EVERY_S; an epoch's end always shows), what the run does between
        batches (validating, fitting song memory, saving), where the autosave went."""
        if isinstance(event, E.TrainingStarted):
            self._started = event
            unknown = f"{event.unknown_rate:.1%} of validation tokens are <unk>"
            read = (
                f" (reads the first {event.val_read:,})"
                if 0 < event.val_read < event.val_tokens - 1
                else ""
            )
            self.border_subtitle = (
                f"{event.train_tokens:,} train tokens · {event.val_tokens:,} val{read} · {unknown}"
            )
        elif isinstance(event, E.BatchFinished):
            now = time.monotonic()
            if now - self._progress_drawn < PROGRESS_EVERY_S and event.batch < event.batches:
                return
            self._progress_drawn = now
            self.show_progress(batch_progress(event, self._by_budget))
        elif isinstance(event, E.PhaseStarted):
            self.show_progress(phase_progress(event, self._started, self._by_budget))
        elif isinstance(event, E.CheckpointSaved):
            self.border_subtitle = f"saved epoch {event.epoch} → {fmt.path(event.path)}"

    @property
    def _by_budget(self) -> bool:
        """The run under way fills a time budget (rather than training a number of epochs)."""
        return (
            self._started is not None
            and bool(self._started.time_budget)
            and not (self._started.end_epoch)
        )


def batch_progress(event: E.BatchFinished, by_budget: bool) -> Progress:
    """The progress row during an epoch: the epoch's batches, or the budget's seconds when
    the budget ends the run (its ETA then the run's end)."""
    if by_budget:
        spent, budget = event.elapsed_s, event.time_budget
        done, total, eta = spent, budget, max(0.0, budget - spent)
        where = f"{fmt.duration(spent)}/{fmt.duration(budget)}"
    else:
        done, total, eta = event.batch, event.batches, event.eta_s
        where = f"{event.batch}/{event.batches}"
    label = (
        f"{where} · loss {event.loss:.3f} · ETA {fmt.duration(eta)} · "
        f"{fmt.rate(event.tokens_per_s)} tok/s"
    )
    return Progress(f"epoch {event.epoch}", done, total, label)


def phase_progress(
    event: E.PhaseStarted, started: E.TrainingStarted | None, by_budget: bool
) -> Progress:
    """The progress row between batches: what the run does and how long it should take."""
    label = f"{event.phase}… ETA {fmt.duration(event.eta_s)}"
    if by_budget and started is not None:
        budget = started.time_budget
        left = max(0.0, budget - event.elapsed_s)
        label = f"{event.phase}… · ETA {fmt.duration(left)}"
        return Progress(f"epoch {event.epoch}", event.elapsed_s, budget, label)
    return Progress(f"epoch {event.epoch}", 1.0, 1.0, label)
