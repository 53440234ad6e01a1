"""Training control: the model the playground holds, and the thread that trains it.

The model held is a run trained here (training, or finished) or a checkpoint read from a file
(with numpy, no torch). `plan` says what t will do with it (core/resume.py: epochs are totals
over a model's life), `start` trains in a plain thread. That thread owns every torch op of the
run: a second OpenMP team in the process slows training (docs/performance.md), so generation
reads a numpy copy of the weights that the trainer thread refreshes between batches.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, cast

from lyrics_tui.core import events as E
from lyrics_tui.core import tuning
from lyrics_tui.core.corpus import same_corpus
from lyrics_tui.core.errors import LyricsError, SettingsError
from lyrics_tui.tui.controllers import Post, Problem, start_thread
from lyrics_tui.tui.controllers.continued import (
    Continued,
    checkpoint_of,
    out_path_of,
    resumed_from,
)
from lyrics_tui.tui.controllers.generation import Weights
from lyrics_tui.tui.controllers.plan import TrainingPlan, TrainingRequest

if TYPE_CHECKING:  # torch comes with core.trainer: named for mypy, imported in the thread
    import numpy as np

    from lyrics_tui.core import cache, checkpoint, loading, trainer
    from lyrics_tui.core.inspection.subject import Subject
    from lyrics_tui.core.runs.recorder import RunRecorder

RESET_CONFIRM_S = 3.0  # a second R within this drops an unsaved model
SNAPSHOT_EVERY_S = 1.0  # the trainer thread refreshes the numpy copy of the weights this often
NO_MODEL = "no model yet: press t to train one or l to load a checkpoint"
NO_MEMORY_YET = "song memory is fitted on the validation text after each epoch: wait for the first"


class TrainingState(Enum):
    IDLE = "idle"
    STARTING = "starting"  # reading the corpus, importing torch, building the model
    TRAINING = "training"
    PAUSING = "pausing"  # asked to pause: the batch under way finishes first
    PAUSED = "paused"
    STOPPING = "stopping"  # asked to stop: the batch under way finishes first

    @property
    def active(self) -> bool:
        return self is not TrainingState.IDLE


# -- reports, posted from the trainer thread ---------------------------------------------------
class TrainingReport:
    """What the trainer thread posts; `receive` applies it."""

    run_id: int


@dataclass(frozen=True)
class RunReady(TrainingReport):
    """The run is built (corpus tokenised, model created) and about to train."""

    run_id: int
    run: trainer.TrainingRun
    history: tuple[checkpoint.EpochRow, ...]  # its epochs so far (later ones come as events)
    note: str  # what continuing means, for the user


@dataclass(frozen=True)
class RunEvent(TrainingReport):
    run_id: int
    event: E.TrainingEvent


@dataclass(frozen=True)
class RunFailed(TrainingReport):
    run_id: int
    text: str


@dataclass(frozen=True)
class RunEnded(TrainingReport):
    run_id: int


@dataclass(frozen=True)
class Snapshot:
    """A numpy copy of a run's weights, taken between two batches."""

    run: trainer.TrainingRun
    step: int
    taken_at: float  # time.monotonic()
    state: dict[str, np.ndarray]


def take_snapshot(run: trainer.TrainingRun) -> Snapshot:
    state = {name: tensor.numpy() for name, tensor in run.snapshot_state().items()}
    return Snapshot(run, run.step, time.monotonic(), state)


class TrainingController:
    """Starts, pauses and stops training; holds the model trained or loaded."""

    def __init__(
        self, post: Post, checkpoint_dir: Path, device: str = "auto", runs_db: str | None = None
    ) -> None:
        self.post: Post[TrainingReport | Problem] = post  # what the trainer thread posts
        self.checkpoint_dir = checkpoint_dir
        self.device = device
        self.runs_db = runs_db  # the run store every run is recorded in (None: the default)
        self.recorder: RunRecorder | None = None  # the active run's
        self.state = TrainingState.IDLE
        self.run: trainer.TrainingRun | None = None  # holds the model (training or finished)
        self.opened: loading.OpenedModel | None = None  # or a model read from a checkpoint
        self.history: list[checkpoint.EpochRow] = []  # one row per finished epoch of that model
        self.dirty = False  # its latest epoch is on no file yet (autosaves count)
        self.latest: checkpoint.Checkpoint | None = None  # the file held's run further on
        self._reset_armed_at = 0.0  # when a reset of an unsaved model was first asked
        self.started: E.TrainingStarted | None = None  # the run's first event: its shape
        self.active_run: trainer.TrainingRun | None = None  # whose thread runs (set by that thread)
        self.threads: list[threading.Thread] = []  # one per run started
        self._run_id = 0
        self._stop_requested = False
        self._snapshot: Snapshot | None = None

    @property
    def has_model(self) -> bool:
        return self.run is not None or self.opened is not None

    def busy(self) -> bool:
        return any(thread.is_alive() for thread in self.threads)

    # -- what t does -----------------------------------------------------------------------
    def plan(self, request: TrainingRequest) -> TrainingPlan:
        """What t does now; SettingsError when the settings (or the continuation) do not hold,
        CorpusError for a name that is neither a bundled corpus nor a file."""
        from lyrics_tui.core.corpus import corpus_path, corpus_settings

        corpus_path(request.corpus)
        model, train = corpus_settings(  # a bundled corpus's own settings: as the CLI's
            request.corpus, request.preset, request.model_overrides, request.train_overrides
        )
        held = self._held_checkpoint()
        if held is None:
            return TrainingPlan(request, model, train)
        if held.corpus and not same_corpus(held.corpus, request.corpus):
            # its vocabulary comes from another corpus: continuing would make most words <unk>
            return TrainingPlan(request, model, train, replaced_corpus=held.corpus)
        from lyrics_tui.core.resume import kept_settings, plan_continuation

        plan = plan_continuation(held, request.train_overrides, more_epochs=train.epochs)
        shown = self.latest is not None and self.run is None
        kept = kept_settings(held, {}, request.model_overrides)
        # the form unties the weights when embed and hidden differ: said only when alone
        kept = [k for k in kept if k[0] != "tie_weights"] or kept
        return TrainingPlan(
            request,
            plan.model_config,
            plan.train_config,
            continuation=plan,
            from_file=Path(held.path).name if shown else "",
            kept=tuple(f"{name} {value}" for name, value in kept),
        )

    def _held_checkpoint(self) -> checkpoint.Checkpoint | None:
        """The model held, as the checkpoint the resume rule reads (a run's
        without its weights: copying them is the trainer thread's work)."""
        if self.opened is not None:
            return self.latest or self.opened.checkpoint
        run = self.run
        if run is None:
            return None
        from lyrics_tui.core.checkpoint import Checkpoint

        return Checkpoint(
            model_config=run.model_config,
            train_config=run.train_config,
            vocab=run.vocab,
            model_state={},
            epoch=run.epoch,
            step=run.step,
            elapsed_s=run.elapsed_s,
            corpus=run.corpus_name,
        )

    def start(self, plan: TrainingPlan) -> None:
        """Train as planned, in a thread of its own."""
        self._run_id += 1
        self._stop_requested = False
        self.state = TrainingState.STARTING
        continued: Continued = None
        if plan.continuation is not None:
            held = self._held_checkpoint()
            continued = self.run if self.run is not None else held.path  # type: ignore[union-attr]
        self.threads = [t for t in self.threads if t.is_alive()]
        self.threads.append(
            start_thread("lyrics-train", self._train, self._run_id, plan, continued)
        )

    def pause_or_resume(self) -> bool:
        """space: pause the run, or resume it; False when no run is under way yet."""
        run = self.active_run
        if run is None:
            return False
        if run.paused:
            run.resume()
            self.state = TrainingState.TRAINING
        else:
            run.pause()
            self.state = TrainingState.PAUSING
        return True

    def stop(self) -> None:
        """Stop after the batch under way (or before the run starts); the model stays."""
        self._stop_requested = True
        run = self.active_run
        if run is not None:
            run.stop()
        if self.state.active:
            self.state = TrainingState.STOPPING

    def adopt(
        self, opened: loading.OpenedModel, latest: checkpoint.Checkpoint | None = None
    ) -> None:
        """A checkpoint read from a file becomes the model held; `latest` (the same run further
        on, core.resume.latest_state_of) is what t continues."""
        self.run, self.opened, self._snapshot, self.started = None, opened, None, None
        self.latest = latest
        self.history = list(cast("list[checkpoint.EpochRow]", opened.checkpoint.history))
        self.dirty = False

    def may_forget(self, now: float) -> bool:
        """Whether a reset may drop the model now: an unsaved one needs a second reset within
        RESET_CONFIRM_S (the first arms it)."""
        if not self.dirty or now - self._reset_armed_at <= RESET_CONFIRM_S:
            return True
        self._reset_armed_at = now
        return False

    def forget(self) -> None:
        """No model (a reset)."""
        self.run = self.opened = self._snapshot = self.started = self.latest = None
        self.history, self.dirty = [], False

    def saved(self) -> None:
        if self.run is not None and not self.state.active:
            self.dirty = False

    def receive(self, report: TrainingReport) -> bool:
        """Apply a report of the trainer thread (in the UI thread). False when it belongs to an
        earlier run, which the views ignore."""
        if report.run_id != self._run_id:
            return False
        if isinstance(report, RunReady):
            self.run, self.opened, self.latest = report.run, None, None
            self.history = list(report.history)
        elif isinstance(report, RunEnded):
            self.state = TrainingState.IDLE
        elif isinstance(report, RunEvent):
            event = report.event
            if isinstance(event, E.TrainingStarted):
                self.started = event
                if self.state is TrainingState.STARTING:
                    self.state = TrainingState.TRAINING
            elif isinstance(event, E.EpochFinished):
                self.history.append(cast("checkpoint.EpochRow", event.to_dict()))
                self.dirty = True
            elif isinstance(event, E.CheckpointSaved) and self.history:
                # the best epoch, the latest state at the end, or s: on disk once it is the latest
                self.dirty = event.epoch < self.history[-1]["epoch"]
            elif isinstance(event, E.TrainingPaused):
                self.state = TrainingState.PAUSED
            elif isinstance(event, E.TrainingResumed) and self.state in (
                TrainingState.PAUSED,
                TrainingState.TRAINING,
            ):
                self.state = TrainingState.TRAINING
        return True

    # -- the weights, for generating and looking inside -------------------------------------
    def weights(self, blocking: bool) -> Weights | None:
        """The model held, to generate from. A run's weights are a numpy copy the trainer thread
        refreshes every SNAPSHOT_EVERY_S; a fresh one waits for the batch under way to end, so
        with blocking=False (the UI thread) None is returned when one would be needed."""
        from lyrics_tui.core.steppers import NumpyStepper

        run = self.run
        if run is not None:
            snap = self._snapshot
            live = self.active_run is run and not run.paused
            if (
                snap is None
                or snap.run is not run
                or not (
                    snap.step == run.step
                    or (live and time.monotonic() - snap.taken_at < 2 * SNAPSHOT_EVERY_S)
                )
            ):
                if not blocking:
                    return None
                snap = self._snapshot = take_snapshot(run)
            source = (
                f"live weights at step {snap.step}" if live else f"trained model, epoch {run.epoch}"
            )
            stepper = NumpyStepper(run.model_config, snap.state)
            return Weights(stepper, run.vocab, run.train_config.tokenizer, source, run.form)
        if self.opened is None:
            raise SettingsError(NO_MODEL)
        ck = self.opened.checkpoint
        return Weights(
            self.opened.stepper, ck.vocab, ck.train_config.tokenizer, Path(ck.path).name, ck.form
        )

    def memory(self) -> tuple[cache.CacheSettings | None, str]:
        """Song memory fitted for the model held (its settings, λ 0 included; None
        when there is none) and, when there is none, why and how to get one."""
        if self.run is not None:
            fitted = self.run.cache_settings  # the latest epoch's, then the final fit's
            return fitted, "" if fitted is not None else NO_MEMORY_YET
        if self.opened is None:
            return None, ""
        from lyrics_tui.core.cache import no_fit_note

        fit = self.opened.cache_fit
        return (fit.settings, "") if fit else (None, no_fit_note(self.opened.path, True))

    def subject(self) -> Subject | None:
        """The model held as a core.inspection Subject (None: no model), for the inspection
        screen. A run's weights are copied between two batches: call it from a thread."""
        from lyrics_tui.core.inspection.subject import subject_from_opened, subject_from_run

        run = self.run
        if run is not None:
            label = (
                f"live weights, epoch {run.epoch + 1} step {run.step}"
                if self.state.active
                else f"trained model, epoch {run.epoch}"
            )
            return subject_from_run(run, label=label)
        opened = self.opened
        if opened is None:
            return None
        return subject_from_opened(opened, label=Path(opened.path).name)

    # -- quitting --------------------------------------------------------------------------
    def keep_last_epoch(self) -> None:
        """Quitting while the trainer still winds down (it validates the partial epoch and
        saves, seconds on a big corpus): save the last finished epoch now, so that leaving at
        once loses at most the partial epoch."""
        run = self.active_run
        if run is None or run.last_good is None or run.out_path is None:
            return
        from lyrics_tui.core.paths import last_checkpoint_path

        try:
            run.save(last_checkpoint_path(run.out_path))
        except Exception:
            pass  # the trainer's own save at its end may still succeed
        if self.recorder is not None:
            self.recorder.close()  # recorded as interrupted now, not when the store next opens

    # -- the trainer thread ----------------------------------------------------------------
    def _train(self, run_id: int, plan: TrainingPlan, continued: Continued) -> None:
        tuning.background_priority()  # in the playground: the UI's threads first
        try:
            from lyrics_tui.core.training.setup import read_training_corpus, set_up_run

            corpus = read_training_corpus(plan.request.corpus)  # jaychou: fetched once
            if self._stop_requested:
                return
            setup = set_up_run(
                corpus,
                plan.model_config,
                plan.train_config,
                preset=plan.request.preset,
                model_given=plan.request.model_overrides,
                sink=lambda event: self._sink(run_id, event),
                resume=checkpoint_of(continued),
                resumed_from=resumed_from(continued),
                out_path=out_path_of(continued),
                device=self.device,
                folder=self.checkpoint_dir,
                check_out=False,
                launcher="playground",
                runs_db=self.runs_db,
                warn=self._store_problem,
                cancelled=lambda: self._stop_requested,
            )
            del corpus  # the run holds ids: a large corpus's lines go
            tuning.settle_long_lived()  # torch, the model: out of the collector's full passes
            if setup is None:
                return
            run, self.recorder = setup.run, setup.recorder
            self.active_run = run
            note = plan.continuation.note if plan.continuation is not None else ""
            if plan.from_file:
                note += f", from {plan.from_file} (the run's latest state)"
            history = cast("list[checkpoint.EpochRow]", run.history)
            self.post(RunReady(run_id, run, tuple(history), note))
            if self._stop_requested:
                run.stop()
            with setup.recorder:  # a run ended by an exception is recorded as failed
                finished = run.run()
            if finished.message:
                failed = finished.reason.failed
                self.post(Problem(finished.message, "error" if failed else "warning"))
        except LyricsError as exc:
            self.post(RunFailed(run_id, str(exc)))
        except Exception as exc:
            self.post(RunFailed(run_id, f"training failed: {type(exc).__name__}: {exc}"))
        finally:
            self.active_run = None
            self.post(RunEnded(run_id))

    def _store_problem(self, text: str) -> None:
        """The recorder's one warning, from the trainer thread: posted, shown by the App."""
        self.post(Problem(text, "warning"))

    def _sink(self, run_id: int, event: E.TrainingEvent) -> None:
        """In the trainer thread, between batches: refresh the copy generation reads, report."""
        run = self.active_run
        if isinstance(event, E.BatchFinished) and run is not None:
            snap = self._snapshot
            if (
                snap is None
                or snap.run is not run
                or time.monotonic() - snap.taken_at >= SNAPSHOT_EVERY_S
            ):
                self._snapshot = take_snapshot(run)
        self.post(RunEvent(run_id, event))
