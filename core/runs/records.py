"""What the run store holds, as plain records: a run as it starts, an epoch (EpochRecord,
declared with the events in core/events.py), a run as listed (RunSummary) and in full
(RunDetail), and what polling and deleting answer. No SQL here.
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass
from typing import Any

from lyrics_tui.core.events import EpochRecord


# -- records ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunStart:
    """What a run is, known once it starts (the recorder fills it from the launcher and the
    TrainingStarted event)."""

    corpus: str
    corpus_sha256: str | None
    corpus_lines: int | None
    preset: str
    model_config: dict[str, Any]
    train_config: dict[str, Any]
    device: str
    threads: int
    precision: str
    parameters: int
    vocab_size: int
    start_epoch: int = 0
    launcher: str = "cli"
    val_file: str | None = None
    resumed_from: str | None = None


@dataclass(frozen=True)
class RunSummary:
    """A row of the runs table, cheap to list (no JSON to parse)."""

    id: int
    rev: int
    status: str
    reason: str | None
    started_at: float
    ended_at: float | None
    heartbeat_at: float
    corpus: str
    corpus_name: str
    preset: str
    tokenizer: str
    cell: str
    embed: int
    hidden: int
    layers: int
    parameters: int
    vocab_size: int
    device: str
    epochs: int
    planned_epochs: int
    best_val_ppl: float | None
    last_val_ppl: float | None
    elapsed_s: float
    best_checkpoint: str | None
    last_checkpoint: str | None
    host: str
    pid: int

    @property
    def checkpoint(self) -> str | None:
        """The file to open for this run: its best model, else its latest state."""
        return self.best_checkpoint or self.last_checkpoint

    def to_json(self) -> dict[str, Any]:
        """The object `lyrics-tui runs --json` prints for this run."""
        return {
            "id": self.id,
            "status": self.status,
            "reason": self.reason,
            "started": iso_time(self.started_at),
            "ended": iso_time(self.ended_at),
            "corpus": self.corpus,
            "preset": self.preset,
            "tokenizer": self.tokenizer,
            "cell": self.cell,
            "embed": self.embed,
            "hidden": self.hidden,
            "layers": self.layers,
            "parameters": self.parameters,
            "vocab_size": self.vocab_size,
            "device": self.device,
            "epochs": self.epochs,
            "planned_epochs": self.planned_epochs,
            "best_val_ppl": self.best_val_ppl,
            "last_val_ppl": self.last_val_ppl,
            "elapsed_s": self.elapsed_s,
            "checkpoint": self.checkpoint,
            "last_checkpoint": self.last_checkpoint,
        }


@dataclass(frozen=True)
class RunDetail(RunSummary):
    """Everything stored about a run, settings included."""

    message: str
    pid_start: str | None
    launcher: str
    corpus_sha256: str | None
    corpus_lines: int | None
    val_file: str | None
    model_config: dict[str, Any]
    train_config: dict[str, Any]
    threads: int
    precision: str
    start_epoch: int
    last_train_loss: float | None
    best_stamp: str | None
    last_stamp: str | None
    resumed_from: str | None
    parent_id: int | None

    def settings(self) -> dict[str, Any]:
        """The run's settings as one flat mapping, in a stable order (what compare lines up)."""
        flat: dict[str, Any] = {
            "corpus": self.corpus,
            "corpus_sha256": self.corpus_sha256,
            "corpus_lines": self.corpus_lines,
            "val_file": self.val_file,
            "preset": self.preset,
        }
        flat.update(self.model_config)
        flat.update(self.train_config)
        flat.update(
            {
                "device": self.device,
                "threads_used": self.threads,
                "precision_used": self.precision,
                "start_epoch": self.start_epoch,
                "resumed_from": self.resumed_from,
            }
        )
        return flat

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        out.update(
            {
                "message": self.message,
                "host": self.host,
                "pid": self.pid,
                "launcher": self.launcher,
                "corpus_sha256": self.corpus_sha256,
                "corpus_lines": self.corpus_lines,
                "val_file": self.val_file,
                "threads": self.threads,
                "precision": self.precision,
                "start_epoch": self.start_epoch,
                "last_train_loss": self.last_train_loss,
                "resumed_from": self.resumed_from,
                "parent_id": self.parent_id,
                "model_config": self.model_config,
                "train_config": self.train_config,
            }
        )
        return out


@dataclass(frozen=True)
class RunChanges:
    """What changed since a revision: poll with the `rev` of the previous answer."""

    rev: int
    changed: list[RunSummary]  # new or updated runs, oldest change first
    removed: list[int]  # ids deleted since


@dataclass(frozen=True)
class Deletion:
    run_id: int
    removed_files: list[str]
    kept_files: list[tuple[str, str]]  # (path, why it was kept)


def iso_time(ts: float | None) -> str | None:
    """A unix time as local ISO 8601 with its offset, to the second."""
    if ts is None:
        return None
    from datetime import datetime

    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def checkpoint_state(path: str | None, stamp: str | None) -> str:
    """'ok', 'missing' or 'replaced' (another run or program wrote the file since)."""
    if not path:
        return "missing"
    now = file_stamp(path)
    if now is None:
        return "missing"
    return "ok" if stamp is None or now == stamp else "replaced"


def file_stamp(path: str) -> str | None:
    """size:mtime_ns of a file, or None when it is not there."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return f"{st.st_size}:{st.st_mtime_ns}"


@dataclass(frozen=True)
class Comparison:
    ids: list[int]
    settings: dict[str, list[Any]]  # only the settings that differ, one value per run
    figures: list[dict[str, Any]]  # the final figures of each run


def final_figures(run: RunDetail, epochs: list[EpochRecord]) -> dict[str, Any]:
    """The figures a run ended with."""
    last = epochs[-1] if epochs else None
    rates = [e.tokens_per_s for e in epochs if e.tokens_per_s > 0]
    return {
        "id": run.id,
        "status": run.status,
        "epochs": run.epochs,
        "best_val_ppl": run.best_val_ppl,
        "final_val_ppl": last.val_ppl if last else None,
        "final_train_loss": last.train_loss if last else None,
        "tokens_per_s": statistics.median(rates) if rates else None,
        "elapsed_s": run.elapsed_s,
        "parameters": run.parameters,
    }
