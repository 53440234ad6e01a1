"""The status line: what is happening, in words (never colour alone). It fits the terminal's
width on purpose: the least needed parts are shortened, then left out, never cut mid-word."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.cells import cell_len
from textual.widgets import Static

from lyrics_tui.core.config import fills_budget
from lyrics_tui.tui import format as fmt
from lyrics_tui.tui.controllers.training import TrainingController
from lyrics_tui.tui.controllers.training import TrainingState as S

if TYPE_CHECKING:
    from lyrics_tui.core.trainer import TrainingRun

WORDS = {S.TRAINING: "training", S.PAUSING: "pausing…", S.STOPPING: "stopping…"}
SEPARATOR = " · "
DETAIL = 3  # parts kept at most this much go first, before anything is shortened


@dataclass(frozen=True)
class Part:
    """A part of the status line. When the line is too long, the details (keep <= DETAIL) go
    first, then parts are shortened to `short`, then left out, lowest `keep` first."""

    text: str
    keep: int = 9  # 9: never left out
    short: str = ""


def first_clause(text: str) -> str:
    """A part's first clause, without its closing parenthesis: "t continues to epoch 48 (24
    more)" -> "t continues to epoch 48"; "t: the checkpoint already has 1 epochs and ..." ->
    "t: the checkpoint already has 1 epochs"."""
    return re.split(r"; | and ", re.sub(r" \([^()]*\)$", "", text))[0]


def status_parts(training: TrainingController, corpus: str, t_does: str = "") -> list[Part]:
    """The state of training and the model held. `t_does` is the training plan's summary (what
    t will do with the model held, e.g. "t continues to epoch 16 (8 more)")."""
    state, run = training.state, training.run
    if state is S.STARTING:
        return [Part("preparing: loading torch"), Part(f"tokenising {Path(corpus).name}…", 5)]
    if state in WORDS:
        return [Part(WORDS[state]), epoch_under_way(run), *run_parts(training)]
    if state is S.PAUSED:
        return [Part("paused"), Part("space resumes", 6), *run_parts(training)]
    plan = [Part(t_does, 5, first_clause(t_does))] if t_does else []
    if run is not None:
        ppls = [p for h in training.history if (p := h.get("val_ppl")) is not None]
        best = fmt.ppl(min(ppls, default=None))
        return [
            Part(f"trained {run.epoch} epoch(s)", short=f"epoch {run.epoch}"),
            Part(f"best val ppl {best}", short=f"val ppl {best}"),
            *plan,
            *run_parts(training),
            *([Part("unsaved (s saves)", 8, "unsaved")] if training.dirty else []),
        ]
    if training.opened is not None:
        ck = training.opened.checkpoint
        return [
            Part(f"model {Path(ck.path).name}"),
            Part(f"epoch {ck.epoch}", 4),
            Part(f"val ppl {fmt.ppl(ck.val_ppl)}"),
            *plan,
            Part(fmt.model_shape(ck.model_config, len(ck.vocab)), 2),
        ]
    return [
        Part("no model yet"),
        Part(f"t trains on {Path(corpus).name}"),
        Part("l loads a checkpoint", 4),
        Part("? help", 3),
    ]


def epoch_under_way(run: TrainingRun | None) -> Part:
    """The epoch a run trains: of its plan's, or of a time budget's
    (shortened to the epoch alone: the progress row shows the budget's seconds too)."""
    if run is None:
        return Part("epoch 0/0")
    config, epoch = run.train_config, run.epoch + 1
    if fills_budget(config):
        return Part(f"epoch {epoch} of a {config.time_budget:.0f} s budget", short=f"epoch {epoch}")
    # after the last epoch (song memory's fit, the save) the run is still active: not 4/3
    return Part(f"epoch {min(epoch, config.epochs)}/{config.epochs}")


def run_parts(training: TrainingController) -> list[Part]:
    """The model's shape and where it trains, from the run's first event."""
    started, run = training.started, training.run
    if started is None or run is None:
        return []
    shape = fmt.model_shape(run.model_config, started.vocab_size)
    return [
        Part(shape, 3),
        Part(f"{started.parameters / 1e6:.2f}M params", 1),
        Part(f"{started.device}, {started.threads} thread(s)", 2, started.device),
    ]


def fitted(parts: list[Part], width: int) -> str:
    """The parts joined; until they fit, shortened (lowest `keep` first), then left out."""
    texts: list[str] = [p.text for p in parts]

    def line() -> str:
        return SEPARATOR.join(t for t in texts if t)

    if width <= 0:
        return line()
    # lowest keep first; of equal keep, the later part first
    order = sorted((i for i, p in enumerate(parts) if p.text), key=lambda i: (parts[i].keep, -i))
    for phase in ("details", "shorten", "leave out"):
        for i in order:
            if cell_len(line()) <= width:
                return line()
            if phase == "shorten":
                texts[i] = (parts[i].short or texts[i]) if texts[i] else ""
            elif parts[i].keep <= (DETAIL if phase == "details" else 8):
                texts[i] = ""
    return line()


class StatusLine(Static):
    """The line at the top of the main screen."""

    _parts: tuple[Part, ...] = ()

    def show(
        self, training: TrainingController, corpus: str, t_does: str, generating: bool
    ) -> None:
        parts = status_parts(training, corpus, t_does)
        self._parts = (Part("generating"), *parts) if generating else tuple(parts)
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        if self._parts:
            self.update(fitted(list(self._parts), self.content_size.width))
