"""The model being inspected: a stepper with its vocabulary, tokenizer and song memory, from a
checkpoint file, a loaded checkpoint, a state dict or a run being trained."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lyrics_tui.core.cache import CacheFit, CacheSettings, ResolvedCache, resolve_cache, stored_fit
from lyrics_tui.core.songform import CorpusForm, VocabularyRhymes, form_of, rhymes_of
from lyrics_tui.core.steppers import Stepper
from lyrics_tui.core.tokens import Tokenizer
from lyrics_tui.core.vocab import Vocabulary

if TYPE_CHECKING:
    from lyrics_tui.core.checkpoint import Checkpoint
    from lyrics_tui.core.loading import OpenedModel


@dataclass(frozen=True)
class Subject:
    """A model to look inside: a stepper, its vocabulary and tokenizer, and a label to show."""

    stepper: Stepper
    vocab: Vocabulary
    tokenizer: Tokenizer
    label: str = ""
    fit: CacheFit | None = None  # song memory fitted after training (None: not stored)
    cache: CacheSettings | None = None  # what --cache auto means here (None: off)
    form_data: dict[str, Any] | None = None  # the training corpus's song form, as stored
    corpus: str = ""  # the corpus it was trained on, as its checkpoint names it ("": unknown)
    val_fraction: float = 0.0  # the share of the corpus's last lines it was validated on

    @property
    def form(self) -> CorpusForm:
        return form_of(self.form_data)

    @property
    def rhymes(self) -> VocabularyRhymes:
        return rhymes_of(self.form_data, self.vocab)

    def resolve_cache(self, option: str | CacheSettings | None = "auto") -> ResolvedCache:
        """--cache auto|off|N,THETA,LAMBDA for this model (core/cache.py)."""
        if (option is None or option == "auto") and self.fit is None and self.cache is not None:
            return ResolvedCache(self.cache, "stored")  # a training run's latest settings
        return resolve_cache(option, self.fit, self.label)

    @property
    def fitted_cache(self) -> CacheSettings | None:
        """Song memory's fitted settings, λ 0 included (a control that sets λ starts from their
        N and θ); None: not fitted."""
        return self.fit.settings if self.fit is not None else self.cache

    @property
    def cell(self) -> str:
        return self.stepper.config.cell

    @property
    def hidden_size(self) -> int:
        return self.stepper.config.hidden


def load_subject(
    path: str | Path | None = None,
    adapt: Any = None,
    on_note: Callable[[str], object] | None = None,
) -> Subject:
    """A checkpoint read with numpy only (fast, no torch). None: the one start-up opens from
    checkpoints/ (core.loading.open_startup_model; `on_note` hears of files passed over). With
    `adapt` (core.adapt.AdaptSettings) a network that learns from what it reads (torch)."""
    from lyrics_tui.core.loading import open_checkpoint

    return subject_from_opened(open_checkpoint(path, adapt=adapt, on_note=on_note))


def subject_from_opened(opened: OpenedModel, label: str | None = None) -> Subject:
    """A Subject over a checkpoint already opened for generation (core.loading.OpenedModel);
    `label` defaults to its path."""
    fit = opened.cache_fit
    return Subject(
        opened.stepper,
        opened.vocab,
        opened.tokenizer,
        label=opened.path if label is None else label,
        fit=fit,
        cache=fit.settings if fit and fit.settings.on else None,
        form_data=opened.checkpoint.form,
        corpus=opened.checkpoint.corpus,  # the Cells view reads its held-out lines
        val_fraction=opened.checkpoint.train_config.val_fraction,
    )


def subject_from_checkpoint(checkpoint: Checkpoint) -> Subject:
    """A Subject over a loaded Checkpoint (torch tensors or numpy arrays), run with numpy."""
    from lyrics_tui.core.loading import numpy_stepper

    fit = stored_fit(checkpoint)
    return Subject(
        numpy_stepper(checkpoint),
        checkpoint.vocab,
        Tokenizer(checkpoint.train_config.tokenizer),
        label=str(checkpoint.path),
        fit=fit,
        cache=fit.settings if fit and fit.settings.on else None,
        form_data=checkpoint.form,
        corpus=checkpoint.corpus,
        val_fraction=checkpoint.train_config.val_fraction,
    )


def subject_from_state(
    model_config: Any,
    state: dict[str, Any],
    vocab: Vocabulary,
    tokenizer_kind: str = "word",
    label: str = "",
) -> Subject:
    """A Subject over a state dict (numpy arrays or CPU tensors), e.g. a training snapshot."""
    from lyrics_tui.core.steppers import NumpyStepper

    weights = {
        k: (v.detach().float().cpu().numpy() if hasattr(v, "detach") else v)
        for k, v in state.items()
    }
    return Subject(NumpyStepper(model_config, weights), vocab, Tokenizer(tokenizer_kind), label)


def subject_from_run(run: Any, label: str = "training snapshot") -> Subject:
    """The weights a core.trainer.TrainingRun holds right now, copied between two optimiser
    steps; safe to call from any thread while the run trains. Song memory: the settings the
    run's last validation chose."""
    subject = subject_from_state(
        run.model_config, run.snapshot_state(), run.vocab, run.train_config.tokenizer, label
    )
    guess = getattr(run, "cache_settings", None)
    return replace(
        subject,
        cache=guess if guess is not None and guess.on else None,
        form_data=getattr(run, "form", None),
        corpus=getattr(run, "corpus_name", ""),
        val_fraction=run.train_config.val_fraction,
    )
