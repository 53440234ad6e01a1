"""A trained network reading a long text in eval mode (validation, song memory's fit): the
numbers of its own forward pass, for less work.

A text repeats its words, so the first layer's input projection W_ih x + b_ih is made once per
distinct word and looked up at each position (nn.RNN makes it once per position); the
recurrence then runs step by step with the formulas of PyTorch's own CPU cells, so that the
states agree with `model.features` to floating-point order. The word vectors (a sum, for a
network that reads words through their characters) are made once per text, not per piece.
"""

from __future__ import annotations

import torch
from torch import nn

from lyrics_tui.core.model import Hidden, RNNLanguageModel


class TextReader:
    """Reads `inputs` [R, S] (R positions of S streams side by side) a piece of rows at a
    time, carrying the state from piece to piece; scores the outputs it is given."""

    def __init__(self, model: RNNLanguageModel, inputs: torch.Tensor) -> None:
        self.model, self.inputs = model, inputs
        self.vectors = model.word_vectors()  # [V, E]
        composed = model.characters is not None and model.config.tie_weights
        self.out_weight = self.vectors if composed else model.decoder.weight
        self.bias = model.decoder.bias
        self.table: torch.Tensor | None = None
        # a deeper network's later layers gain nothing; on a GPU cuDNN's fused layer is faster
        # than stepping here
        if model.config.layers == 1 and inputs.device.type == "cpu":
            rnn = model.rnn
            distinct, self.local = torch.unique(inputs, return_inverse=True)
            # [U, gates x H]: one row per distinct word of the text
            self.table = torch.addmm(rnn.bias_ih_l0, self.vectors[distinct], rnn.weight_ih_l0.t())

    def features(self, a: int, b: int, state: Hidden) -> tuple[torch.Tensor, Hidden]:
        """The top layer's output [b - a, S, H] for rows a..b, and the state after them."""
        if self.table is None:
            embedded = nn.functional.embedding(self.inputs[a:b], self.vectors)
            return self.model.rnn(embedded, state)
        rnn = self.model.rnn
        local = self.local[a:b]
        gates = self.table.index_select(0, local.reshape(-1)).view(*local.shape, -1)  # [rows, S, G]
        return _recur(self.model.config.cell, gates, state, rnn.weight_hh_l0, rnn.bias_hh_l0)

    def scores(self, output: torch.Tensor) -> torch.Tensor:
        """Every word's score at each of `output`'s positions [P, H] -> [P, V]."""
        return nn.functional.linear(output, self.out_weight, self.bias)


def _recur(
    cell: str, gates_in: torch.Tensor, state: Hidden, w_hh: torch.Tensor, b_hh: torch.Tensor
) -> tuple[torch.Tensor, Hidden]:
    """One layer over [T, S, G] precomputed input gates, as ATen's RNN/GRU/LSTM cells compute
    each step (the same operations in the same order)."""
    lstm = cell == "lstm"
    h = state[0][0] if lstm else state[0]
    c = state[1][0] if lstm else h  # (unused but for an LSTM)
    size = h.size(-1)
    out = gates_in.new_empty(gates_in.size(0), gates_in.size(1), size)
    w = w_hh.t()
    for t in range(gates_in.size(0)):
        gi, gh = gates_in[t], torch.addmm(b_hh, h, w)  # [S, G] each
        if cell == "rnn":
            h = gh.add_(gi).tanh_()
        elif cell == "gru":
            r = gh[:, :size].add_(gi[:, :size]).sigmoid_()
            z = gh[:, size : 2 * size].add_(gi[:, size : 2 * size]).sigmoid_()
            n = gi[:, 2 * size :].add(gh[:, 2 * size :].mul_(r)).tanh_()
            h = (h - n).mul_(z).add_(n)
        else:
            i, f, g, o = gh.add_(gi).chunk(4, 1)
            c = f.sigmoid().mul(c).add_(i.sigmoid().mul_(g.tanh()))
            h = o.sigmoid().mul_(c.tanh())
        out[t] = h
    if lstm:
        return out, (h[None], c[None])
    return out, h[None]
