"""A training run: the epoch loop in named steps, control from other threads, checkpoints.

run() begins (threads, precision, how much validation the budget allows), then trains epoch
after epoch (`_train_epoch`, one `_step` per batch), ends each (`_end_epoch`: validation, the
checkpoint, the best file) and finishes (`_finish`: song memory's fit, the latest file). The
time budget covers all of it (core/training/clock.py). The run reports through typed events
(core/events.py) handed to a sink callable; it never touches a view. pause(), resume() and
stop() may be called from any thread and take effect between batches. snapshot_state() gives
other threads a consistent copy of the weights being trained.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch import nn

from lyrics_tui.core import batches as B
from lyrics_tui.core.cache import CacheFit, CacheSettings, stored_fit
from lyrics_tui.core.checkpoint import Checkpoint, save_checkpoint
from lyrics_tui.core.config import ModelConfig, TrainConfig, validate
from lyrics_tui.core.distributed import SOLO, Solo
from lyrics_tui.core.errors import CheckpointError, TrainingDiverged
from lyrics_tui.core.events import (
    BatchFinished,
    CheckpointSaved,
    EndReason,
    EpochFinished,
    Phase,
    PhaseStarted,
    TrainingEvent,
    TrainingFinished,
    TrainingPaused,
    TrainingResumed,
)
from lyrics_tui.core.metrics import perplexity
from lyrics_tui.core.model import Hidden, RNNLanguageModel, detach, for_vocabulary
from lyrics_tui.core.paths import last_checkpoint_path
from lyrics_tui.core.songform import stored_form
from lyrics_tui.core.training import validation
from lyrics_tui.core.training.clock import PhaseCosts, RunClock, Timer
from lyrics_tui.core.training.data import (
    PreparedData,
    check_continuable,
    load_state,
    noised_streams,
    prepare_data,
)
from lyrics_tui.core.training.session import Session, Tally, open_session, started_event
from lyrics_tui.core.training.sizing import Sizing, size_for, sized
from lyrics_tui.core.training.weights import (
    WeightAverage,
    cpu_copy,
    learning_rate,
    make_optimizer,
)
from lyrics_tui.core.vocab import Vocabulary

__all__ = ["EventSink", "PreparedData", "TrainingRun", "prepare_data"]

EventSink = Callable[[TrainingEvent], None]
REPORT_EVERY_S = 0.1  # BatchFinished at most this often (and at an epoch's last batch)
SAVE_BYTES_PER_S = 2e8  # a first guess at saving speed, until a save has been timed


class TrainingRun:
    """Trains one model on one corpus. Create, then call run() (blocking) in any thread."""

    def __init__(
        self,
        train_lines: list[str],
        val_lines: list[str],
        model_config: ModelConfig,
        train_config: TrainConfig,
        *,
        out_path: str | Path | None = None,
        resume: Checkpoint | None = None,
        device: str = "cpu",
        sink: EventSink | None = None,
        corpus_name: str = "",
        save_every_epoch: bool = True,
        group: Solo | None = None,
        timer: Timer | None = None,
        size_to_budget: bool = False,
    ) -> None:
        validate(model_config, train_config)
        self.group = group or SOLO  # several processes: core/distributed.py
        if not self.group.leader:  # rank 0 alone reports and saves
            sink, out_path = None, None
        self.sink: EventSink = sink or (lambda event: None)
        self.device = device
        self.corpus_name = corpus_name
        self.out_path = Path(out_path) if out_path else None
        self.save_every_epoch = save_every_epoch
        self.train_config = train_config
        self.timer = timer  # the clock of the budget (None: time.perf_counter)
        # the network chosen for the corpus, the budget and this machine when run() starts
        # (core/training/sizing.py; core.config.sizes_to_budget says when)
        self.size_to_budget = size_to_budget and not resume and self.group.world == 1
        self.sizing: Sizing | None = None
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self.lock = threading.Lock()  # held while the weights change

        vocab = resume.vocab if resume else None
        self.data = prepare_data(train_lines, val_lines, train_config, vocab)
        self.form = stored_form(train_lines, self.data.vocab)  # lengths, returns, rhymes
        self.group.check(train_config, len(self.data.train_ids))
        if resume:
            model_config = resume.model_config
        words = self.data.vocab.tokens
        self.model_config = for_vocabulary(model_config, words)
        self.preset_model = self.model_config  # as asked for, before any sizing
        torch.manual_seed(train_config.seed)
        self.model = RNNLanguageModel(self.model_config, words).to(device)
        self.optimizer = make_optimizer(self.model, train_config)
        self.epoch = 0
        self.step = 0
        self.elapsed_s = 0.0
        self.history: list[dict] = []
        self.best_val_loss: float | None = None
        self.last_good: Checkpoint | None = None
        self._best: Checkpoint | None = None  # the best epoch's state, to fit song memory on
        # song memory's: the latest epoch's guess, then (after training) the latest state's full fit
        self.cache_settings: CacheSettings | None = None
        if resume:
            self._restore(resume)
            fit = stored_fit(resume)  # the file's own fit, until this run's first epoch
            self.cache_settings = fit.settings if fit is not None else None
        average = train_config.average
        self.average = WeightAverage(self.model, average) if average else None

    # -- control, from any thread --------------------------------------------------------
    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def vocab(self) -> Vocabulary:
        return self.data.vocab

    def snapshot_state(self) -> dict[str, torch.Tensor]:
        """A copy of the weights to sample from (the averaged ones when averaging), taken
        between two optimiser steps."""
        with self.lock:
            if self.average is not None:
                return self.average.state()
            return {k: v.detach().clone().cpu() for k, v in self.model.state_dict().items()}

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> TrainingFinished:
        """Train until the plan, the time budget or stop() ends it; blocking. The torch thread
        count it chooses is put back afterwards."""
        threads_before = torch.get_num_threads()
        try:
            return self._run()
        finally:
            if torch.get_num_threads() != threads_before:
                torch.set_num_threads(threads_before)

    def _run(self) -> TrainingFinished:
        session = self._begin()
        try:
            while self.epoch < session.config.epochs and session.ending is None:
                tally = self._train_epoch(session)
                if tally.batches == 0:  # stopped before its first batch
                    if self._stop.is_set():
                        session.end(EndReason.STOPPED)
                    break
                self._end_epoch(session, tally)
        except TrainingDiverged as exc:
            message = f"training stopped: {exc}; the last good checkpoint is kept"
            session.end(EndReason.DIVERGED, message)
        except CheckpointError as exc:
            session.end(EndReason.FAILED, str(exc))
        return self._finish(session)

    def _begin(self) -> Session:
        """Threads, precision and the data's layout; how much validation the budget allows."""
        clock = RunClock(self.train_config.time_budget, self.elapsed_s, self.timer)
        if self.size_to_budget and self.sizing is None:
            self._choose_size(clock)
        costs = PhaseCosts(save_s=self._save_guess())
        if self.group.leader:  # rank 0 alone validates
            unk = self.vocab.unk_id
            where, costs = validation.plan(
                self.model, self.data.val_ids, unk, self.device, clock, costs
            )
        else:
            where = validation.stretches(max(0, len(self.data.val_ids) - 1))
        s = open_session(self, clock, costs, where)
        self._agree_reserve(s)
        self.sink(started_event(self, s))
        s.batch_started = clock.timer()
        return s

    def _choose_size(self, clock: RunClock) -> None:
        """Time training steps at the sizes needed, then train the network chosen instead."""
        cfg = self.train_config
        self.average = None  # the preset network's copy goes before the timed networks come
        self.sizing = size_for(self.preset_model, cfg, self.data, self.device, clock.timer)
        self.model_config = sized(self.preset_model, self.sizing)
        torch.manual_seed(cfg.seed)
        self.model = RNNLanguageModel(self.model_config, self.vocab.tokens).to(self.device)
        self.optimizer = make_optimizer(self.model, cfg)
        self.average = WeightAverage(self.model, cfg.average) if cfg.average else None

    def _train_epoch(self, s: Session) -> Tally:
        """One pass over the training data, or less when a stop or the budget cuts it short."""
        self.model.train()
        tally = Tally(started=s.clock.elapsed())
        hidden = self.model.init_hidden(s.train_data.size(1), self.device)
        for x, y in self._batches(s):
            self._wait_while_paused(s)
            stop, s.elapsed = self.group.agree(self._stop.is_set(), s.clock.elapsed())
            if stop:
                self._stop.set()
                break
            hidden, loss = self._step(s, x, y, hidden, tally.batches)
            tally.add(loss, y.numel())
            self._choose_threads(s, y.numel())
            self._report_batch(s, tally, loss)
            if self._budget_spent(s):
                s.end(EndReason.TIME_BUDGET)
                break
        return tally

    def _batches(self, s: Session) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        cfg = s.config
        if cfg.windowing == "tutorial":
            return B.tutorial_windows(self.data.train_ids, cfg.bptt, cfg.batch_size, s.generator)
        if cfg.unk_noise:  # the same noise on every rank (one seed), then each rank's share
            s.noised = noised_streams(self.data, s.streams, cfg.unk_noise, s.generator, s.noised)
            return B.stream_batches(self.group.share(s.noised).to(self.device), cfg.bptt)
        return B.stream_batches(s.train_data, cfg.bptt)

    def _step(
        self, s: Session, x: torch.Tensor, y: torch.Tensor, hidden: Hidden, batch: int
    ) -> tuple[Hidden, float]:
        """One optimiser step on one batch; the hidden state to carry and the batch's loss."""
        x, y = x.to(self.device), y.to(self.device)
        if s.config.windowing == "tutorial":
            hidden = self.model.init_hidden(x.size(1), self.device)
        else:
            hidden = detach(hidden)
        s.lr = learning_rate(s.config, s.progress(self.step))
        with self.lock:
            for group in self.optimizer.param_groups:
                group["lr"] = s.lr
            with torch.autocast(s.autocast, dtype=torch.bfloat16, enabled=s.precision == "bf16"):
                loss, hidden = s.net(x, hidden, y)
            bad = self.group.nonfinite(loss)
            if bad is not None:
                raise TrainingDiverged(
                    f"the loss became {bad} at epoch {self.epoch + 1}, batch {batch + 1}"
                )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if s.config.clip:
                nn.utils.clip_grad_norm_(self.model.parameters(), s.config.clip)
            self.optimizer.step()
            if self.average is not None:
                self.average.update(self.step)
        self.step += 1
        return hidden, loss.item()

    def _wait_while_paused(self, s: Session) -> None:
        if self._running.is_set():
            return
        self.sink(TrainingPaused(self.epoch + 1))
        with s.clock.paused():  # paused time is not training
            self._running.wait()
        s.batch_started = s.clock.timer()
        self.sink(TrainingResumed(self.epoch + 1))

    def _choose_threads(self, s: Session, tokens: int) -> None:
        """Time the batch for ThreadChooser, which may change the thread count."""
        if s.chooser is None:
            return
        chosen = s.chooser.record(tokens, s.clock.timer() - s.batch_started)
        if chosen != torch.get_num_threads():
            torch.set_num_threads(chosen)
        s.batch_started = s.clock.timer()

    def _report_batch(self, s: Session, tally: Tally, loss: float) -> None:
        now = s.clock.elapsed()
        last = tally.batches == s.batches_per_epoch
        if now - s.last_report < REPORT_EVERY_S and not last and s.last_report >= 0:
            return
        s.last_report = now
        spent = now - tally.started
        eta = spent / tally.batches * max(0, s.batches_per_epoch - tally.batches)
        budget = s.config.time_budget
        if budget:
            eta = min(eta, max(0.0, budget - s.reserve - now))
        rate = tally.tokens / spent if spent > 0 else 0.0
        self.sink(
            BatchFinished(
                self.epoch + 1, tally.batches, s.batches_per_epoch, loss, rate, now, eta, budget
            )
        )

    def _budget_spent(self, s: Session) -> bool:
        """Whether training must end now to leave the rest of the budget to what follows it."""
        budget = s.config.time_budget
        return bool(budget) and self.group.any(s.clock.elapsed() + s.reserve >= budget)

    def _end_epoch(self, s: Session, tally: Tally) -> None:
        """Validate, report, keep the state (and the best file); end on a stop or the budget."""
        self.epoch += 1
        loss_sum, tokens = self.group.total(tally.loss_sum, tally.tokens)
        train_loss = loss_sum / max(1, tokens)
        reading = self._validate(s)
        val_loss = self.group.from_leader(reading.loss if reading else None)  # rank 0 alone
        self.elapsed_s = s.clock.elapsed()
        spent = self.elapsed_s - tally.started
        score = val_loss if val_loss is not None else train_loss
        is_best = self.best_val_loss is None or score < self.best_val_loss
        if is_best:
            self.best_val_loss = score
        event = EpochFinished(
            epoch=self.epoch,
            train_loss=train_loss,
            val_loss=val_loss,
            val_ppl=perplexity(val_loss) if val_loss is not None else None,
            tokens_per_s=tokens / spent if spent > 0 else 0.0,
            elapsed_s=self.elapsed_s,
            lr=s.lr,
            is_best=is_best,
            cache_val_ppl=reading.cache_ppl if reading else None,
        )
        self.history.append(event.to_dict())
        with self._averaged():
            self.last_good = self.checkpoint()
        s.latest = reading
        if is_best:
            self._best, s.best = self.last_good, reading
        self.sink(event)
        if is_best and self.out_path:
            s.best_path = self._save_timed(s, self.out_path)
        self._agree_reserve(s)
        if self.group.any(self._stop.is_set()):
            s.end(EndReason.STOPPED)
        elif self._budget_spent(s) and s.ending is None:
            s.end(EndReason.TIME_BUDGET)

    def _validate(self, s: Session) -> validation.Reading | None:
        """The averaged weights read the validation stretch (rank 0 alone)."""
        if not self.group.leader or s.where.read < 1:
            return None
        self.sink(PhaseStarted(Phase.VALIDATING, self.epoch, s.costs.validate_s, s.clock.elapsed()))
        watch = s.clock.timed()
        with self._averaged():
            reading = validation.validate(
                self.model, self.data.val_ids, self.vocab.unk_id, s.where, self.device
            )
        s.costs.validate_s = watch.seconds()
        if reading is not None and reading.cache_settings is not None:
            self.cache_settings = reading.cache_settings
        return reading

    def _agree_reserve(self, s: Session) -> None:
        """Every rank keeps the leader's reserve, so that the learning rate agrees."""
        # the end fits one state, or two when the latest epoch was not the best
        states = 1 if not self.history or self.history[-1].get("is_best") else 2
        s.reserve = self.group.from_leader(s.costs.reserve(states)) or 0.0

    def _finish(self, s: Session) -> TrainingFinished:
        """Fit song memory, save the latest state, and say how the run ended."""
        fit = None
        if not s.reason.failed:
            try:
                fit = self._fit_cache(s)
            except CheckpointError as exc:
                s.end(EndReason.FAILED, str(exc))
        self.elapsed_s = s.clock.elapsed()
        if s.reason is EndReason.TIME_BUDGET:  # its budget is spent, phases after it included
            self.elapsed_s = max(self.elapsed_s, s.config.time_budget)
        if self.last_good is not None:
            self.last_good.elapsed_s = self.elapsed_s
        if s.reason is not EndReason.DIVERGED and self.out_path and self.save_every_epoch:
            try:
                if self.epoch:
                    s.last_path = self._save_timed(s, last_checkpoint_path(self.out_path), True)
            except CheckpointError as exc:
                s.end(EndReason.FAILED, str(exc))
        finished = TrainingFinished(
            reason=s.reason,
            epochs=self.epoch,
            best_val_ppl=perplexity(self.best_val_loss) if self.best_val_loss is not None else None,
            best_checkpoint=next(  # a file there now: its folder may have gone mid-run
                (str(p) for p in (s.best_path, self.out_path) if p and Path(p).exists()), None
            ),
            last_checkpoint=s.last_path,
            message=s.message,
            cache_val_ppl=fit.cache_ppl if fit else None,
            cache_cross_ppl=fit.cross_cache_ppl if fit else None,
            plain_cross_ppl=fit.cross_plain_ppl if fit else None,
            cache=fit.settings.to_dict() if fit else None,
            cache_tokens=fit.tokens if fit else None,
            val_tokens=s.best.tokens if s.best else None,
            elapsed_s=s.clock.elapsed(),
        )
        self.sink(finished)
        return finished

    def _fit_cache(self, s: Session) -> CacheFit | None:
        """Fit song memory for the best and the latest state (from their own readings: nothing
        is read again), store it in both (the best file is saved again), and return the best
        one's fit. With a budget, it stops in time for the saves."""
        if not self.group.leader or self._best is None or s.best is None or s.latest is None:
            return None  # rank 0 alone validates and saves
        assert self.last_good is not None  # there is a best epoch
        states = [(self._best, s.best), (self.last_good, s.latest)]
        distinct = len({id(checkpoint) for checkpoint, _ in states})
        eta = s.costs.fit_s * distinct
        self.sink(PhaseStarted(Phase.FITTING, self.epoch, eta, s.clock.elapsed()))
        watch = s.clock.timed()
        fits = validation.fit_states(states, s.clock, 2 * s.costs.save_s)
        s.costs.fit_s = watch.seconds() / distinct
        if s.best_path and self.out_path:
            save_checkpoint(self._best, self.out_path)
        latest = fits[id(self.last_good)]
        if latest is not None:  # the run holds the latest weights: their fit replaces the guess
            self.cache_settings = latest.settings
        return fits[id(self._best)]

    # -- helpers -------------------------------------------------------------------------
    def _averaged(self) -> contextlib.AbstractContextManager[None]:
        """The averaged weights swapped in (for evaluation and saving), when averaging."""
        if self.average is None:
            return contextlib.nullcontext()
        return self.average.swapped_in(self.lock)

    def checkpoint(self) -> Checkpoint:
        with self.lock:
            model_state = {k: v.detach().clone().cpu() for k, v in self.model.state_dict().items()}
            optimizer_state = cpu_copy(self.optimizer.state_dict())
        return Checkpoint(
            model_config=self.model_config,
            train_config=self.train_config,
            vocab=self.vocab,
            model_state=model_state,
            optimizer_state=optimizer_state,
            epoch=self.epoch,
            step=self.step,
            elapsed_s=self.elapsed_s,
            history=list(self.history),
            best_val_loss=self.best_val_loss,
            corpus=self.corpus_name,
            form=self.form,
        )

    def _save(self, path: Path) -> str:
        checkpoint = self.last_good or self.checkpoint()
        saved = save_checkpoint(checkpoint, path)
        self.sink(CheckpointSaved(saved, checkpoint.epoch, checkpoint.val_ppl))
        return saved

    def _save_timed(self, s: Session, path: Path, phase: bool = False) -> str:
        if phase:  # at the end of the run, where the views would otherwise seem to hang
            self.sink(PhaseStarted(Phase.SAVING, self.epoch, s.costs.save_s, s.clock.elapsed()))
        watch = s.clock.timed()
        saved = self._save(path)
        s.costs.save_s = watch.seconds()
        return saved

    def _save_guess(self) -> float:
        """Seconds a save may take before one has been timed: weights and optimiser state."""
        return 0.05 + 4 * 3 * self.model.parameter_count() / SAVE_BYTES_PER_S

    def save(self, path: str | Path) -> str:
        """Save the last finished epoch's state (or the current one before any epoch ends)."""
        return self._save(Path(path))

    def _restore(self, checkpoint: Checkpoint) -> None:
        load_state(self.model, self.optimizer, checkpoint)
        check_continuable(checkpoint, self.train_config)
        self.epoch, self.step = checkpoint.epoch, checkpoint.step
        self.elapsed_s = checkpoint.elapsed_s
        self.history = list(checkpoint.history)
        self.best_val_loss = checkpoint.best_val_loss
