"""Reading and writing the playground's checkpoints, in plain threads.

A checkpoint is read with numpy alone (core.loading.open_checkpoint: no torch, so it is ready
soon after the first frame) and its tokenizer loaded too, so the first Enter does not wait.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lyrics_tui.core import tuning
from lyrics_tui.core.errors import LyricsError
from lyrics_tui.tui.controllers import Post, Problem, start_thread

if TYPE_CHECKING:  # core.loading and core.trainer load in the threads, after the first frame
    from lyrics_tui.core.checkpoint import Checkpoint
    from lyrics_tui.core.loading import OpenedModel
    from lyrics_tui.core.trainer import TrainingRun


@dataclass(frozen=True)
class CheckpointLoaded:
    opened: OpenedModel  # with numpy weights
    adopt_corpus: bool  # show its corpus in the settings (not when --corpus was given)
    latest: Checkpoint | None = None  # the same run further on, in x-last.pt (no weights)


@dataclass(frozen=True)
class LoadEnded:
    """A load's thread is done (after its CheckpointLoaded or Problem)."""


@dataclass(frozen=True)
class ModelSaved:
    path: str


CheckpointReport = CheckpointLoaded | LoadEnded | ModelSaved | Problem


def save_path(folder: Path, run: TrainingRun) -> Path:
    """<corpus>-e<epoch>-ppl<val ppl>.pt: the run's last finished epoch, which is what is saved."""
    from lyrics_tui.core.paths import snapshot_path

    last = run.history[-1] if run.history else None
    epoch = last["epoch"] if last else run.epoch
    ppl = last.get("val_ppl") if last else None
    return snapshot_path(folder, run.corpus_name, epoch, ppl)


class CheckpointFiles:
    """Loads and saves in threads; reports CheckpointLoaded, ModelSaved or a Problem."""

    def __init__(self, post: Post[CheckpointReport], folder: Path) -> None:
        self.post = post
        self.folder = folder
        self.threads: list[threading.Thread] = []
        self.loading = 0  # loads started and not yet ended (counted in the UI thread)
        self._after_loads: list[Callable[[], object]] = []

    def busy(self) -> bool:
        return any(thread.is_alive() for thread in self.threads)

    def saving(self) -> bool:
        return any(t.is_alive() and t.name == "lyrics-save" for t in self.threads)

    def load(self, path: str, *, adopt_corpus: bool = True) -> None:
        self.loading += 1
        self._spawn("lyrics-load", self._load, path, adopt_corpus)

    def load_startup(self, *, adopt_corpus: bool = True) -> None:
        """The model start-up opens when none was named (core.loading.open_startup_model: the
        newest best checkpoint; files that cannot be read are named and passed over)."""
        self.loading += 1
        self._spawn("lyrics-load", self._load_startup, adopt_corpus)

    def when_loaded(self, then: Callable[[], object]) -> None:
        """Call `then` (once) when the loads under way have ended, their model adopted."""
        if then not in self._after_loads:
            self._after_loads.append(then)

    def receive(self, report: LoadEnded) -> list[Callable[[], object]]:
        """A load ended (in the UI thread): what waits for the last one, to be called now."""
        self.loading = max(0, self.loading - 1)
        if self.loading:
            return []
        waiting, self._after_loads = self._after_loads, []
        return waiting

    def save(self, run: TrainingRun) -> Path:
        """Save a core.trainer.TrainingRun's last finished epoch under save_path; the path."""
        path = save_path(self.folder, run)
        self._spawn("lyrics-save", self._save, run, path)
        return path

    def _spawn(self, name: str, target: Callable[..., None], *args: object) -> None:
        self.threads = [t for t in self.threads if t.is_alive()]
        self.threads.append(start_thread(name, target, *args))

    def _load(self, path: str, adopt_corpus: bool) -> None:
        try:
            from lyrics_tui.core.loading import open_checkpoint
            from lyrics_tui.core.resume import latest_state_of
            from lyrics_tui.core.tokens import warm_up

            opened = open_checkpoint(path)
            latest = latest_state_of(opened.checkpoint)
            warm_up(opened.checkpoint.train_config.tokenizer)
            tuning.settle_long_lived()  # the model and dictionary: out of the full collections
            self.post(CheckpointLoaded(opened, adopt_corpus, latest))
        except LyricsError as exc:
            self.post(Problem(str(exc)))
        except Exception as exc:
            self.post(Problem(f"{path}: not a readable checkpoint ({type(exc).__name__})"))
        finally:
            self.post(LoadEnded())

    def _load_startup(self, adopt_corpus: bool) -> None:
        try:
            from lyrics_tui.core.loading import open_startup_model
            from lyrics_tui.core.resume import latest_state_of
            from lyrics_tui.core.tokens import warm_up

            startup = open_startup_model(self.folder)
            if startup.notes:
                self.post(Problem("\n".join(startup.notes), "warning"))
            if startup.opened is not None:
                latest = latest_state_of(startup.opened.checkpoint)
                warm_up(startup.opened.checkpoint.train_config.tokenizer)
                tuning.settle_long_lived()
                self.post(CheckpointLoaded(startup.opened, adopt_corpus, latest))
        except Exception as exc:  # start-up goes on with no model
            self.post(Problem(f"no checkpoint opened ({type(exc).__name__}: {exc})", "warning"))
        finally:
            self.post(LoadEnded())

    def _save(self, run: TrainingRun, path: Path) -> None:
        try:
            self.post(ModelSaved(run.save(path)))
        except LyricsError as exc:
            self.post(Problem(str(exc)))
        except Exception as exc:
            self.post(Problem(f"{path}: checkpoint not saved ({type(exc).__name__})"))
