"""What t continues, in the trainer thread's terms: a run trained here or a checkpoint's path
(None: a new model). Where its best goes, what the run store records, its full checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:  # torch comes with core.trainer: imported in the trainer thread
    from lyrics_tui.core import checkpoint, trainer

Continued: TypeAlias = "trainer.TrainingRun | str | None"  # a run, or a checkpoint's path


def out_path_of(continued: Continued) -> Path | None:
    """Where a continued model's best goes: where its run saved it, else beside the file
    continued (x-last.pt -> x.pt; a snapshot is kept: core.paths.continuation_path); None for
    a new model (core.paths.new_run_path names it)."""
    if continued is None:
        return None
    if isinstance(continued, str):
        from lyrics_tui.core.paths import continuation_path

        return continuation_path(Path(continued))
    return continued.out_path


def resumed_from(continued: Continued) -> str | None:
    """The checkpoint continued, for the run store: a file, or the state a run saved last."""
    if continued is None or isinstance(continued, str):
        return continued
    from lyrics_tui.core.paths import last_checkpoint_path

    last = last_checkpoint_path(continued.out_path) if continued.out_path else None
    return str(last) if last is not None and last.exists() else None


def checkpoint_of(continued: Continued) -> checkpoint.Checkpoint | None:
    """The full checkpoint of the model continued (its weights copied in this thread)."""
    if continued is None:
        return None
    if isinstance(continued, str):
        from lyrics_tui.core.checkpoint import load_checkpoint

        return load_checkpoint(continued)
    return continued.checkpoint()
