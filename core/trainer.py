"""A training run: data preparation, the epoch loop, validation, checkpoints, and control.

The run reports through typed events (core/events.py) handed to a sink callable; it never
touches a view. pause(), resume() and stop() may be called from any thread and take effect
between batches. snapshot() gives other threads a consistent copy of the weights being trained.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from lyrics_tui.core import batches as B
from lyrics_tui.core import cache_eval
from lyrics_tui.core.cache import CacheFit, CacheSettings, stored_fit
from lyrics_tui.core.checkpoint import (
    Checkpoint,
    model_from_checkpoint,
    save_checkpoint,
    weights_mismatch,
)
from lyrics_tui.core.config import ModelConfig, TrainConfig, validate
from lyrics_tui.core.device import ThreadChooser, resolve_precision, training_threads
from lyrics_tui.core.distributed import SOLO, Solo
from lyrics_tui.core.encoded import encode_split
from lyrics_tui.core.errors import CheckpointError, CorpusError, SettingsError
from lyrics_tui.core.events import (
    BatchFinished,
    CheckpointSaved,
    EpochFinished,
    TrainingEvent,
    TrainingFinished,
    TrainingPaused,
    TrainingResumed,
    TrainingStarted,
)
from lyrics_tui.core.metrics import perplexity
from lyrics_tui.core.model import RNNLanguageModel, detach
from lyrics_tui.core.paths import last_checkpoint_path
from lyrics_tui.core.songform import stored_form
from lyrics_tui.core.vocab import Vocabulary

EventSink = Callable[[TrainingEvent], None]
MIN_LR_FRACTION = 0.05  # the cosine schedule ends at this fraction of the base rate


@dataclass(frozen=True)
class PreparedData:
    vocab: Vocabulary
    train_ids: torch.Tensor
    val_ids: torch.Tensor
    val_unknown_rate: float


def prepare_data(
    train_lines: list[str],
    val_lines: list[str],
    config: TrainConfig,
    vocab: Vocabulary | None = None,
) -> PreparedData:
    """Tokenise, build (or reuse) the vocabulary, and encode both splits as id tensors."""
    # Tokenised once per text and tokenizer, then read from the user's cache (core/encoded.py);
    # memory stays a few bytes per token on a large corpus.
    encoded = encode_split(train_lines, val_lines, config.tokenizer)
    if vocab is None:
        vocab = encoded.vocabulary(config.min_count, config.max_vocab)
        if encoded.cut >= 2 and len(vocab) < 2:
            raise CorpusError(
                "the vocabulary would hold only <unk>: "
                + (
                    "{max_vocab} 1 leaves no room for words"
                    if config.max_vocab == 1
                    else f"no token is seen {config.min_count} times; lower {{min_count}} or use "
                    "a longer corpus"
                )
            )
    train_array, val_array = encoded.ids(vocab)
    train_ids = torch.from_numpy(train_array)
    val_ids = torch.from_numpy(val_array)
    unknown = float((val_array == vocab.unk_id).mean()) if len(val_array) else 0.0
    if len(train_ids) < 2:
        raise CorpusError(
            "the training split is too short to learn from (needs at least one "
            "line with a word in it)"
        )
    return PreparedData(vocab, train_ids, val_ids, unknown)


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
        self.model_config = replace(model_config, vocab_size=len(self.data.vocab))
        torch.manual_seed(train_config.seed)
        self.model = RNNLanguageModel(self.model_config).to(device)
        self.optimizer = self._make_optimizer()
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
        # Weight averaging: the model that is evaluated, saved and sampled from is an
        # exponential moving average of the trained weights, which on a corpus this small
        # lowers held-out perplexity at no cost per step worth measuring (bench/quality.py).
        self._params: list[torch.Tensor] = list(self.model.parameters())
        self._average = [p.detach().clone() for p in self._params] if train_config.average else None

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
            state = {k: v.detach().clone().cpu() for k, v in self.model.state_dict().items()}
            if self._average is not None:
                names = {id(p): n for n, p in self.model.named_parameters()}
                for p, a in zip(self._params, self._average, strict=True):
                    state[names[id(p)]] = a.detach().clone().cpu()
                if self.model_config.tie_weights:
                    state["decoder.weight"] = state["embedding.weight"]
            return state

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
        cfg = self.train_config
        threads = training_threads(cfg.threads, self.group.local_world)
        chooser = (
            ThreadChooser([threads, 1])
            if self.device == "cpu" and not cfg.threads and threads > 1
            else None
        )
        if self.device == "cpu":
            torch.set_num_threads(threads)
        precision = resolve_precision(cfg.precision, self.device)
        autocast_type = "cuda" if self.device.startswith("cuda") else "cpu"
        train_data = self.group.share(B.batchify(self.data.train_ids, cfg.batch_size))
        train_data = train_data.to(self.device)
        net = self.group.wrap(self.model, cfg.seed)  # DistributedDataParallel on several ranks
        generator = torch.Generator().manual_seed(cfg.seed + self.epoch)
        per_epoch = (
            B.tutorial_window_count(len(self.data.train_ids), cfg.bptt, cfg.batch_size)
            if cfg.windowing == "tutorial"
            else B.stream_batch_count(train_data, cfg.bptt)
        )
        self.sink(
            TrainingStarted(
                vocab_size=len(self.vocab),
                train_tokens=len(self.data.train_ids),
                val_tokens=len(self.data.val_ids),
                unknown_rate=self.data.val_unknown_rate,
                batches_per_epoch=per_epoch,
                parameters=self.model.parameter_count(),
                device=self.device,
                threads=threads,
                start_epoch=self.epoch,
                precision=precision,
                processes=self.group.world,
            )
        )
        total_steps = max(1, per_epoch * cfg.epochs)
        reason, message = "completed", ""
        best_path = last_path = None
        clock = time.perf_counter()
        elapsed_before = self.elapsed_s
        try:
            while self.epoch < cfg.epochs:
                self.model.train()
                epoch_loss, epoch_tokens, n_batches = 0.0, 0, 0
                epoch_start = time.perf_counter()
                last_report = 0.0
                if cfg.windowing == "tutorial":
                    batches = B.tutorial_windows(
                        self.data.train_ids, cfg.bptt, cfg.batch_size, generator
                    )
                else:
                    if cfg.unk_noise:
                        train_data = self._noised_streams(generator)
                    batches = B.stream_batches(train_data, cfg.bptt)
                hidden = self.model.init_hidden(train_data.size(1), self.device)
                batch_started = time.perf_counter()
                for x, y in batches:
                    if not self._running.is_set():
                        self.sink(TrainingPaused(self.epoch + 1))
                        paused_at = time.perf_counter()
                        self._running.wait()
                        clock += time.perf_counter() - paused_at  # paused time is not training
                        epoch_start += time.perf_counter() - paused_at
                        batch_started = time.perf_counter()
                        self.sink(TrainingResumed(self.epoch + 1))
                    stop, elapsed = self.group.agree(
                        self._stop.is_set(), elapsed_before + time.perf_counter() - clock
                    )
                    if stop:
                        self._stop.set()
                        break
                    x, y = x.to(self.device), y.to(self.device)
                    if cfg.windowing == "tutorial":
                        hidden = self.model.init_hidden(x.size(1), self.device)
                    else:
                        hidden = detach(hidden)
                    lr = self._lr(total_steps, elapsed)
                    with self.lock:
                        for group in self.optimizer.param_groups:
                            group["lr"] = lr
                        with torch.autocast(
                            autocast_type, dtype=torch.bfloat16, enabled=precision == "bf16"
                        ):
                            logits, hidden = net(x, hidden)
                        loss = nn.functional.cross_entropy(
                            logits.float().view(-1, logits.size(-1)), y.reshape(-1)
                        )
                        bad = self.group.nonfinite(loss)
                        if bad is not None:
                            raise _Diverged(
                                f"the loss became {bad} at epoch "
                                f"{self.epoch + 1}, batch {n_batches + 1}"
                            )
                        self.optimizer.zero_grad(set_to_none=True)
                        loss.backward()
                        if cfg.clip:
                            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip)
                        self.optimizer.step()
                        if self._average is not None:
                            self._update_average()
                    self.step += 1
                    n_batches += 1
                    if chooser is not None:
                        now = time.perf_counter()
                        chosen = chooser.record(y.numel(), now - batch_started)
                        if chosen != torch.get_num_threads():
                            torch.set_num_threads(chosen)
                        batch_started = time.perf_counter()
                    epoch_loss += loss.item() * y.numel()
                    epoch_tokens += y.numel()
                    now = time.perf_counter()
                    if now - last_report >= 0.1 or n_batches == per_epoch:
                        last_report = now
                        spent = now - epoch_start
                        rate = epoch_tokens / spent if spent > 0 else 0.0
                        eta = spent / n_batches * max(0, per_epoch - n_batches)
                        self.sink(
                            BatchFinished(
                                self.epoch + 1,
                                n_batches,
                                per_epoch,
                                loss.item(),
                                rate,
                                elapsed_before + now - clock,
                                eta,
                            )
                        )
                    if cfg.time_budget and self.group.any(
                        elapsed_before + now - clock >= cfg.time_budget
                    ):
                        reason = "time budget"
                        break
                if n_batches == 0:
                    if self._stop.is_set():
                        reason = "stopped"
                    break
                self.epoch += 1
                epoch_loss, epoch_tokens = self.group.total(epoch_loss, epoch_tokens)
                train_loss = epoch_loss / max(1, epoch_tokens)
                with self._averaged_weights():
                    val_loss, cache_val_ppl = (
                        self._validate() if self.group.leader else (None, None)
                    )
                val_loss = self.group.from_leader(val_loss)  # rank 0 alone validates
                self.elapsed_s = elapsed_before + time.perf_counter() - clock
                spent = time.perf_counter() - epoch_start
                score = val_loss if val_loss is not None else train_loss
                is_best = self.best_val_loss is None or score < self.best_val_loss
                if is_best:
                    self.best_val_loss = score
                event = EpochFinished(
                    epoch=self.epoch,
                    train_loss=train_loss,
                    val_loss=val_loss,
                    val_ppl=perplexity(val_loss) if val_loss is not None else None,
                    tokens_per_s=epoch_tokens / spent if spent > 0 else 0.0,
                    elapsed_s=self.elapsed_s,
                    lr=lr,
                    is_best=is_best,
                    cache_val_ppl=cache_val_ppl,
                )
                self.history.append(event.to_dict())
                with self._averaged_weights():
                    self.last_good = self.checkpoint()
                if is_best:
                    self._best = self.last_good
                self.sink(event)
                if is_best and self.out_path:
                    best_path = self._save(self.out_path)
                if self.group.any(self._stop.is_set()):
                    reason = "stopped"
                    break
                if reason == "time budget":
                    break
        except _Diverged as exc:
            reason, message = (
                "diverged",
                f"training stopped: {exc}; the last good checkpoint is kept",
            )
        except CheckpointError as exc:
            reason, message = "failed", str(exc)
        fit = None
        if reason not in ("diverged", "failed"):
            try:
                fit = self._fit_cache(best_path)
            except CheckpointError as exc:
                reason, message = "failed", str(exc)
        if reason != "diverged" and self.out_path and self.save_every_epoch and self.epoch:
            try:
                last_path = self._save(last_checkpoint_path(self.out_path))
            except CheckpointError as exc:
                reason, message = "failed", str(exc)
        finished = TrainingFinished(
            reason=reason,
            epochs=self.epoch,
            best_val_ppl=perplexity(self.best_val_loss) if self.best_val_loss is not None else None,
            best_checkpoint=best_path
            or (str(self.out_path) if self.out_path and self.out_path.exists() else None),
            last_checkpoint=last_path,
            message=message,
            cache_val_ppl=fit.cache_ppl if fit else None,
            cache_cross_ppl=fit.cross_cache_ppl if fit else None,
            plain_cross_ppl=fit.cross_plain_ppl if fit else None,
            cache=fit.settings.to_dict() if fit else None,
        )
        self.sink(finished)
        return finished

    # -- helpers -------------------------------------------------------------------------
    def _noised_streams(self, generator: torch.Generator) -> torch.Tensor:
        """This epoch's training streams with rare words read as <unk> (TrainConfig.unk_noise)."""
        counts = torch.tensor(self.vocab.counts, dtype=torch.float32)
        counts[self.vocab.unk_id] = math.inf  # <unk> stays itself
        ids = B.unk_noise(
            self.data.train_ids, counts, self.train_config.unk_noise, self.vocab.unk_id, generator
        )
        # the same noise on every rank (one generator seed), then each rank's share of streams
        streams = B.batchify(ids, self.train_config.batch_size)
        return self.group.share(streams).to(self.device)

    def _validate(self) -> tuple[float | None, float | None]:
        """Validation loss (as evaluate_loss gives it) and song memory's perplexity."""
        if len(self.data.val_ids) < 2:
            return None, None
        features = cache_eval.read_stream(
            self.model, self.data.val_ids, self.vocab.unk_id, self.device
        )
        if features.tokens < cache_eval.MIN_FIT_TOKENS:
            return features.loss, None
        self.cache_settings, ppl = cache_eval.quick_fit(features)
        return features.loss, ppl

    def _fit_cache(self, best_path: str | None) -> CacheFit | None:
        """Fit song memory on the validation split for the best and the latest state, store it
        in both (the best file is saved again), and return the best one's fit."""
        if not self.group.leader or self._best is None:
            return None  # rank 0 alone validates and saves
        if len(self.data.val_ids) < cache_eval.MIN_FIT_TOKENS + 1:
            return None
        fits: dict[int, CacheFit | None] = {}
        for checkpoint in (self._best, self.last_good):
            if checkpoint is None:
                continue
            if id(checkpoint) not in fits:
                model = model_from_checkpoint(checkpoint, self.device)
                features = cache_eval.read_stream(
                    model, self.data.val_ids, self.vocab.unk_id, self.device
                )
                fits[id(checkpoint)] = cache_eval.fit_cache(features)
            fit = fits[id(checkpoint)]
            checkpoint.cache = fit.to_dict() if fit else None
        if best_path and self.out_path:
            save_checkpoint(self._best, self.out_path)
        latest = fits.get(id(self.last_good))
        if latest is not None:  # the run holds the latest weights: their fit replaces the guess
            self.cache_settings = latest.settings
        return fits[id(self._best)]

    @torch.no_grad()
    def _update_average(self) -> None:
        # Early on the average would be dominated by the random start: warm the decay up.
        decay = min(self.train_config.average, (1 + self.step) / (10 + self.step))
        assert self._average is not None
        torch._foreach_lerp_(self._average, self._params, 1.0 - decay)

    @contextlib.contextmanager
    def _averaged_weights(self):
        """Swap the averaged weights in (for evaluation and saving), then the trained ones back."""
        if self._average is None:
            yield
            return
        with self.lock, torch.no_grad():
            trained = [p.detach().clone() for p in self._params]
            for p, a in zip(self._params, self._average, strict=True):
                p.copy_(a)
        try:
            yield
        finally:
            with self.lock, torch.no_grad():
                for p, t in zip(self._params, trained, strict=True):
                    p.copy_(t)

    def _make_optimizer(self) -> torch.optim.Optimizer:
        cfg = self.train_config
        if cfg.optimizer == "adamw":
            return torch.optim.AdamW(
                self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay
            )
        return torch.optim.Adam(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def _lr(self, total_steps: int, elapsed: float) -> float:
        """Cosine decay over the run: by steps, or by time when a time budget ends it sooner."""
        cfg = self.train_config
        if cfg.schedule == "none":
            return cfg.lr
        progress = self.step / total_steps
        if cfg.time_budget:
            progress = max(progress, elapsed / cfg.time_budget)
        progress = min(1.0, progress)
        low = cfg.lr * MIN_LR_FRACTION
        return low + (cfg.lr - low) * 0.5 * (1 + math.cos(math.pi * progress))

    def checkpoint(self) -> Checkpoint:
        with self.lock:
            model_state = {k: v.detach().clone().cpu() for k, v in self.model.state_dict().items()}
            optimizer_state = _clone(self.optimizer.state_dict())
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

    def save(self, path: str | Path) -> str:
        """Save the last finished epoch's state (or the current one before any epoch ends)."""
        return self._save(Path(path))

    def _restore(self, checkpoint: Checkpoint) -> None:
        try:
            self.model.load_state_dict(checkpoint.model_state)
            if checkpoint.optimizer_state:
                self.optimizer.load_state_dict(checkpoint.optimizer_state)
        except (RuntimeError, ValueError, KeyError):
            raise weights_mismatch(checkpoint.path, checkpoint.model_config) from None
        self.epoch = checkpoint.epoch
        self.step = checkpoint.step
        self.elapsed_s = checkpoint.elapsed_s
        self.history = list(checkpoint.history)
        self.best_val_loss = checkpoint.best_val_loss
        if checkpoint.epoch >= self.train_config.epochs:
            raise SettingsError(
                f"the checkpoint already has {checkpoint.epoch} epochs; ask for "
                f"more with {{epochs}} (e.g. {{epochs}} {checkpoint.epoch + 10})"
            )
        budget = self.train_config.time_budget
        if budget and checkpoint.elapsed_s >= budget:
            raise SettingsError(
                f"the checkpoint already trained {checkpoint.elapsed_s:.0f} s of its "
                f"{budget:g} s {{time_budget}} (it counts earlier sessions); give a larger "
                f"one (e.g. {{time_budget}} {checkpoint.elapsed_s + budget:.0f}) or "
                "{time_budget} 0"
            )


class _Diverged(Exception):
    pass


def _clone(state):
    if isinstance(state, torch.Tensor):
        return state.detach().clone().cpu()
    if isinstance(state, dict):
        return {k: _clone(v) for k, v in state.items()}
    if isinstance(state, list):
        return [_clone(v) for v in state]
    return state
