"""Held-out perplexity of a text under a trained checkpoint, and model loading helpers."""
from __future__ import annotations

import math
from dataclasses import dataclass

from lyrics_tui.core.checkpoint import Checkpoint, weights_mismatch
from lyrics_tui.core.errors import CorpusError
from lyrics_tui.core.tokens import Tokenizer


@dataclass(frozen=True)
class EvalResult:
    perplexity: float
    loss: float  # nats per token
    tokens: int
    unknown: int  # tokens outside the vocabulary, scored as <unk>


def model_from_checkpoint(checkpoint: Checkpoint, device: str = "cpu"):
    """An eval-mode RNNLanguageModel holding the checkpoint's weights."""
    import torch

    from lyrics_tui.core.model import RNNLanguageModel

    model = RNNLanguageModel(checkpoint.model_config)
    try:
        state = {k: torch.as_tensor(v) for k, v in checkpoint.model_state.items()}
        model.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError, TypeError):
        raise weights_mismatch(checkpoint.path, checkpoint.model_config) from None
    return model.to(device).eval()


def evaluate_lines(checkpoint: Checkpoint, lines: list[str], device: str = "cpu") -> EvalResult:
    import torch

    from lyrics_tui.core.trainer import evaluate_loss

    tokenizer = Tokenizer(checkpoint.train_config.tokenizer)
    vocab = checkpoint.vocab
    ids: list[int] = []
    for line in tokenizer.lines(lines):
        ids.extend(vocab.encode(line))
    # The stream starts after a line end, as in training; the first token is then predicted.
    stream = [vocab.id("\n")] + ids
    if len(stream) < 2:
        raise CorpusError("the text has no tokens to score")
    model = model_from_checkpoint(checkpoint, device)
    loss = evaluate_loss(model, torch.tensor(stream, dtype=torch.long), device)
    unknown = sum(1 for i in ids if i == vocab.unk_id)
    return EvalResult(math.exp(min(loss, 700)), loss, len(ids), unknown)
