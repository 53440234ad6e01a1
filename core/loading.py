"""Opening a checkpoint to generate from or look inside: one function for every front end."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lyrics_tui.core.cache import CacheFit, ResolvedCache, resolve_cache, stored_fit
from lyrics_tui.core.checkpoint import Checkpoint, weights_mismatch
from lyrics_tui.core.errors import LyricsError
from lyrics_tui.core.paths import newest_checkpoint
from lyrics_tui.core.sampling import Sampler
from lyrics_tui.core.steppers import NumpyStepper, Stepper
from lyrics_tui.core.tokens import Tokenizer
from lyrics_tui.core.vocab import Vocabulary

NO_CHECKPOINT = "no checkpoint given and none in checkpoints/; train one first: lyrics-tui train"


@dataclass(frozen=True)
class OpenedModel:
    """A checkpoint and a network ready to run it one token at a time."""

    checkpoint: Checkpoint
    stepper: Stepper

    @property
    def vocab(self) -> Vocabulary:
        return self.checkpoint.vocab

    @property
    def tokenizer(self) -> Tokenizer:
        return Tokenizer(self.checkpoint.train_config.tokenizer)

    @property
    def path(self) -> str:
        return self.checkpoint.path

    def sampler(self) -> Sampler:
        return Sampler(self.stepper, self.vocab, self.tokenizer)

    @property
    def cache_fit(self) -> CacheFit | None:
        """Song memory's settings fitted after training (None: an older file)."""
        return stored_fit(self.checkpoint)

    def cache(self, option: Any = "auto") -> ResolvedCache:
        """--cache auto|off|N,THETA,LAMBDA for this checkpoint (core/cache.py)."""
        return resolve_cache(option, self.cache_fit, self.path)


def numpy_stepper(checkpoint: Checkpoint) -> NumpyStepper:
    """The checkpoint's weights in a NumpyStepper; weights that do not fit are one line."""
    try:
        return NumpyStepper(checkpoint.model_config, checkpoint.model_state)
    except (KeyError, ValueError, TypeError):
        raise weights_mismatch(checkpoint.path, checkpoint.model_config) from None


def open_checkpoint(
    path: str | Path | None = None,
    device: str = "cpu",
    folder: Path | None = None,
    adapt: Any = None,
) -> OpenedModel:
    """Read a checkpoint for generation. None: the newest in `folder` (default checkpoints/).

    On "cpu" the weights are read with numpy alone (no torch import: the fast start, and at
    batch size 1 faster than torch); any other device runs torch there. With `adapt` (a
    core.adapt.AdaptSettings) the network learns from what it reads (dynamic evaluation, torch,
    on a copy of the weights).
    """
    if path is None:
        path = newest_checkpoint(folder)
        if path is None:
            raise LyricsError(NO_CHECKPOINT)
    name = str(Path(path).expanduser())
    if adapt is not None:
        from lyrics_tui.core.adapt import AdaptiveStepper
        from lyrics_tui.core.checkpoint import model_from_checkpoint
        from lyrics_tui.core.fastload import read_checkpoint

        checkpoint = read_checkpoint(name)
        network = model_from_checkpoint(checkpoint, device)
        return OpenedModel(checkpoint, AdaptiveStepper(network, adapt, device))
    if device == "cpu":
        from lyrics_tui.core.fastload import read_checkpoint

        checkpoint = read_checkpoint(name)
        return OpenedModel(checkpoint, numpy_stepper(checkpoint))
    from lyrics_tui.core.checkpoint import load_checkpoint, model_from_checkpoint
    from lyrics_tui.core.steppers import TorchStepper

    checkpoint = load_checkpoint(name, map_location=device)
    model: Any = model_from_checkpoint(checkpoint, device)
    return OpenedModel(checkpoint, TorchStepper(model))
