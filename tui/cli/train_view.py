"""What `lyrics-tui train` shows of a run: JSON lines, or a progress bar and a line per epoch."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

from lyrics_tui.core.events import BatchFinished, TrainingEvent, TrainingFinished
from lyrics_tui.tui import format as fmt
from lyrics_tui.tui.cli.common import emit


class ReaderWatch:
    """What a view does when the program reading its output has gone (`train | head -1`): the
    run is asked to stop, and saves, as after a hang-up; its output goes nowhere from then
    on. It had died with the write, unsaved, and exited 0."""

    stop: Callable[[], object] | None = None  # the run's stop, once there is a run
    reader_gone = False

    def gone(self) -> None:
        if not self.reader_gone:
            self.reader_gone = True
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)  # what is still buffered, and the done line, go nowhere
            os.close(null)
            if self.stop is not None:
                self.stop()


class JsonTrainView(ReaderWatch):
    def __call__(self, event: TrainingEvent) -> None:
        from lyrics_tui.core.events import EpochFinished

        if isinstance(event, EpochFinished) and not self.reader_gone:
            try:
                emit(event.json_line())
            except BrokenPipeError:
                self.gone()

    def close(self) -> None:
        pass


class ConsoleTrainView(ReaderWatch):
    """Rich progress bar per epoch and one summary line per epoch."""

    def __init__(self, continuing: str = "") -> None:
        from rich.console import Console
        from rich.progress import Progress, TaskID

        self.continuing = continuing  # what --resume will do (core/resume.py), said at the start
        self.console = Console(stderr=False, highlight=False)
        self.console.on_broken_pipe = self._pipe_broke  # type: ignore[method-assign]
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.by_budget = False  # the budget ends the run (its ETA is the run's end)

    def __call__(self, event: TrainingEvent) -> None:
        try:
            if not self.reader_gone:
                self._show(event)
        except BrokenPipeError:
            self.gone()
        except OSError as exc:
            if exc.errno != errno.EIO:
                raise
            # the terminal hung up before SIGHUP arrived: train on (and save) without a view

    def _pipe_broke(self) -> None:
        """rich's own answer exits at once (SystemExit(1), the run unsaved): stop and save."""
        self.console.quiet = True
        self.gone()

    def _show(self, event: TrainingEvent) -> None:
        from lyrics_tui.core import events as E

        if isinstance(event, E.TrainingStarted):
            resumed = f", resuming after epoch {event.start_epoch}" if event.start_epoch else ""
            if self.continuing:
                resumed = f"; {self.continuing}"
            self.by_budget = bool(event.time_budget) and not event.end_epoch
            read = (
                f", each epoch reads the first {event.val_read:,}"
                if 0 < event.val_read < event.val_tokens - 1
                else ""
            )
            if 0 < event.cache_read < event.val_read:
                read += f", song memory's figure the first {event.cache_read:,}"
            self.console.print(
                f"vocabulary {event.vocab_size:,} · train {event.train_tokens:,} tokens · "
                f"validation {event.val_tokens:,} tokens ({event.unknown_rate:.1%} <unk>{read}) · "
                f"{event.parameters:,} parameters · {event.device} {event.precision}, "
                f"{event.threads} thread(s)"
                f"{f' × {event.processes} processes' if event.processes > 1 else ''}"
                f"{resumed}"
            )
            if event.sized:
                self.console.print(f"network: {event.sized}")
        elif isinstance(event, E.BatchFinished):
            self._progress(event)
        elif isinstance(event, E.EpochFinished):
            self._close_progress()
            val = (
                f"val loss {event.val_loss:.3f}  ppl {fmt.ppl(event.val_ppl):>8}"
                if event.val_loss is not None
                else "no validation"
            )
            best = " *" if event.is_best else ""
            memory = (
                f"  memory {fmt.ppl(event.cache_val_ppl):>7}"
                if event.cache_val_ppl is not None
                else ""
            )
            self.console.print(
                f"epoch {event.epoch:3d}  train loss {event.train_loss:.3f}  {val}{memory}  "
                f"{event.tokens_per_s:8,.0f} tok/s  {event.elapsed_s:6.1f}s  "
                f"lr {event.lr:.2g}{best}"
            )
        elif isinstance(event, E.PhaseStarted) and event.phase is E.Phase.FITTING:
            self._close_progress()
            self.console.print("fitting song memory…")
        elif isinstance(event, E.TrainingPaused):
            self.console.print("paused")
        elif isinstance(event, E.TrainingFinished):
            self._close_progress()
            held_out = "validation" if event.val_tokens else "training (no text held out)"
            best = (
                f"best {held_out} perplexity {fmt.ppl(event.best_val_ppl)}"
                if event.best_val_ppl
                else ""
            )
            self.console.print(f"{event.reason} after {event.epochs} epoch(s). {best}")
            if event.cache_val_ppl is not None and event.cache:
                cross = (
                    f"; fitted on its first half, its second half {fmt.ppl(event.plain_cross_ppl)}"
                    f" -> {fmt.ppl(event.cache_cross_ppl)}"
                    if event.cache_cross_ppl is not None
                    else ""
                )
                self.console.print(
                    f"with song memory (N {event.cache['window']}, θ {event.cache['theta']:.3g}, "
                    f"λ {event.cache['lambda']:.2f}, fitted on {fitted_on(event)}) "
                    f"{fmt.ppl(event.cache_val_ppl)}{cross}"
                )
            if event.best_checkpoint:
                self.console.print(f"best checkpoint: {event.best_checkpoint}", markup=False)
            if event.last_checkpoint:
                self.console.print(f"latest (resumable): {event.last_checkpoint}", markup=False)

    def _progress(self, event: BatchFinished) -> None:
        if not self.console.is_terminal:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
        )

        if self.progress is None:
            self.progress = Progress(
                TextColumn(f"epoch {event.epoch}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:.3f}  ETA {task.fields[eta]}"),
                console=self.console,
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task("", total=event.batches, loss=event.loss, eta="")
        if self.task is not None:
            # the run's end when the budget ends it, else the epoch's
            left = event.time_budget - event.elapsed_s if self.by_budget else event.eta_s
            eta = fmt.duration(max(0.0, left))
            self.progress.update(self.task, completed=event.batch, loss=event.loss, eta=eta)

    def _close_progress(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def close(self) -> None:
        self._close_progress()


def fitted_on(event: TrainingFinished) -> str:
    """Which validation tokens song memory was fitted on, in words."""
    fit, total = event.cache_tokens, event.val_tokens
    if fit is None or total is None or fit >= total:
        return "validation"
    return f"the first {fit:,} validation tokens"
