"""The network: Embedding -> RNN | GRU | LSTM -> Linear over the vocabulary (section 4.5)."""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from lyrics_tui.core.config import ModelConfig
from lyrics_tui.core.songform.rhyme import HAN

Hidden = torch.Tensor | tuple[torch.Tensor, torch.Tensor]

_CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def character_bags(words: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, int] | None:
    """Each word's Han characters as ids into a table of characters: (the ids of every word's
    characters one after another, where each word's start, how many characters). None when no
    word has two or more: a character-level vocabulary gains nothing from them."""
    table: dict[str, int] = {}
    flat: list[int] = []
    starts: list[int] = []
    compound = False
    for word in words:
        starts.append(len(flat))
        chars = HAN.findall(word)
        compound = compound or len(chars) > 1
        flat.extend(table.setdefault(c, len(table)) for c in chars)
    if not compound:
        return None
    return torch.tensor(flat, dtype=torch.long), torch.tensor(starts, dtype=torch.long), len(table)


def for_vocabulary(config: ModelConfig, words: Sequence[str]) -> ModelConfig:
    """The network's settings for a vocabulary: its size, and characters only where words
    have several (a character vocabulary gains nothing from them)."""
    characters = config.characters and character_bags(words) is not None
    return replace(config, vocab_size=len(words), characters=characters)


def _mean_matrix(chars: torch.Tensor, starts: torch.Tensor, count: int) -> torch.Tensor:
    """The sparse [words, characters] matrix whose row takes the mean of a word's characters."""
    sizes = torch.diff(starts, append=torch.tensor([len(chars)]))
    rows = torch.repeat_interleave(torch.arange(len(starts)), sizes)
    values = 1.0 / sizes[rows].float()
    shape = (len(starts), count)
    indices = torch.stack([rows, chars])
    return torch.sparse_coo_tensor(indices, values, shape, check_invariants=True).coalesce()


class RNNLanguageModel(nn.Module):
    """Predicts the next token at every position. Inputs and outputs are time-major: [T, B].

    With `config.characters` and the vocabulary's `words`, a word's vector is its own plus the
    mean of its characters' vectors, so a rare word borrows what its characters learnt in
    common words. That is for training only: the state dict holds each word's vector with its
    characters' added in (plus the characters' table, to train on from), so every reader of a
    checkpoint sees a plain Embedding -> RNN -> Linear network (see state_dict below).
    """

    bag_means: torch.Tensor  # a buffer, with characters: the sparse [V, C] matrix of means

    def __init__(self, config: ModelConfig, words: Sequence[str] | None = None) -> None:
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
        self.decoder: nn.Linear | ComposedDecoder = nn.Linear(config.hidden, config.vocab_size)
        if config.tie_weights:
            # Input and output share one matrix: fewer parameters, and on small corpora a
            # clearly lower held-out perplexity (Press & Wolf, 2017).
            self.decoder.weight = self.embedding.weight
        self._init_weights()
        self.characters: nn.Embedding | None = None
        bags = character_bags(words) if config.characters and words is not None else None
        if bags is not None:
            chars, starts, count = bags
            self.characters = nn.Embedding(count, config.embed)
            nn.init.uniform_(self.characters.weight, -0.1, 0.1)
            self.register_buffer("bag_means", _mean_matrix(chars, starts, count), persistent=False)
            if config.tie_weights:
                self.decoder = ComposedDecoder(self, self.decoder.bias)

    def word_vectors(self) -> torch.Tensor:
        """Every word's input vector (and, tied, its output vector): [V, E]."""
        if self.characters is None:
            return self.embedding.weight
        # in place: the product keeps nothing of its output for backward; one [V, E] tensor
        return self._character_part(self.characters.weight).add_(self.embedding.weight)

    def _character_part(self, table: torch.Tensor) -> torch.Tensor:
        # a sparse [V, C] product: its backward makes the [C, E] gradient directly, with no
        # per-character [characters in all words, E] temporary as embedding_bag's does; a word
        # without Han characters (<unk>, Latin, digits) gets zeros
        with torch.autocast(table.device.type, enabled=False):  # full precision, as the table
            return torch.sparse.mm(self.bag_means.to(table.device), table)

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        return self.folded(super().state_dict(*args, **kwargs))

    def folded(self, state: dict[str, Any]) -> dict[str, Any]:
        """A state dict as every reader of a checkpoint takes it: word vectors with their
        characters' part added in, the tied decoder's weight beside them."""
        state = dict(state)
        vectors = state.get("embedding.weight")
        table = state.get("characters.weight")
        if self.characters is not None and vectors is not None and table is not None:
            vectors = vectors + self._character_part(table).to(vectors.dtype)
            state["embedding.weight"] = vectors
        if self.config.tie_weights and vectors is not None:
            state["decoder.weight"] = vectors
        return state

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> Any:
        """A folded state (see folded): the characters' part taken out again when this network
        trains through characters, their table dropped when it does not."""
        state = dict(state_dict)
        table = state.get("characters.weight")
        if self.characters is None:
            state.pop("characters.weight", None)
        elif table is not None and "embedding.weight" in state:
            vectors = state["embedding.weight"]
            table = torch.as_tensor(table)
            vectors = torch.as_tensor(vectors) - self._character_part(table).to(vectors.dtype)
            state["embedding.weight"] = vectors
            if self.config.tie_weights:
                state.pop("decoder.weight", None)
        return super().load_state_dict(state, strict, assign)

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
        vectors = self.word_vectors()
        weight = vectors
        if self.training and self.config.embed_dropout:
            # A dropped word loses its whole vector for this batch, so the network cannot
            # lean on any single word (Gal & Ghahramani, 2016; Merity et al., 2018).
            keep = 1 - self.config.embed_dropout
            mask = weight.new_empty(weight.size(0), 1).bernoulli_(keep) / keep
            weight = weight * mask
        embedded = self.drop(nn.functional.embedding(inputs, weight))
        output, hidden = self.rnn(embedded, hidden)
        # tied through characters: the output side takes the same vectors, made once a pass
        composed = self.characters is not None and self.config.tie_weights
        out_weight, bias = vectors if composed else self.decoder.weight, self.decoder.bias
        if targets is not None:
            return decoder_loss(out_weight, bias, self.drop(output), targets), hidden
        return nn.functional.linear(self.drop(output), out_weight, bias), hidden

    def features(self, inputs: torch.Tensor, hidden: Hidden) -> tuple[torch.Tensor, Hidden]:
        """The top layer's output at every position (eval mode: what the cache remembers)."""
        return self.rnn(nn.functional.embedding(inputs, self.word_vectors()), hidden)

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


class ComposedDecoder(nn.Module):
    """The tied decoder of a network that trains through characters: its weight is the
    network's word vectors as they are now."""

    def __init__(self, owner: RNNLanguageModel, bias: nn.Parameter) -> None:
        super().__init__()
        # a weak reference: a cycle would keep a replaced network (and its memory) until the
        # garbage collector's next pass
        self.__dict__["owner"] = weakref.ref(owner)
        self.bias = bias
        self.out_features = bias.numel()

    @property
    def weight(self) -> torch.Tensor:
        owner = self.__dict__["owner"]()
        assert owner is not None, "a decoder outlived its network"
        return owner.word_vectors()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight, self.bias)


def decoder_loss(
    weight: torch.Tensor, bias: torch.Tensor, output: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """Mean cross-entropy of `targets` under the decoder's scores of `output` [T, B, H]. When
    the scores of a batch are large (a big vocabulary), they are made, used and dropped a
    chunk of positions at a time, the gradients with them: the memory of one chunk instead
    of the batch, and faster, the scores never leaving the cache (docs/performance.md)."""
    flat, wanted = output.reshape(-1, output.size(-1)), targets.reshape(-1).long()
    vocab = weight.size(0)
    if flat.size(0) * vocab <= LOSS_CHUNK:
        return nn.functional.cross_entropy(nn.functional.linear(flat, weight, bias).float(), wanted)
    rows = max(1, LOSS_CHUNK // vocab)
    loss = _ChunkedLoss.apply(flat, weight, bias, wanted, rows)
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
