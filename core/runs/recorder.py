"""Recording a training run into the run store from the trainer's events.

Every launcher (the command line, the playground, a script) wraps its event sink with
record_run(); the recorder writes a few small rows per epoch and nothing per batch but a
heartbeat now and then. It never makes training fail: when the store cannot be used (corrupt,
locked, unwritable) it calls `warn` once with one line and training goes on unrecorded.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from lyrics_tui.core.config import ModelConfig, TrainConfig
from lyrics_tui.core.corpus import Corpus
from lyrics_tui.core.errors import RunStoreError
from lyrics_tui.core.events import (
    BatchFinished,
    CheckpointSaved,
    EndReason,
    EpochFinished,
    TrainingEvent,
    TrainingFinished,
    TrainingPaused,
    TrainingStarted,
)
from lyrics_tui.core.paths import last_checkpoint_path
from lyrics_tui.core.runs.records import RunStart
from lyrics_tui.core.runs.store import RunStore, open_store

Sink = Callable[[TrainingEvent], None]
HEARTBEAT_S = 30.0  # how often a long epoch tells readers its writer is alive

# The trainer's TrainingFinished.reason -> the run's status.
STATUS_OF_REASON = {
    EndReason.COMPLETED: "completed",
    EndReason.TIME_BUDGET: "completed",
    EndReason.STOPPED: "stopped",
    EndReason.DIVERGED: "diverged",
    EndReason.FAILED: "failed",
}


def corpus_fingerprint(path: str | os.PathLike[str]) -> str | None:
    """sha256 of the corpus file's bytes, or None when it cannot be read (or is a pipe: read
    once already, opening it again would wait for a writer that is gone)."""
    if not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


class RunRecorder:
    """An event sink that records the run, then hands each event to the wrapped sink."""

    def __init__(
        self,
        db: RunStore | str | os.PathLike[str] | None,
        sink: Sink | None,
        *,
        corpus: str,
        corpus_lines: int | None,
        preset: str,
        model_config: ModelConfig,
        train_config: TrainConfig,
        out_path: str | os.PathLike[str] | None = None,
        resumed_from: str | None = None,
        val_file: str | None = None,
        launcher: str = "cli",
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self._db = db
        self.store: RunStore | None = None  # opened when training starts
        self._failed = False
        self.sink = sink
        self.warn = warn or (lambda text: None)
        self.corpus, self.corpus_lines, self.preset = corpus, corpus_lines, preset
        self.val_file, self.resumed_from, self.launcher = val_file, resumed_from, launcher
        self.model_config = model_config
        self.train_config = train_config
        out = os.path.abspath(out_path) if out_path else None
        self._best_path = out
        self._last_path = str(last_checkpoint_path(Path(out))) if out else None
        self._lock = threading.Lock()
        self.run_id: int | None = None
        self._open = False  # a row is being written
        self._beat = 0.0

    @property
    def recording(self) -> bool:
        """False once the store could not be used: the run goes on unrecorded."""
        return not self._failed

    def __call__(self, event: TrainingEvent) -> None:
        # Recorded first, so a view that shows an epoch can already find it in the store.
        if not self._failed:
            with self._lock:
                try:
                    self._record(event)
                except Exception as exc:  # the recorder never stops training
                    self._give_up(exc)
        if self.sink is not None:
            self.sink(event)

    def _record(self, event: TrainingEvent) -> None:
        if isinstance(event, TrainingStarted):
            self._start(event)
            return
        store = self.store
        if store is None:
            return
        if isinstance(event, BatchFinished):
            if self._open and time.monotonic() - self._beat >= HEARTBEAT_S:
                self._beat = time.monotonic()
                store.heartbeat(self._id())
        elif isinstance(event, EpochFinished):
            if self._open:
                store.record_epoch(self._id(), event)  # the event is the epoch's record
                self._beat = time.monotonic()
        elif isinstance(event, CheckpointSaved):
            kind = self._kind(event.path)
            if self._open and kind:
                store.record_checkpoint(self._id(), kind, event.path)
        elif isinstance(event, TrainingPaused):
            if self._open:
                store.heartbeat(self._id())
        elif isinstance(event, TrainingFinished):
            if self._open:
                run_id = self._id()
                for kind, path in (
                    ("best", event.best_checkpoint),
                    ("last", event.last_checkpoint),
                ):
                    if path:
                        store.record_checkpoint(run_id, kind, path)
                store.finish_run(
                    run_id,
                    STATUS_OF_REASON.get(event.reason, "completed"),
                    reason=event.reason,
                    message=event.message,
                    best_val_ppl=event.best_val_ppl,
                )
                self._open = False

    def _start(self, event: TrainingStarted) -> None:
        if self.store is None:  # opened only now: a launcher that fails first leaves no trace
            try:
                self.store = self._db if isinstance(self._db, RunStore) else open_store(self._db)
            except RunStoreError as exc:
                self._failed = True
                self.warn(f"{_one_line(exc)}; training goes on without recording it")
                return
        chosen = ModelConfig.from_dict(event.model) if event.model else self.model_config
        model = replace(chosen, vocab_size=event.vocab_size)  # the network trained
        self.run_id = self.store.start_run(
            RunStart(
                corpus=self.corpus,
                corpus_sha256=corpus_fingerprint(self.corpus),
                corpus_lines=self.corpus_lines,
                preset=self.preset,
                model_config=model.to_dict(),
                train_config=self.train_config.to_dict(),
                device=event.device,
                threads=event.threads,
                precision=event.precision,
                parameters=event.parameters,
                vocab_size=event.vocab_size,
                start_epoch=event.start_epoch,
                launcher=self.launcher,
                val_file=self.val_file,
                resumed_from=self.resumed_from,
            )
        )
        self._open = True
        self._beat = time.monotonic()

    def _id(self) -> int:
        assert self.run_id is not None
        return self.run_id

    def _kind(self, path: str) -> str | None:
        full = os.path.abspath(path)
        if full == self._best_path:
            return "best"
        if full == self._last_path:
            return "last"
        return None  # a copy saved elsewhere on request (the playground's save as)

    def _give_up(self, exc: Exception) -> None:
        text = (
            _one_line(exc)
            if isinstance(exc, RunStoreError)
            else _one_line(f"{type(exc).__name__}: {exc}")
        )
        if self._open and self.run_id is not None:
            self.warn(f"{text}; run {self.run_id} is no longer recorded (training goes on)")
        else:
            self.warn(f"{text}; training goes on without recording this run")
        self._failed = True
        self._drop_store()

    def _drop_store(self) -> None:
        store, self.store = self.store, None
        if store is not None and store is not self._db:  # a store handed in stays open
            store.close()

    def close(self, error: BaseException | None = None) -> None:
        """Finish: a run the trainer did not end (an exception, a second Ctrl+C) is closed as
        `failed` or `interrupted`; then the store is let go."""
        with self._lock:
            if self.store is not None and self._open and self.run_id is not None:
                if error is None or isinstance(error, (KeyboardInterrupt, SystemExit)):
                    status, message = "interrupted", "interrupted before the run could finish"
                else:
                    status, message = "failed", f"{type(error).__name__}: {error}"
                try:
                    self.store.finish_run(
                        self.run_id, status, reason=status, message=" ".join(message.split())
                    )
                except Exception as exc:  # ditto
                    self._give_up(exc)
                self._open = False
            self._drop_store()

    def __enter__(self) -> RunRecorder:
        return self

    def __exit__(self, kind: Any, error: BaseException | None, tb: Any) -> None:
        self.close(error)


def record_run(
    sink: Sink | None,
    *,
    corpus: Corpus | str | os.PathLike[str],
    preset: str,
    model_config: ModelConfig,
    train_config: TrainConfig,
    out_path: str | os.PathLike[str] | None = None,
    resumed_from: str | os.PathLike[str] | None = None,
    val_file: str | os.PathLike[str] | None = None,
    launcher: str = "cli",
    db: RunStore | str | os.PathLike[str] | None = None,
    warn: Callable[[str], None] | None = None,
) -> RunRecorder:
    """A sink for TrainingRun that records the run in the store, then calls `sink`.

    Everything the events do not carry comes from here: the corpus (path and line count; its
    sha256 is taken when training starts), the preset and the settings as resolved
    (continuing: the plan's), where the best checkpoint goes, the checkpoint resumed. `db` is
    an open RunStore (left open) or a path (default: runs_db_path()), opened when training
    starts. When the store cannot be used `warn` gets one line, once, and the recorder only
    forwards events. Close it (or use it as a context manager around run()) so that a run
    ended by an exception is not left `running`.
    """
    if isinstance(corpus, Corpus):
        corpus_path, lines = corpus.path, len(corpus.lines)
    else:
        corpus_path, lines = str(corpus), None
    return RunRecorder(
        db,
        sink,
        corpus=corpus_path,
        corpus_lines=lines,
        preset=preset,
        model_config=model_config,
        train_config=train_config,
        out_path=out_path,
        resumed_from=str(resumed_from) if resumed_from else None,
        val_file=str(val_file) if val_file else None,
        launcher=launcher,
        warn=warn,
    )


def _one_line(text: object) -> str:
    return " ".join(str(text).split())
