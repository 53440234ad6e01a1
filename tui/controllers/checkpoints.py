"""Reading and writing the playground's checkpoints, in plain threads.

A checkpoint is read with numpy alone (core.loading.open_checkpoint: no torch, so it is ready
soon after the first frame) and its tokenizer loaded too, so the first Enter does not wait.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lyrics_tui.core.errors import LyricsError
from lyrics_tui.tui.controllers import Post, Problem, start_thread


@dataclass(frozen=True)
class CheckpointLoaded:
    opened: Any  # core.loading.OpenedModel, with numpy weights
    adopt_corpus: bool  # show its corpus in the settings (not when --corpus was given)


@dataclass(frozen=True)
class ModelSaved:
    path: str


def save_path(folder: Path, run: Any) -> Path:
    """<corpus>-e<epoch>-ppl<val ppl>.pt: the run's last finished epoch, which is what is saved."""
    from lyrics_tui.core.paths import safe_stem

    last = run.history[-1] if run.history else None
    epoch = last["epoch"] if last else run.epoch
    ppl = last.get("val_ppl") if last else None
    name = f"{safe_stem(run.corpus_name)}-e{epoch}"
    if ppl is not None and math.isfinite(ppl):
        name += f"-ppl{ppl:.1f}"
    return folder / f"{name}.pt"


class CheckpointFiles:
    """Loads and saves in threads; reports CheckpointLoaded, ModelSaved or a Problem."""

    def __init__(self, post: Post, folder: Path) -> None:
        self.post = post
        self.folder = folder
        self.threads: list[threading.Thread] = []

    def busy(self) -> bool:
        return any(thread.is_alive() for thread in self.threads)

    def saving(self) -> bool:
        return any(t.is_alive() and t.name == "lyrics-save" for t in self.threads)

    def load(self, path: str, *, adopt_corpus: bool = True) -> None:
        self._spawn("lyrics-load", self._load, path, adopt_corpus)

    def save(self, run: Any) -> Path:
        """Save a core.trainer.TrainingRun's last finished epoch under save_path; the path."""
        path = save_path(self.folder, run)
        self._spawn("lyrics-save", self._save, run, path)
        return path

    def _spawn(self, name: str, target: Any, *args: Any) -> None:
        self.threads = [t for t in self.threads if t.is_alive()]
        self.threads.append(start_thread(name, target, *args))

    def _load(self, path: str, adopt_corpus: bool) -> None:
        try:
            from lyrics_tui.core.loading import open_checkpoint
            from lyrics_tui.core.tokens import warm_up

            opened = open_checkpoint(path)
            warm_up(opened.checkpoint.train_config.tokenizer)
            self.post(CheckpointLoaded(opened, adopt_corpus))
        except LyricsError as exc:
            self.post(Problem(str(exc)))
        except Exception as exc:
            self.post(Problem(f"{path}: not a readable checkpoint ({type(exc).__name__})"))

    def _save(self, run: Any, path: Path) -> None:
        try:
            self.post(ModelSaved(run.save(path)))
        except LyricsError as exc:
            self.post(Problem(str(exc)))
        except Exception as exc:
            self.post(Problem(f"{path}: checkpoint not saved ({type(exc).__name__})"))
