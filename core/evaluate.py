"""Scoring text: mean cross-entropy over a stream of ids, and held-out perplexity of a file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lyrics_tui.core.cache import CacheFit, CacheSettings
from lyrics_tui.core.checkpoint import Checkpoint, model_from_checkpoint, save_checkpoint
from lyrics_tui.core.errors import CorpusError
from lyrics_tui.core.metrics import perplexity
from lyrics_tui.core.tokens import NEWLINE, Tokenizer

if TYPE_CHECKING:
    import torch

    from lyrics_tui.core.adapt import AdaptSettings
    from lyrics_tui.core.model import RNNLanguageModel


@dataclass(frozen=True)
class EvalResult:
    perplexity: float
    loss: float  # nats per token
    tokens: int
    unknown: int  # tokens outside the vocabulary, scored as <unk>
    cache: CacheSettings | None = None  # song memory used (None: off)
    cache_perplexity: float | None = None  # with song memory (None: off)
    adapt: AdaptSettings | None = None  # dynamic evaluation used (None: off)
    adapt_perplexity: float | None = None  # with dynamic evaluation, no song memory
    adapt_cache_perplexity: float | None = None  # with both


def evaluate_loss(model: RNNLanguageModel, ids: torch.Tensor, device: str = "cpu") -> float:
    """Mean cross-entropy (nats/token) over one text, read as several streams side by side
    (core/cache_eval.py read_stream: the figure of one stream read with its state carried
    throughout, to floating-point order)."""
    from lyrics_tui.core.cache_eval import read_stream

    if len(ids) < 2:
        return float("nan")
    return read_stream(model, ids, 0, device, keep=0).loss


def text_ids(checkpoint: Checkpoint, lines: list[str]) -> list[int]:
    """The ids of a text as the model reads it: a line end first (as in training, so that the
    first word is predicted), then every line ending with a line end."""
    tokenizer = Tokenizer(checkpoint.train_config.tokenizer)
    vocab = checkpoint.vocab
    ids = [vocab.id(NEWLINE)]
    for line in tokenizer.lines(lines):
        ids.extend(vocab.encode(line))
    return ids


def evaluate_lines(
    checkpoint: Checkpoint,
    lines: list[str],
    device: str = "cpu",
    cache: CacheSettings | None = None,
    adapt: AdaptSettings | None = None,
) -> EvalResult:
    """The perplexity of a text (every token, <unk> included), and with song memory and/or
    dynamic evaluation when asked; `perplexity` is always the network alone."""
    import torch

    stream = text_ids(checkpoint, lines)
    if len(stream) < 2:
        raise CorpusError("the text has no tokens to score")
    model = model_from_checkpoint(checkpoint, device)
    ids = torch.tensor(stream, dtype=torch.long)
    unknown = sum(1 for i in stream[1:] if i == checkpoint.vocab.unk_id)
    cache = cache if cache is not None and cache.on else None
    if cache is None and adapt is None:
        loss = evaluate_loss(model, ids, device)
        return EvalResult(perplexity(loss), loss, len(stream) - 1, unknown)
    from lyrics_tui.core import cache_eval

    unk = checkpoint.vocab.unk_id
    features = cache_eval.read_stream(model, ids, unk, device)
    cache_ppl = None if cache is None else perplexity(cache_eval.cache_loss(features, cache))
    adapt_ppl = adapt_cache_ppl = None
    if adapt is not None:
        from lyrics_tui.core.adapt import adaptive_read

        adapted = adaptive_read(model, ids, unk, adapt, device)
        adapt_ppl = perplexity(adapted.loss)
        if cache is not None:
            adapt_cache_ppl = perplexity(cache_eval.cache_loss(adapted, cache))
    return EvalResult(
        perplexity(features.loss),
        features.loss,
        len(stream) - 1,
        unknown,
        cache=cache,
        cache_perplexity=cache_ppl,
        adapt=adapt,
        adapt_perplexity=adapt_ppl,
        adapt_cache_perplexity=adapt_cache_ppl,
    )


def fit_cache_on_lines(
    checkpoint: Checkpoint, lines: list[str], fitted_on: str, device: str = "cpu"
) -> CacheFit:
    """Fit song memory's N, θ, λ on a text and store them in the checkpoint's file (for files
    saved before training fitted it; the rest of the file is kept as it was)."""
    import torch

    from lyrics_tui.core import cache_eval

    stream = text_ids(checkpoint, lines)
    if len(stream) <= cache_eval.MIN_FIT_TOKENS:
        raise CorpusError(
            f"the text is too short to fit song memory on (needs more than "
            f"{cache_eval.MIN_FIT_TOKENS} tokens)"
        )
    model = model_from_checkpoint(checkpoint, device)
    features = cache_eval.read_stream(
        model, torch.tensor(stream, dtype=torch.long), checkpoint.vocab.unk_id, device
    )
    fit = cache_eval.fit_cache(features, fitted_on)
    assert fit is not None  # long enough
    checkpoint.cache = fit.to_dict()
    save_checkpoint(checkpoint, checkpoint.path)
    return fit
