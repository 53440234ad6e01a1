"""Messages that worker threads post to the playground (Textual's post_message is thread-safe).

Each carries plain data from core/; the app turns them into views. Nothing here computes.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message
from textual.notifications import SeverityLevel


class TrainEvent(Message):
    """One core.events event from the training run, as it happened."""

    def __init__(self, event: Any, run_id: int) -> None:
        super().__init__()
        self.event = event
        self.run_id = run_id


class TrainingReady(Message):
    """The run is built (data tokenised, model created) and about to start."""

    def __init__(self, run: Any, run_id: int, note: str = "") -> None:
        super().__init__()
        self.run = run
        self.run_id = run_id
        self.note = note


class TrainingFailed(Message):
    """The run could not start or stopped with an error; `text` is one line for the user."""

    def __init__(self, text: str, run_id: int) -> None:
        super().__init__()
        self.text = text
        self.run_id = run_id


class TrainingThreadDone(Message):
    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id


class CheckpointLoaded(Message):
    """A checkpoint read with numpy (no torch): its Checkpoint and a ready NumpyStepper."""

    def __init__(
        self, checkpoint: Any, stepper: Any, quiet: bool, adopt_corpus: bool = True
    ) -> None:
        super().__init__()
        self.checkpoint = checkpoint
        self.stepper = stepper
        self.quiet = quiet
        self.adopt_corpus = adopt_corpus  # show its corpus in the settings (see PlaygroundApp)


class Problem(Message):
    """Something the user should read: a notification, never a traceback."""

    def __init__(self, text: str, severity: SeverityLevel = "error") -> None:
        super().__init__()
        self.text = text
        self.severity = severity


class Saved(Message):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path


class GenerationStarted(Message):
    def __init__(
        self, gen_id: int, prompt_text: str, seed: int, warnings: list[str], source: str
    ) -> None:
        super().__init__()
        self.gen_id = gen_id
        self.prompt_text = prompt_text
        self.seed = seed
        self.warnings = warnings
        self.source = source


class TokenGenerated(Message):
    def __init__(self, gen_id: int, text: str, prob: float) -> None:
        super().__init__()
        self.gen_id = gen_id
        self.text = text
        self.prob = prob


class GenerationDone(Message):
    def __init__(self, gen_id: int, tokens: int, stopped: bool) -> None:
        super().__init__()
        self.gen_id = gen_id
        self.tokens = tokens
        self.stopped = stopped
