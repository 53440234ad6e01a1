"""What a training run tells its views. Plain dataclasses, named for what happened."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any


class EndReason(StrEnum):
    """Why a run ended (a string: JSON and the run store keep its value)."""

    COMPLETED = "completed"
    TIME_BUDGET = "time budget"
    STOPPED = "stopped"
    DIVERGED = "diverged"
    FAILED = "failed"

    @property
    def failed(self) -> bool:
        """The run went wrong (its message is an error), rather than ending as asked."""
        return self in (EndReason.DIVERGED, EndReason.FAILED)


class Phase(StrEnum):
    """What a run does between its batches."""

    VALIDATING = "validating"
    FITTING = "fitting song memory"
    SAVING = "saving"


@dataclass(frozen=True)
class TrainingStarted:
    vocab_size: int
    train_tokens: int
    val_tokens: int
    unknown_rate: float  # share of validation tokens that are <unk>
    batches_per_epoch: int
    parameters: int
    device: str
    threads: int
    start_epoch: int  # epochs already done (resumed runs start past 0)
    precision: str = "fp32"  # of the training matmuls
    processes: int = 1  # ranks training together (threads are per process)
    time_budget: float = 0.0  # seconds for the whole run, earlier sessions included (0: none)
    end_epoch: int = 0  # the epoch the plan ends at (0: as many as the time budget holds)
    # The validation tokens each epoch's figures are over: the first val_read of the split (all
    # of it unless the budget is too short), the first cache_read of those for song memory's.
    val_read: int = 0
    cache_read: int = 0
    sized: str = ""  # what the default preset chose for this corpus and machine, in words
    model: dict | None = None  # the network's settings, when chosen at the start (sized)


@dataclass(frozen=True)
class BatchFinished:
    epoch: int
    batch: int
    batches: int
    loss: float
    tokens_per_s: float
    elapsed_s: float
    eta_s: float  # to the end of this epoch's training, or of the budget's if that comes first
    time_budget: float = 0.0  # the run's (0: none)


@dataclass(frozen=True)
class EpochRecord:
    """One finished epoch's figures, declared once: the event EpochFinished, a checkpoint's
    history row (to_dict), the run store's epoch columns and the `train --json` epoch line
    are all made from these fields."""

    epoch: int
    train_loss: float
    val_loss: float | None
    val_ppl: float | None
    tokens_per_s: float
    elapsed_s: float
    lr: float
    # the `train --json` epoch line has never carried it: kept out so that its keys stay
    is_best: bool = field(default=False, metadata={"json_line": False})
    # validation perplexity with song memory (core/cache.py): θ carried from the last epoch's
    # fit, N and λ chosen again (a cheap figure; the full fit runs once, after training)
    cache_val_ppl: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The history row a checkpoint keeps (and `runs show --json` prints)."""
        return asdict(self)

    def json_line(self) -> dict[str, Any]:
        """The line `train --json` prints for this epoch."""
        line: dict[str, Any] = {"event": "epoch"}
        for item in fields(EpochRecord):
            if item.metadata.get("json_line", True):
                line[item.name] = getattr(self, item.name)
        return line

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> EpochRecord:
        """A record from its values in field order (the run store's columns; SQLite keeps
        booleans as integers)."""
        values = [
            bool(value) if item.type in (bool, "bool") else value
            for item, value in zip(fields(cls), row, strict=True)
        ]
        return cls(*values)


@dataclass(frozen=True)
class EpochFinished(EpochRecord):
    """An epoch ended: the event is its record (a store keeps it as it comes)."""


@dataclass(frozen=True)
class CheckpointSaved:
    path: str
    epoch: int
    val_ppl: float | None


@dataclass(frozen=True)
class PhaseStarted:
    """A step between batches that takes a while: validating, fitting song memory, saving."""

    phase: Phase
    epoch: int
    eta_s: float  # its expected length
    elapsed_s: float


@dataclass(frozen=True)
class TrainingPaused:
    epoch: int


@dataclass(frozen=True)
class TrainingResumed:
    epoch: int


@dataclass(frozen=True)
class TrainingFinished:
    reason: EndReason
    epochs: int
    best_val_ppl: float | None
    best_checkpoint: str | None
    last_checkpoint: str | None
    message: str = ""
    # Song memory fitted on the validation split after training, for the best checkpoint:
    cache_val_ppl: float | None = None  # settings fitted and scored on validation (optimistic)
    cache_cross_ppl: float | None = None  # fitted on its first half, scored on the second
    plain_cross_ppl: float | None = None  # the network alone on that second half
    cache: dict | None = None  # the settings stored in the checkpoint: window, theta, lambda
    cache_tokens: int | None = None  # the validation tokens song memory was fitted on
    val_tokens: int | None = None  # the validation tokens best_val_ppl is over
    elapsed_s: float = 0.0  # the run's seconds, earlier sessions included


TrainingEvent = (
    TrainingStarted
    | BatchFinished
    | EpochFinished
    | CheckpointSaved
    | PhaseStarted
    | TrainingPaused
    | TrainingResumed
    | TrainingFinished
)
