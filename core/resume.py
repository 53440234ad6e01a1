"""Continuing a trained model: one rule for the command line and the playground.

`epochs` and `time_budget` are totals over the whole run, earlier sessions included. A run that
stopped before its end (Ctrl+C, a closed terminal) finishes the plan it was started with; a run
that reached its end goes on for `more_epochs` more (another time budget as long, when a budget
ended it), unless the user gives a new total.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from lyrics_tui.core.checkpoint import Checkpoint
from lyrics_tui.core.config import BUDGET_EPOCHS, ModelConfig, TrainConfig, validate
from lyrics_tui.core.errors import SettingsError


@dataclass(frozen=True)
class ContinuePlan:
    """What continuing a checkpoint will do."""

    model_config: ModelConfig
    train_config: TrainConfig  # the stored settings, the given ones on top, new totals
    done_epochs: int
    end_epoch: int

    spent_s: float = 0.0  # seconds trained so far, earlier sessions included

    @property
    def more_epochs(self) -> int:
        return self.end_epoch - self.done_epochs

    @property
    def by_budget(self) -> bool:
        """The time budget ends it, not a number of epochs (a run that fills its budget)."""
        return bool(self.train_config.time_budget) and self.end_epoch >= BUDGET_EPOCHS

    @property
    def seconds_left(self) -> float:
        return max(0.0, self.train_config.time_budget - self.spent_s)

    @property
    def extent(self) -> str:
        """How far it goes: "to epoch 48 (24 more)" or "for up to 86 s more (a 120 s budget)"."""
        budget = self.train_config.time_budget
        if self.by_budget:
            return f"for up to {self.seconds_left:.0f} s more (a {budget:.0f} s budget in all)"
        return f"to epoch {self.end_epoch} ({self.more_epochs} more)"

    @property
    def note(self) -> str:
        budget = self.train_config.time_budget
        if self.by_budget:
            return f"continuing from epoch {self.done_epochs} {self.extent}"
        until = f" or {budget:.0f} s of training in all" if budget else ""
        return (
            f"continuing from epoch {self.done_epochs} to epoch {self.end_epoch} "
            f"({self.more_epochs} more{until})"
        )


# A budget with less than this share left counts as spent: a run that fills its budget stops
# early enough to leave validation and song memory's fit their time (core/training/clock.py).
SPENT_SHARE = 0.1


# What a continued model cannot change: its vocabulary was built with these (a tokenizer
# switched on --resume read the text as words against a table of characters: 55% <unk>).
FIXED_TRAIN = ("tokenizer", "min_count", "max_vocab")


def kept_settings(
    checkpoint: Checkpoint,
    overrides: dict[str, Any],
    model_overrides: dict[str, Any] | None = None,
) -> list[tuple[str, object]]:
    """The settings given that a continued model keeps as they were and that differ from its
    own: the network's, and those that built its vocabulary. (name, its value, as said)."""
    stored, network = checkpoint.train_config, checkpoint.model_config
    pairs = [(name, getattr(stored, name), overrides.get(name)) for name in FIXED_TRAIN]
    pairs += [(k, getattr(network, k), v) for k, v in (model_overrides or {}).items()]
    return [
        (name, {True: "on", False: "off"}.get(was, was) if isinstance(was, bool) else was)
        for name, was, now in pairs
        if now is not None and now != was
    ]


def plan_continuation(
    checkpoint: Checkpoint,
    overrides: dict[str, Any],
    more_epochs: int,
    model_overrides: dict[str, Any] | None = None,
) -> ContinuePlan:
    """The settings to continue `checkpoint` with. `overrides` are the training settings the
    user gave (None: not given); `more_epochs` is how far a finished run goes on. A network
    setting given (`model_overrides`) or one that built the vocabulary must be the stored one:
    SettingsError names it otherwise."""
    stored = checkpoint.train_config
    given = {k: v for k, v in overrides.items() if v is not None}
    kept = kept_settings(checkpoint, given, model_overrides)
    if kept:
        name, said = kept[0]
        raise SettingsError(
            f"{{{name}}} cannot change when a model is continued (it was {said}); train a "
            "new model for another"
        )
    done = checkpoint.epoch
    if "epochs" in given:
        end = int(given.pop("epochs"))
        if end <= done:
            raise SettingsError(
                f"the checkpoint already has {done} epochs and {{epochs}} counts them all; ask "
                f"for more (e.g. {{epochs}} {done + max(1, more_epochs)})"
            )
    elif done < stored.epochs:
        end = stored.epochs
    else:
        end = done + max(1, more_epochs)
    spent = checkpoint.elapsed_s
    if "time_budget" in given:
        budget = float(given.pop("time_budget"))
        if budget and spent >= budget:
            raise SettingsError(
                f"the checkpoint already trained {spent:.0f} s of its {budget:g} s "
                "{time_budget} (it counts earlier sessions); give a larger one (e.g. "
                f"{{time_budget}} {spent + budget:.0f}) or {{time_budget}} 0"
            )
    elif stored.time_budget and spent >= stored.time_budget * (1.0 - SPENT_SHARE):
        budget = spent + stored.time_budget  # another session as long
    else:
        budget = stored.time_budget
    train = replace(stored, **given, epochs=end, time_budget=budget)
    validate(checkpoint.model_config, train)
    return ContinuePlan(checkpoint.model_config, train, done, end, spent)


def latest_state_of(checkpoint: Checkpoint) -> Checkpoint | None:
    """The same run further on, from the file beside `checkpoint`: x.pt holds a run's best epoch
    and x-last.pt its latest state, which is beyond the best when the run was quit or its last
    epochs did not improve. Continuing from it loses no epoch. Read without torch and kept
    without its weights (the trainer reads the file again). None when there is no such file,
    it cannot be read, or it holds another run."""
    from pathlib import Path

    from lyrics_tui.core.fastload import read_checkpoint
    from lyrics_tui.core.paths import last_checkpoint_path, resume_target

    if not checkpoint.path:
        return None
    path = Path(checkpoint.path)
    last = last_checkpoint_path(path)
    if resume_target(path) != path or not last.is_file():
        return None  # a latest state itself, or none beside it
    try:
        latest = read_checkpoint(str(last))
    except Exception:  # a damaged or foreign file: continue from the best, as before
        return None
    seen = checkpoint.history
    if latest.epoch <= checkpoint.epoch or latest.history[: len(seen)] != seen:
        return None
    return replace(latest, model_state={}, optimizer_state=None)
