"""What a training run tells its views. Plain dataclasses, named for what happened."""

from __future__ import annotations

from dataclasses import asdict, dataclass


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


@dataclass(frozen=True)
class BatchFinished:
    epoch: int
    batch: int
    batches: int
    loss: float
    tokens_per_s: float
    elapsed_s: float
    eta_s: float  # to the end of this epoch


@dataclass(frozen=True)
class EpochFinished:
    epoch: int
    train_loss: float
    val_loss: float | None
    val_ppl: float | None
    tokens_per_s: float
    elapsed_s: float
    lr: float
    is_best: bool
    # validation perplexity with song memory (core/cache.py): θ carried from the last epoch's
    # fit, N and λ chosen again (a cheap figure; the full fit runs once, after training)
    cache_val_ppl: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class CheckpointSaved:
    path: str
    epoch: int
    val_ppl: float | None


@dataclass(frozen=True)
class TrainingPaused:
    epoch: int


@dataclass(frozen=True)
class TrainingResumed:
    epoch: int


@dataclass(frozen=True)
class TrainingFinished:
    reason: str  # "completed" | "time budget" | "stopped" | "diverged" | "failed"
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


TrainingEvent = (
    TrainingStarted
    | BatchFinished
    | EpochFinished
    | CheckpointSaved
    | TrainingPaused
    | TrainingResumed
    | TrainingFinished
)
