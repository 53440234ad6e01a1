"""The hands-free demo (`lyrics-tui demo`): train for a short budget, then write songs one
word at a time with each step's candidates shown, until a key is pressed.

A controller over the playground's own pieces, with no Textual: the training controller
trains (through the host's t, so the rule for continuing a model is the playground's), and
core.inspection.StepThrough writes, exactly as the step-through view does: each `tick` the
sampler picks one word among the candidates of that step. The driver (tui/screens/demo.py)
calls `tick` on a timer and shows what the controller holds.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING, Protocol

from lyrics_tui.core.corpus import same_corpus
from lyrics_tui.core.errors import LyricsError
from lyrics_tui.core.tokens import NEWLINE
from lyrics_tui.tui.controllers.training import TrainingController

if TYPE_CHECKING:
    from lyrics_tui.core.inspection.step import ChosenWord, DecodingStep, StepThrough
    from lyrics_tui.core.inspection.subject import Subject
    from lyrics_tui.core.sampling import SamplerSettings


class DemoPhase(Enum):
    WAITING = "waiting"  # for the start-up model to be read
    TRAINING = "training"
    WRITING = "writing"
    STOPPED = "stopped"


@dataclass(frozen=True)
class DemoOptions:
    """How the demo runs (the `lyrics-tui demo` flags)."""

    budget_s: float = 45.0  # seconds of training; 0: none when a model is held
    pace_s: float = 0.3  # between two words
    lines: int = 8  # lines per song
    max_words: int = 120  # a song ends after this many words in any case
    pause_s: float = 4.0  # between two songs
    seed: int | None = None  # the first song's seed (then +1 per song); None: random


@dataclass
class Song:
    """The song being written: its words so far, and the step that picked the latest one."""

    number: int
    seed: int
    words: list[str] = field(default_factory=list)
    step: DecodingStep | None = None  # the latest pick's step (its candidates)
    chosen: ChosenWord | None = None  # what the sampler picked there
    done: bool = False

    @property
    def lines(self) -> int:
        """Finished lines (a line end after at least one word)."""
        text = "".join(self.words)
        return sum(1 for line in text.split(NEWLINE)[:-1] if line.strip())


class DemoHost(Protocol):
    """What the demo needs of the playground (tui/screens/demo.py wraps the App)."""

    training: TrainingController

    def loading(self) -> bool: ...

    def corpus(self) -> str: ...

    def start_training(self, time_budget: float) -> None: ...

    def sampler_settings(self) -> SamplerSettings: ...


class DemoController:
    """Waits for the start-up model, trains, then writes songs; `tick` moves it on."""

    def __init__(self, host: DemoHost, options: DemoOptions) -> None:
        self.host = host
        self.options = options
        self.phase = DemoPhase.WAITING
        self.song: Song | None = None
        self.songs = 0  # songs begun
        self.candidates = 10  # how many candidates each step shows (the view sets it)
        self.message = ""  # why the demo stopped on its own, for the user
        self._walk: StepThrough | None = None  # of the song being written
        self.subject: Subject | None = None  # the model that writes
        self.settings: SamplerSettings | None = None  # of the song being written
        self._rest = 0  # ticks left in the pause between two songs
        self._started_training = False

    @property
    def training(self) -> TrainingController:
        return self.host.training

    def stop(self, message: str = "") -> None:
        self.phase = DemoPhase.STOPPED
        self.message = message

    def tick(self) -> bool:
        """One step of the demo; whether what it shows changed."""
        if self.phase is DemoPhase.WAITING:
            return self._begin()
        if self.phase is DemoPhase.TRAINING:
            return self._after_training()
        if self.phase is DemoPhase.WRITING:
            return self._write()
        return False

    # -- training --------------------------------------------------------------------------
    def continues_held_model(self) -> bool:
        """Whether t continues the model held (the same corpus), rather than start anew."""
        training = self.training
        corpus = self._held_corpus()
        return training.has_model and (not corpus or same_corpus(corpus, self.host.corpus()))

    def _held_corpus(self) -> str:
        training = self.training
        if training.opened is not None:
            return str(training.opened.checkpoint.corpus or "")
        return str(training.run.corpus_name or "") if training.run is not None else ""

    def _held_elapsed(self) -> float:
        training = self.training
        if training.opened is not None:
            return float(training.opened.checkpoint.elapsed_s)
        return float(training.run.elapsed_s) if training.run is not None else 0.0

    def time_budget(self) -> float:
        """The training's time budget, a total over the model's life (core/resume.py): the
        demo's budget more for a model continued."""
        budget = self.options.budget_s
        return self._held_elapsed() + budget if self.continues_held_model() else budget

    def _begin(self) -> bool:
        if self.host.loading():
            return False
        if self.options.budget_s <= 0 and self.training.has_model:
            return self._start_writing()  # no training asked for: write with the model held
        self.host.start_training(self.time_budget())
        if not self.training.state.active:  # the settings or the corpus ruled it out
            self.stop("the demo could not start training")
            return True
        self.phase = DemoPhase.TRAINING
        return True

    def _after_training(self) -> bool:
        if self.training.state.active:
            return False
        if not self.training.has_model:
            self.stop("no model to write with: training ended without one")
            return True
        return self._start_writing()

    # -- writing ---------------------------------------------------------------------------
    def _start_writing(self) -> bool:
        try:
            self.subject = self.training.subject()
        except LyricsError as exc:
            self.stop(str(exc))
            return True
        if self.subject is None:
            self.stop("no model to write with")
            return True
        self.phase = DemoPhase.WRITING
        self._new_song()
        return True

    def _new_song(self) -> None:
        from lyrics_tui.core.inspection.step import StepThrough

        first = self.options.seed
        seed = first + self.songs if first is not None else secrets.randbelow(2**32)
        self.songs += 1
        self.settings = replace(self.host.sampler_settings(), seed=seed)
        assert self.subject is not None  # set before writing starts
        self._walk = StepThrough(self.subject, self.settings, "", top=max(1, self.candidates))
        self.song = Song(self.songs, seed)

    def _write(self) -> bool:
        song, walk = self.song, self._walk
        assert song is not None and walk is not None
        if song.done:
            self._rest -= 1
            if self._rest <= 0:
                self._new_song()
                return True
            return False
        if walk.top != self.candidates and self.candidates >= 1:
            walk.set_top(self.candidates)
        step = walk.current
        chosen = walk.sample()
        song.step, song.chosen = step, chosen
        if chosen.text != NEWLINE or (song.words and song.words[-1] != NEWLINE):
            song.words.append(chosen.text)  # no empty lines
        if song.lines >= self.options.lines or len(song.words) >= self.options.max_words:
            song.done = True
            pace = max(self.options.pace_s, 1e-3)
            self._rest = max(1, round(self.options.pause_s / pace))
        return True
