"""A run's data: both splits tokenised (once per text, core/encoded.py), the vocabulary, ids;
and what a run continued from a checkpoint takes from it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from lyrics_tui.core import batches as B
from lyrics_tui.core.checkpoint import Checkpoint, weights_mismatch
from lyrics_tui.core.config import TrainConfig
from lyrics_tui.core.encoded import encode_split
from lyrics_tui.core.errors import CorpusError, SettingsError
from lyrics_tui.core.vocab import Vocabulary


@dataclass(frozen=True)
class PreparedData:
    vocab: Vocabulary
    train_ids: torch.Tensor
    val_ids: torch.Tensor
    val_unknown_rate: float


def prepare_data(
    train_lines: list[str],
    val_lines: list[str],
    config: TrainConfig,
    vocab: Vocabulary | None = None,
) -> PreparedData:
    """Tokenise, build (or reuse) the vocabulary, and encode both splits as id tensors."""
    # Tokenised once per text and tokenizer, then read from the user's cache (core/encoded.py);
    # memory stays a few bytes per token on a large corpus.
    encoded = encode_split(train_lines, val_lines, config.tokenizer)
    if vocab is None:
        vocab = encoded.vocabulary(config.min_count, config.max_vocab)
        if encoded.cut >= 2 and len(vocab) < 2:
            raise CorpusError(
                "the vocabulary would hold only <unk>: "
                + (
                    "{max_vocab} 1 leaves no room for words"
                    if config.max_vocab == 1
                    else f"no token is seen {config.min_count} times; lower {{min_count}} or use "
                    "a longer corpus"
                )
            )
    train_array, val_array = encoded.ids(vocab)
    # int32: half the memory of a large corpus's streams (targets become int64 per batch)
    train_ids = torch.from_numpy(train_array.astype(np.int32))
    val_ids = torch.from_numpy(val_array)
    unknown = float((val_array == vocab.unk_id).mean()) if len(val_array) else 0.0
    if len(train_ids) < 2:
        raise CorpusError(
            "the training split is too short to learn from (needs at least one "
            "line with a word in it)"
        )
    return PreparedData(vocab, train_ids, val_ids, unknown)


def noised_streams(
    data: PreparedData,
    streams: torch.Tensor,
    alpha: float,
    generator: torch.Generator,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """An epoch's training streams with rare words read as <unk> (TrainConfig.unk_noise)."""
    vocab = data.vocab
    counts = torch.tensor(vocab.counts, dtype=torch.float32)
    counts[vocab.unk_id] = math.inf  # <unk> stays itself
    return B.unk_noise(streams, counts, alpha, vocab.unk_id, generator, out)


def check_continuable(checkpoint: Checkpoint, config: TrainConfig) -> None:
    """A SettingsError when `config` leaves the checkpoint nothing more to train."""
    if checkpoint.epoch >= config.epochs:
        raise SettingsError(
            f"the checkpoint already has {checkpoint.epoch} epochs; ask for "
            f"more with {{epochs}} (e.g. {{epochs}} {checkpoint.epoch + 10})"
        )
    budget = config.time_budget
    if budget and checkpoint.elapsed_s >= budget:
        raise SettingsError(
            f"the checkpoint already trained {checkpoint.elapsed_s:.0f} s of its "
            f"{budget:g} s {{time_budget}} (it counts earlier sessions); give a larger "
            f"one (e.g. {{time_budget}} {checkpoint.elapsed_s + budget:.0f}) or "
            "{time_budget} 0"
        )


def load_state(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, checkpoint: Checkpoint
) -> None:
    """The checkpoint's weights and optimiser state; one line when they do not fit."""
    try:
        model.load_state_dict(checkpoint.model_state)
        if checkpoint.optimizer_state:
            optimizer.load_state_dict(checkpoint.optimizer_state)
    except (RuntimeError, ValueError, KeyError):
        raise weights_mismatch(checkpoint.path, checkpoint.model_config) from None
