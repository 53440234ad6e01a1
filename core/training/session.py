"""What one call of TrainingRun.run() works with, and one epoch's running totals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from lyrics_tui.core import batches as B
from lyrics_tui.core.config import ModelConfig, TrainConfig, fills_budget
from lyrics_tui.core.device import ThreadChooser, resolve_precision, training_threads
from lyrics_tui.core.distributed import Solo
from lyrics_tui.core.events import EndReason, TrainingStarted
from lyrics_tui.core.model import RNNLanguageModel
from lyrics_tui.core.training.clock import PhaseCosts, RunClock
from lyrics_tui.core.training.data import PreparedData
from lyrics_tui.core.training.sizing import Sizing
from lyrics_tui.core.training.validation import Reading, Stretches


class Run(Protocol):
    """What a session is made from (core.trainer.TrainingRun)."""

    train_config: TrainConfig
    device: str
    group: Solo
    data: PreparedData
    model: RNNLanguageModel
    model_config: ModelConfig
    preset_model: ModelConfig  # the network the settings asked for, before any sizing
    sizing: Sizing | None
    epoch: int


@dataclass
class Session:
    """The settings of one run() call and the state of its loop."""

    config: TrainConfig
    clock: RunClock
    costs: PhaseCosts  # what validating, fitting and saving cost (the leader's measures)
    where: Stretches  # how much of the validation split each reading covers
    net: nn.Module  # the module trained through (DistributedDataParallel on several ranks)
    streams: torch.Tensor  # every rank's streams, [steps, streams] (on the CPU)
    train_data: torch.Tensor  # this rank's, on its device (the same tensor, alone on a CPU)
    generator: torch.Generator
    batches_per_epoch: int
    total_steps: int
    threads: int
    precision: str
    chooser: ThreadChooser | None
    noised: torch.Tensor | None = None  # this epoch's streams (every rank's) with <unk> noise
    reserve: float = 0.0  # seconds kept for the end of the run, the same on every rank
    elapsed: float = 0.0  # the run's seconds as every rank agreed at the last batch
    lr: float = 0.0
    batch_started: float = 0.0  # by the run's timer, for ThreadChooser
    last_report: float = -1.0  # elapsed seconds at the last BatchFinished
    ending: EndReason | None = None
    message: str = ""
    best_path: str | None = None
    last_path: str | None = None
    latest: Reading | None = None  # the latest epoch's validation
    best: Reading | None = None  # the best epoch's

    @property
    def autocast(self) -> str:
        return "cuda" if next(self.net.parameters()).is_cuda else "cpu"

    @property
    def reason(self) -> EndReason:
        return self.ending or EndReason.COMPLETED

    def end(self, reason: EndReason, message: str = "") -> None:
        self.ending, self.message = reason, message

    def progress(self, step: int) -> float:
        """How far through its plan the run is (0 to 1): by steps, or by time when the
        budget's training time ends it sooner."""
        progress = step / self.total_steps
        budget = self.config.time_budget
        if budget:
            progress = max(progress, self.elapsed / max(1e-9, budget - self.reserve))
        return min(1.0, progress)


def open_session(run: Run, clock: RunClock, costs: PhaseCosts, where: Stretches) -> Session:
    """A run's session: its threads (set now), precision, and the training data laid out."""
    cfg, device, group = run.train_config, run.device, run.group
    threads = training_threads(cfg.threads, group.local_world)
    chooser = None
    if device == "cpu":
        start = run.sizing.threads if run.sizing and run.sizing.threads else threads
        torch.set_num_threads(start)  # the count sizing timed fastest, else every core
        if not cfg.threads and threads > 1:
            chooser = ThreadChooser([threads, 1], start=start)
    train_ids = run.data.train_ids
    streams = B.batchify(train_ids, cfg.batch_size)
    train_data = group.share(streams)
    per_epoch = (
        B.tutorial_window_count(len(train_ids), cfg.bptt, cfg.batch_size)
        if cfg.windowing == "tutorial"
        else B.stream_batch_count(train_data, cfg.bptt)
    )
    return Session(
        config=cfg,
        clock=clock,
        costs=costs,
        where=where,
        net=group.wrap(run.model, cfg.seed),  # DistributedDataParallel on several ranks
        streams=streams,
        train_data=train_data.to(device),
        generator=torch.Generator().manual_seed(cfg.seed + run.epoch),
        batches_per_epoch=per_epoch,
        total_steps=max(1, per_epoch * cfg.epochs),
        threads=threads,
        precision=resolve_precision(cfg.precision, device),
        chooser=chooser,
    )


def started_event(run: Run, s: Session) -> TrainingStarted:
    data = run.data
    return TrainingStarted(
        vocab_size=len(data.vocab),
        train_tokens=len(data.train_ids),
        val_tokens=len(data.val_ids),
        unknown_rate=data.val_unknown_rate,
        batches_per_epoch=s.batches_per_epoch,
        parameters=run.model.parameter_count(),
        device=run.device,
        threads=s.threads,
        start_epoch=run.epoch,
        precision=s.precision,
        processes=run.group.world,
        time_budget=s.config.time_budget,
        end_epoch=0 if fills_budget(s.config) else s.config.epochs,
        val_read=s.where.read,
        cache_read=s.where.quick,
        sized=run.sizing.describe(run.preset_model) if run.sizing else "",
        model=run.model_config.to_dict() if run.sizing else None,
    )


@dataclass
class Tally:
    """One epoch's running totals."""

    started: float  # the run's elapsed seconds when the epoch began
    loss_sum: float = 0.0
    tokens: int = 0
    batches: int = 0

    def add(self, loss: float, tokens: int) -> None:
        self.loss_sum += loss * tokens
        self.tokens += tokens
        self.batches += 1
