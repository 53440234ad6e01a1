"""What t asks for and what it will do with the model held (tui/controllers/training.py
plans it with core/resume.py's rules)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lyrics_tui.core import config, resume


@dataclass(frozen=True)
class TrainingRequest:
    """What t asks for: the settings form's values (None or absent: the preset's)."""

    corpus: str
    preset: str = "default"
    model_overrides: dict[str, object] = field(default_factory=dict)
    train_overrides: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingPlan:
    """What t does with the model held now: continue it, or train a new one."""

    request: TrainingRequest
    model_config: config.ModelConfig
    train_config: config.TrainConfig
    continuation: resume.ContinuePlan | None = None  # when the model held is continued
    replaced_corpus: str = ""  # the held model's corpus, when t trains a new one on another
    from_file: str = ""  # the file continued when it is not the one shown (its latest state)
    kept: tuple[str, ...] = ()  # the form's network settings a continued model does not take

    @property
    def summary(self) -> str:
        """What t will do, for the status line ('' for a first model: that needs no saying)."""
        if self.continuation is not None:
            c = self.continuation
            if self.from_file:
                return f"t continues from epoch {c.done_epochs} {c.extent}"  # past the one shown
            return f"t continues {c.extent}"
        if self.replaced_corpus:
            return f"t trains a new model on {Path(self.request.corpus).name}"
        return ""

    @property
    def notice(self) -> str:
        """What t is about to do that the form does not say ('' for nothing)."""
        if self.replaced_corpus:
            return (
                f"training a new model on {Path(self.request.corpus).name}: the current one was "
                f"trained on {Path(self.replaced_corpus).name}"
            )
        if self.kept:
            return (
                f"t continues the model held, whose network stays as it is ({', '.join(self.kept)}"
                "); R, then t, trains a new one with the form's"
            )
        return ""
