"""Opening a checkpoint to generate from or look inside: one function for every front end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lyrics_tui.core.cache import CacheFit, ResolvedCache, resolve_cache, stored_fit
from lyrics_tui.core.checkpoint import Checkpoint, broken_weights, weights_mismatch
from lyrics_tui.core.errors import LyricsError
from lyrics_tui.core.paths import list_checkpoints, resume_target
from lyrics_tui.core.sampling import Sampler
from lyrics_tui.core.songform import CorpusForm, VocabularyRhymes, rhymes_of
from lyrics_tui.core.steppers import NumpyStepper, Stepper
from lyrics_tui.core.tokens import Tokenizer
from lyrics_tui.core.vocab import Vocabulary

NO_CHECKPOINT = "no checkpoint given and none in checkpoints/; train one first: lyrics-tui train"


@dataclass(frozen=True)
class OpenedModel:
    """A checkpoint and a network ready to run it one token at a time."""

    checkpoint: Checkpoint
    stepper: Stepper
    form: CorpusForm = field(default_factory=CorpusForm)  # the training corpus's song form

    def __post_init__(self) -> None:
        stored = self.checkpoint.form
        if stored is not None and not self.form.stored:
            object.__setattr__(self, "form", CorpusForm.from_dict(stored))

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
        return Sampler(self.stepper, self.vocab, self.tokenizer, self.form, self.rhymes)

    @property
    def rhymes(self) -> VocabularyRhymes:
        """The vocabulary's rhyme groups: stored in the checkpoint, or computed once."""
        return rhymes_of(self.checkpoint.form, self.vocab)

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
        stepper = NumpyStepper(checkpoint.model_config, checkpoint.model_state)
    except (KeyError, ValueError, TypeError):
        raise weights_mismatch(checkpoint.path, checkpoint.model_config) from None
    if not stepper.finite():
        raise broken_weights(checkpoint.path)
    return stepper


def open_checkpoint(
    path: str | Path | None = None,
    device: str = "cpu",
    folder: Path | None = None,
    adapt: Any = None,
    on_note: Callable[[str], object] | None = None,
) -> OpenedModel:
    """Read a checkpoint for generation. None: the one start-up opens in `folder` (default
    checkpoints/; open_startup_model), `on_note` told of each file passed over.

    On "cpu" the weights are read with numpy alone (no torch import: the fast start, and at
    batch size 1 faster than torch); any other device runs torch there. With `adapt` (a
    core.adapt.AdaptSettings) the network learns from what it reads (dynamic evaluation, torch,
    on a copy of the weights).
    """
    if path is None:
        opened = _startup_model(folder, device, on_note)
        if adapt is None:
            return opened
        path = opened.path  # read again below, as a network that learns
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


def checkpoint_to_read(
    path: str | Path | None,
    folder: Path | None = None,
    on_note: Callable[[str], object] | None = None,
) -> str:
    """The checkpoint a command reads: `path`, else the one start-up opens (the newest best in
    `folder` that can be read; `on_note` told of each file passed over), as generate does."""
    if path is not None:
        return str(Path(path).expanduser())
    return _startup_model(folder, "cpu", on_note).path


def _startup_model(
    folder: Path | None, device: str, on_note: Callable[[str], object] | None
) -> OpenedModel:
    startup = open_startup_model(folder, device)
    if startup.opened is None:
        if startup.notes:
            raise LyricsError("no checkpoint could be read: " + "; ".join(startup.notes))
        raise LyricsError(NO_CHECKPOINT)
    for note in startup.notes:
        if on_note is not None:
            on_note(note)
    return startup.opened


@dataclass(frozen=True)
class StartupModel:
    """What to open when no checkpoint was named: the model (None: none loadable) and the
    lines to show about the files passed over."""

    opened: OpenedModel | None
    notes: tuple[str, ...]


def startup_order(folder: Path | None = None) -> list[Path]:
    """The checkpoints in `folder` in the order start-up tries them: newest first, except that
    an x-last.pt whose best sibling x.pt exists comes right after x.pt (the best model, not the
    latest state, is the one to play with; the latest is its fallback)."""
    files = list_checkpoints(folder)
    present = set(files)
    order: list[Path] = []
    for path in files:
        best = resume_target(path)
        if best != path and best in present:
            continue  # placed after its best sibling
        order.append(path)
        last = [p for p in files if p != path and resume_target(p) == path]
        order.extend(last)
    return order


def open_startup_model(folder: Path | None = None, device: str = "cpu") -> StartupModel:
    """Open the newest best checkpoint in `folder` (default checkpoints/); a file that cannot be
    read is named in a note and the next one is tried."""
    notes: list[str] = []
    for path in startup_order(folder):
        try:
            opened = open_checkpoint(path, device)
        except LyricsError as exc:
            notes.append(f"skipped {exc}")
            continue
        except Exception as exc:  # a damaged file must never stop the start
            notes.append(f"skipped {path}: not a readable checkpoint ({type(exc).__name__})")
            continue
        if notes:
            notes.append(f"opened {path}, the newest checkpoint that could be read")
        return StartupModel(opened, tuple(notes))
    return StartupModel(None, tuple(notes))
