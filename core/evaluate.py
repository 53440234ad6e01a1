"""Scoring text: mean cross-entropy over a stream of ids, and held-out perplexity of a file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lyrics_tui.core.checkpoint import Checkpoint, model_from_checkpoint
from lyrics_tui.core.errors import CorpusError
from lyrics_tui.core.metrics import perplexity
from lyrics_tui.core.tokens import NEWLINE, Tokenizer

if TYPE_CHECKING:
    import torch

    from lyrics_tui.core.model import RNNLanguageModel


@dataclass(frozen=True)
class EvalResult:
    perplexity: float
    loss: float  # nats per token
    tokens: int
    unknown: int  # tokens outside the vocabulary, scored as <unk>


def evaluate_loss(model: RNNLanguageModel, ids: torch.Tensor, device: str = "cpu") -> float:
    """Mean cross-entropy (nats/token) over one stream, hidden state carried throughout."""
    import torch
    from torch import nn

    from lyrics_tui.core.batches import EVAL_CHUNK, stream_batches

    if len(ids) < 2:
        return float("nan")
    was_training = model.training
    model.eval()
    data = ids.to(device).view(-1, 1)
    hidden = model.init_hidden(1, device)
    total, count = 0.0, 0
    with torch.no_grad():
        for x, y in stream_batches(data, EVAL_CHUNK):
            logits, hidden = model(x, hidden)
            total += nn.functional.cross_entropy(
                logits.view(-1, logits.size(-1)), y.reshape(-1), reduction="sum"
            ).item()
            count += y.numel()
    model.train(was_training)
    return total / count


def text_ids(checkpoint: Checkpoint, lines: list[str]) -> list[int]:
    """The ids of a text as the model reads it: a line end first (as in training, so that the
    first word is predicted), then every line ending with a line end."""
    tokenizer = Tokenizer(checkpoint.train_config.tokenizer)
    vocab = checkpoint.vocab
    ids = [vocab.id(NEWLINE)]
    for line in tokenizer.lines(lines):
        ids.extend(vocab.encode(line))
    return ids


def evaluate_lines(checkpoint: Checkpoint, lines: list[str], device: str = "cpu") -> EvalResult:
    import torch

    stream = text_ids(checkpoint, lines)
    if len(stream) < 2:
        raise CorpusError("the text has no tokens to score")
    model = model_from_checkpoint(checkpoint, device)
    loss = evaluate_loss(model, torch.tensor(stream, dtype=torch.long), device)
    unknown = sum(1 for i in stream[1:] if i == checkpoint.vocab.unk_id)
    return EvalResult(perplexity(loss), loss, len(stream) - 1, unknown)
