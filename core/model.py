"""The network: Embedding -> RNN | GRU | LSTM -> Linear over the vocabulary (section 4.5)."""

from __future__ import annotations

import torch
from torch import nn

from lyrics_tui.core.config import ModelConfig

Hidden = torch.Tensor | tuple[torch.Tensor, torch.Tensor]

_CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class RNNLanguageModel(nn.Module):
    """Predicts the next token at every position. Inputs and outputs are time-major: [T, B]."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.vocab_size < 1:
            raise ValueError("vocab_size must be set from the vocabulary")
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed)
        self.drop = LockedDropout(config.dropout)
        self.rnn = _CELLS[config.cell](
            config.embed,
            config.hidden,
            config.layers,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        self.decoder = nn.Linear(config.hidden, config.vocab_size)
        if config.tie_weights:
            # Input and output share one matrix: fewer parameters, and on small corpora a
            # clearly lower held-out perplexity (Press & Wolf, 2017).
            self.decoder.weight = self.embedding.weight
        self._init_weights()

    def _init_weights(self) -> None:
        if self.config.init == "torch":
            return  # the tutorial's model keeps PyTorch's defaults: N(0, 1) embeddings
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        if not self.config.tie_weights:
            nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def init_hidden(self, batch_size: int, device: torch.device | str = "cpu") -> Hidden:
        shape = (self.config.layers, batch_size, self.config.hidden)
        h = torch.zeros(shape, device=device)
        if self.config.cell == "lstm":
            return h, torch.zeros(shape, device=device)
        return h

    def forward(
        self, inputs: torch.Tensor, hidden: Hidden, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, Hidden]:
        """Scores of every word at every position; with `targets`, the mean cross-entropy of
        the targets instead (training: see decoder_loss)."""
        weight = self.embedding.weight
        if self.training and self.config.embed_dropout:
            # A dropped word loses its whole vector for this batch, so the network cannot
            # lean on any single word (Gal & Ghahramani, 2016; Merity et al., 2018).
            keep = 1 - self.config.embed_dropout
            mask = weight.new_empty(weight.size(0), 1).bernoulli_(keep) / keep
            weight = weight * mask
        embedded = self.drop(nn.functional.embedding(inputs, weight))
        output, hidden = self.rnn(embedded, hidden)
        if targets is not None:
            return decoder_loss(self.decoder, self.drop(output), targets), hidden
        return self.decoder(self.drop(output)), hidden

    def features(self, inputs: torch.Tensor, hidden: Hidden) -> tuple[torch.Tensor, Hidden]:
        """The top layer's output at every position (eval mode: what the cache remembers)."""
        return self.rnn(nn.functional.embedding(inputs, self.embedding.weight), hidden)

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())


class LockedDropout(nn.Module):
    """Dropout with one mask per sequence, shared by every time step (variational dropout).

    A fresh mask at each step lets the RNN average the noise away; one mask per sequence
    regularises the recurrent computation and, on this project's corpora, lowers held-out
    perplexity more than ordinary dropout at the same rate (Gal & Ghahramani, 2016).
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [T, B, D]
        if not self.training or self.p == 0:
            return x
        mask = x.new_empty(1, x.size(1), x.size(2)).bernoulli_(1 - self.p) / (1 - self.p)
        return x * mask


LOSS_CHUNK = 8 << 20  # scores (positions x vocabulary) computed at once by decoder_loss


def decoder_loss(decoder: nn.Linear, output: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of `targets` under the decoder's scores of `output` [T, B, H]. When
    the scores of a batch are large (a big vocabulary), they are made, used and dropped a
    chunk of positions at a time, the gradients with them: the memory of one chunk instead
    of the batch, and faster, the scores never leaving the cache (docs/performance.md)."""
    flat, wanted = output.reshape(-1, output.size(-1)), targets.reshape(-1).long()
    vocab = decoder.out_features
    if flat.size(0) * vocab <= LOSS_CHUNK:
        return nn.functional.cross_entropy(decoder(flat).float(), wanted)
    rows = max(1, LOSS_CHUNK // vocab)
    loss = _ChunkedLoss.apply(flat, decoder.weight, decoder.bias, wanted, rows)
    return loss


class _ChunkedLoss(torch.autograd.Function):
    """Cross-entropy through a linear layer, chunk by chunk; the gradients (softmax minus the
    target, through the layer) are taken in the same pass and kept for backward."""

    @staticmethod
    def forward(ctx, flat, weight, bias, targets, rows):
        count = flat.size(0)
        total = torch.zeros((), dtype=torch.float64, device=flat.device)
        grad_flat = torch.empty_like(flat)
        grad_weight = torch.zeros(weight.shape, device=weight.device)
        grad_bias = torch.zeros(bias.shape, device=bias.device)
        for a in range(0, count, rows):
            part, wanted = flat[a : a + rows], targets[a : a + rows]
            scores = torch.addmm(bias, part, weight.t()).float()  # bf16 under autocast
            norm = torch.logsumexp(scores, 1)
            total += (norm - scores.gather(1, wanted[:, None])[:, 0]).sum().double()
            grad = scores.sub_(norm[:, None]).exp_()  # softmax, in place
            grad[torch.arange(grad.size(0), device=grad.device), wanted] -= 1
            grad /= count
            low = grad.to(part.dtype)
            grad_flat[a : a + rows] = low @ weight.to(low.dtype)
            grad_weight += (low.t() @ part).float()
            grad_bias += grad.sum(0)
        ctx.save_for_backward(grad_flat, grad_weight, grad_bias)
        return (total / count).float()

    @staticmethod
    def backward(ctx, upstream):
        grad_flat, grad_weight, grad_bias = ctx.saved_tensors
        return grad_flat * upstream, grad_weight * upstream, grad_bias * upstream, None, None


def detach(hidden: Hidden) -> Hidden:
    """Cut the graph at a batch boundary: truncated back-propagation through time."""
    # .float(): under bf16 autocast the carried state stays in full precision
    if isinstance(hidden, tuple):
        return tuple(h.detach().float() for h in hidden)  # type: ignore[return-value]
    return hidden.detach().float()
