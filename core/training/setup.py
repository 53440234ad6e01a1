"""Setting up a training run: the one rule `lyrics-tui train` and the playground's t follow.

A front end reads the corpus (read_training_corpus), settles the settings (core/config.py,
core/resume.py), then set_up_run splits the corpus, chooses the device and where the best
checkpoint goes, wraps the front end's sink with the run store's recorder and builds the
TrainingRun. Errors are core's one-line LyricsError subclasses; the views say them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lyrics_tui.core.checkpoint import Checkpoint, check_writable
from lyrics_tui.core.config import ModelConfig, TrainConfig, sizes_to_budget
from lyrics_tui.core.corpus import Corpus, obtain_corpus, read_corpus, same_corpus
from lyrics_tui.core.device import resolve_device
from lyrics_tui.core.paths import new_run_path
from lyrics_tui.core.runs.recorder import RunRecorder, Sink, record_run
from lyrics_tui.core.runs.store import RunStore

if TYPE_CHECKING:  # torch: imported when a run is built, not when a corpus is read
    from lyrics_tui.core.distributed import Solo
    from lyrics_tui.core.trainer import TrainingRun


@dataclass(frozen=True)
class RunSetUp:
    """A run ready to train, and the recorder its events go through (use it as a context
    manager around run.run(), so that a run ended by an exception is recorded as failed)."""

    run: TrainingRun
    recorder: RunRecorder


def read_training_corpus(spec: str | None, on_note: Callable[[str], None] | None = None) -> Corpus:
    """The corpus a name or a path stands for, read (a downloadable one is fetched once, and
    `on_note` hears so); CorpusError when it cannot be."""
    return read_corpus(obtain_corpus(spec, on_note=on_note).expanduser())


def set_up_run(
    corpus: Corpus,
    model_config: ModelConfig,
    train_config: TrainConfig,
    *,
    preset: str,
    model_given: Mapping[str, Any],
    sink: Sink | None,
    resume: Checkpoint | None = None,
    resumed_from: str | os.PathLike[str] | None = None,
    val_file: str | None = None,
    device: str = "auto",
    out_path: str | os.PathLike[str] | None = None,
    folder: Path | None = None,
    check_out: bool = True,
    launcher: str = "cli",
    runs_db: RunStore | str | os.PathLike[str] | None = None,
    warn: Callable[[str], None] | None = None,
    group: Solo | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> RunSetUp | None:
    """A run of `corpus` with these settings (as resolved: a continued run's are the plan's),
    recorded in the run store under `preset` and `launcher`, its events then handed to `sink`.

    Validation reads `val_file` when given, else the held-out share of the corpus. The best
    checkpoint goes to `out_path`, else to a new name in <folder> (new_run_path); with
    `check_out` an unwritable place fails now rather than after the training (rank 0 alone
    saves). The network is chosen at the start when the preset sizes it and `model_given`
    (the network settings given, None: not given) holds none. None when `cancelled` says so
    once the corpus is split (a stop asked while setting up: nothing is recorded).
    """
    if val_file:
        train_lines, val_lines = corpus.lines, read_corpus(val_file).lines
        if warn is not None and (same_corpus(val_file, corpus.path) or val_lines == train_lines):
            warn(
                f"{val_file} is the training text itself: its validation perplexity will "
                "flatter the model (lines held out of the corpus give a fair one)"
            )
    else:
        train_lines, val_lines = corpus.split(train_config.val_fraction)
    if cancelled():
        return None
    resolved = resolve_device(device)
    out = Path(out_path) if out_path else new_run_path(corpus.path, folder)
    if check_out and (group is None or group.leader):
        check_writable(out)
    recorder = record_run(  # every run goes into the run store (lyrics-tui runs)
        sink,
        corpus=corpus,
        preset=preset,
        model_config=model_config,
        train_config=train_config,
        out_path=out,
        resumed_from=resumed_from,
        val_file=val_file,
        launcher=launcher,
        db=runs_db,
        warn=warn,
    )
    sized = resume is None and sizes_to_budget(preset, dict(model_given), train_config)
    from lyrics_tui.core.trainer import TrainingRun

    run = TrainingRun(
        train_lines,
        val_lines,
        model_config,
        train_config,
        out_path=out,
        resume=resume,
        device=resolved,
        sink=recorder,
        corpus_name=corpus.path,
        group=group,
        size_to_budget=sized,
    )
    return RunSetUp(run, recorder)
