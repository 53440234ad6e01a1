"""The status line: what is happening, in words (never colour alone)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Static

from lyrics_tui.core.config import fills_budget
from lyrics_tui.tui import format as fmt
from lyrics_tui.tui.controllers.training import TrainingController
from lyrics_tui.tui.controllers.training import TrainingState as S

WORDS = {S.TRAINING: "training", S.PAUSING: "pausing…", S.STOPPING: "stopping…"}


def status_text(training: TrainingController, corpus: str, t_does: str = "") -> str:
    """The state of training and the model held. `t_does` is the training plan's summary (what
    t will do with the model held, e.g. "t continues to epoch 16 (8 more)")."""
    state, run = training.state, training.run
    if state is S.STARTING:
        return f"preparing: loading torch, tokenising {Path(corpus).name}…"
    if state in WORDS:
        return f"{WORDS[state]} · {epoch_under_way(run)} · {run_info(training)}"
    if state is S.PAUSED:
        return f"paused · space resumes · {run_info(training)}"
    if run is not None:
        ppls = [h["val_ppl"] for h in training.history if h.get("val_ppl") is not None]
        parts = [
            f"trained {run.epoch} epoch(s)",
            f"best val ppl {fmt.ppl(min(ppls, default=None))}",
            t_does,
            run_info(training),
            "unsaved (s saves)" if training.dirty else "",
        ]
        return " · ".join(p for p in parts if p)
    if training.opened is not None:
        ck = training.opened.checkpoint
        parts = [
            f"model {Path(ck.path).name}",
            f"epoch {ck.epoch}",
            f"val ppl {fmt.ppl(ck.val_ppl)}",
            t_does,
            fmt.model_shape(ck.model_config, len(ck.vocab)),
        ]
        return " · ".join(p for p in parts if p)
    return f"no model yet · t trains on {Path(corpus).name} · l loads a checkpoint · ? help"


def epoch_under_way(run: Any) -> str:
    """The epoch a core.trainer.TrainingRun trains: of its plan's, or of a time budget's."""
    if run is None:
        return "epoch 0/0"
    config = run.train_config
    if fills_budget(config):
        return f"epoch {run.epoch + 1} of a {config.time_budget:.0f} s budget"
    return f"epoch {run.epoch + 1}/{config.epochs}"


def run_info(training: TrainingController) -> str:
    """The model's shape and where it trains, from the run's first event."""
    started, run = training.started, training.run
    if started is None or run is None:
        return ""
    shape = fmt.model_shape(run.model_config, started.vocab_size)
    return (
        f"{shape} · {started.parameters / 1e6:.2f}M params · "
        f"{started.device}, {started.threads} thread(s)"
    )


class StatusLine(Static):
    """The line at the top of the main screen."""

    def show(
        self, training: TrainingController, corpus: str, t_does: str, generating: bool
    ) -> None:
        text = status_text(training, corpus, t_does)
        self.update("generating · " + text if generating else text)
