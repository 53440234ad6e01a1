"""Run a trained network one token at a time, for generation and inspection.

Two interchangeable steppers expose `initial_state()` and `step(state, token_id) -> (logits,
state)` with numpy logits:
- NumpyStepper runs a checkpoint's weights with numpy alone (no torch import: the CLI's fast
  start, and at batch 1 faster than torch's per-call overhead); its `read_sequence` gives the
  top layer's states over a whole text in one pass (the cells view, core/inspection/cells.py);
- TorchStepper runs a live nn.Module, such as a snapshot of the model being trained.
tests/core/test_steppers.py checks that both give the same logits as the model's forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from lyrics_tui.core.config import ModelConfig


@dataclass(frozen=True)
class State:
    """Per layer: h (and c for an LSTM), each a float32 vector of size hidden."""

    h: tuple[np.ndarray, ...]
    c: tuple[np.ndarray, ...] | None = None


class Stepper(Protocol):
    config: ModelConfig

    def initial_state(self) -> Any: ...

    def step(self, state: Any, token_id: int) -> tuple[np.ndarray, Any]: ...

    def hidden_vectors(self, state: Any) -> tuple[np.ndarray, np.ndarray | None]: ...

    def embedding_matrix(self) -> np.ndarray: ...


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out = np.multiply(x, 0.5)  # 0.5 (tanh(x / 2) + 1): stable for large |x|; in place, as
    np.tanh(out, out=out)  # each new array costs more than the arithmetic at this size
    out += 1.0
    out *= 0.5
    return out


def _layer_c(state: State, layer: int) -> np.ndarray | None:
    return state.c[layer] if state.c else None


def _cell_update(
    cell: str, gi: np.ndarray, gh: np.ndarray, h: np.ndarray, c: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """One layer's update from its input projection gi = W_ih x + b_ih and its recurrent
    projection gh = W_hh h + b_hh (rows: several candidates at once): the new h (and c)."""
    n = h.shape[-1]
    if cell == "rnn":
        return np.tanh(gi + gh), None
    if cell == "gru":
        rz = _sigmoid(gi[..., : 2 * n] + gh[..., : 2 * n])  # both gates in one call
        r, z = rz[..., :n], rz[..., n:]
        cand = np.tanh(gi[..., 2 * n :] + r * gh[..., 2 * n :])
        return (1.0 - z) * cand + z * h, None
    g = gi + gh
    gates = _sigmoid(g)  # one call for the three gates (the candidate's quarter unused)
    i_g, f_g, o_g = gates[..., :n], gates[..., n : 2 * n], gates[..., 3 * n :]
    c = f_g * c + i_g * np.tanh(g[..., 2 * n : 3 * n])
    return o_g * np.tanh(c), c


def _cell_step(
    cell: str,
    gi: np.ndarray,
    gh: np.ndarray,
    h: np.ndarray,
    c: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """One layer's step for one token, as float32 vectors."""
    h, c = _cell_update(cell, gi, gh, h, c)
    return h.astype(np.float32, copy=False), (
        c.astype(np.float32, copy=False) if c is not None else None
    )


class NumpyStepper:
    """Embedding -> RNN/GRU/LSTM layers -> Linear, in numpy float32, one token per call."""

    def __init__(self, config: ModelConfig, weights: dict[str, Any]) -> None:
        self.config = config
        w = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
        self.embedding = w["embedding.weight"]
        self.decoder_w = w.get("decoder.weight", self.embedding)
        self.decoder_b = w["decoder.bias"]
        self.layers = []
        gates = {"rnn": 1, "gru": 3, "lstm": 4}.get(config.cell, 1) * config.hidden
        for i in range(config.layers):
            w_ih, w_hh = w[f"rnn.weight_ih_l{i}"], w[f"rnn.weight_hh_l{i}"]
            b_ih, b_hh = w[f"rnn.bias_ih_l{i}"], w[f"rnn.bias_hh_l{i}"]
            n_in = config.embed if i == 0 else config.hidden
            if (
                w_ih.shape != (gates, n_in)
                or w_hh.shape != (gates, config.hidden)
                or b_ih.shape != (gates,)
                or b_hh.shape != (gates,)
            ):
                raise ValueError(f"layer {i}'s weights do not match the model configuration")
            self.layers.append((w_ih, w_hh, b_ih, b_hh))
        expected = (config.vocab_size, config.embed)
        if (
            self.embedding.shape != expected
            or self.decoder_w.shape != (config.vocab_size, config.hidden)
            or self.decoder_b.shape != (config.vocab_size,)
        ):
            raise ValueError("weights do not match the model configuration")

        # The first layer's input projection depends only on the token: remember it per token,
        # which saves a fifth of the work of a step once the common words have been seen.
        self._first_input: dict[int, np.ndarray] = {}
        # the recurrent projection of the last state looked ahead from (a one-layer network's
        # look-ahead computes it; the step from that state then reuses it)
        self._recurrent: tuple[State, np.ndarray] | None = None

    def finite(self) -> bool:
        """Whether every weight is a number (one NaN makes every score NaN)."""
        arrays = [self.embedding, self.decoder_w, self.decoder_b]
        arrays += [w for layer in self.layers for w in layer]
        return all(bool(np.isfinite(a).all()) for a in arrays)

    def _input_projection(self, token_id: int) -> np.ndarray:
        projected = self._first_input.get(token_id)
        if projected is None:
            w_ih, _, b_ih, _ = self.layers[0]
            projected = w_ih @ self.embedding[token_id] + b_ih
            self._first_input[token_id] = projected
        return projected

    def initial_state(self) -> State:
        zeros = tuple(np.zeros(self.config.hidden, np.float32) for _ in range(self.config.layers))
        return State(h=zeros, c=zeros if self.config.cell == "lstm" else None)

    def _recurrent_projection(self, state: State) -> np.ndarray:
        cached = self._recurrent
        if cached is not None and cached[0] is state:
            return cached[1]
        _, w_hh, _, b_hh = self.layers[0]
        return w_hh @ state.h[0] + b_hh

    def step(self, state: State, token_id: int) -> tuple[np.ndarray, State]:
        x = self.embedding[token_id]
        hs, cs = [], []
        for i, (w_ih, w_hh, b_ih, b_hh) in enumerate(self.layers):
            gi = self._input_projection(token_id) if i == 0 else w_ih @ x + b_ih
            gh = self._recurrent_projection(state) if i == 0 else w_hh @ state.h[i] + b_hh
            h, c = _cell_step(self.config.cell, gi, gh, state.h[i], _layer_c(state, i))
            hs.append(h)
            if c is not None:
                cs.append(c)
            x = h
        self._recurrent = None
        logits = self.decoder_w @ x + self.decoder_b
        return logits, State(h=tuple(hs), c=tuple(cs) if cs else None)

    def look_ahead(
        self, state: State, logits: np.ndarray, candidates: np.ndarray, target: int
    ) -> np.ndarray | None:
        """For each candidate token, about log p(target) one step after it: the next state
        exactly, its score for `target`, and the softmax's normaliser of the state now (off by
        0.2 nats or so, in the same order as the exact figures: docs/writing.md). None for a
        network of more than one layer, where it would cost a step per candidate."""
        if len(self.layers) != 1:
            return None
        gh = self._recurrent_projection(state)
        self._recurrent = (state, gh)  # the step taken from here reuses it
        # one matrix-vector product per word not seen yet, cached as the step caches it: for up
        # to 8 words numpy's product of a few rows with the transposed weights costs more
        gi = np.stack([self._input_projection(t) for t in candidates.tolist()])
        h, _ = _cell_update(self.config.cell, gi, gh, state.h[0], _layer_c(state, 0))
        top = float(np.maximum.reduce(logits))  # (ufunc.reduce: core/distribution.py)
        normaliser = top + float(np.log(np.add.reduce(np.exp(logits - top))))
        return h @ self.decoder_w[target] + self.decoder_b[target] - normaliser

    def read_sequence(self, token_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray | None]:
        """The top layer's h (and c for an LSTM) after each token, from the initial state, as
        (tokens, hidden) float32 arrays: the same numbers as `step` token by token, read in one
        pass without the output layer. Each layer's input projections for the whole sequence
        are one matrix product; only the recurrence goes token by token."""
        n, count = self.config.hidden, len(token_ids)
        inputs = self.embedding[np.asarray(token_ids, dtype=np.int64)]
        c_seq: np.ndarray | None = None
        for w_ih, w_hh, b_ih, b_hh in self.layers:
            projected = inputs @ w_ih.T + b_ih
            h_seq = np.empty((count, n), np.float32)
            c_seq = np.empty((count, n), np.float32) if self.config.cell == "lstm" else None
            h = np.zeros(n, np.float32)
            c = np.zeros(n, np.float32) if c_seq is not None else None
            for t in range(count):
                h, c = _cell_step(self.config.cell, projected[t], w_hh @ h + b_hh, h, c)
                h_seq[t] = h
                if c_seq is not None:
                    c_seq[t] = c
            inputs = h_seq
        return inputs, c_seq

    def hidden_vectors(self, state: State) -> tuple[np.ndarray, np.ndarray | None]:
        """The top layer's h_t (and c_t for an LSTM)."""
        return state.h[-1], (state.c[-1] if state.c else None)

    def embedding_matrix(self) -> np.ndarray:
        return self.embedding


class TorchStepper:
    """Steps an nn.Module (eval mode, no gradients). Use on a snapshot, not the training copy."""

    def __init__(self, model: Any) -> None:
        import torch

        self._torch = torch
        self.model = model.eval()
        self.config: ModelConfig = model.config
        self.device = next(model.parameters()).device

    def initial_state(self) -> Any:
        return self.model.init_hidden(1, self.device)

    def step(self, state: Any, token_id: int) -> tuple[np.ndarray, Any]:
        torch = self._torch
        with torch.inference_mode():
            x = torch.tensor([[token_id]], device=self.device)
            out, state = self.model(x, state)
            return out[0, 0].float().cpu().numpy(), state

    def look_ahead(
        self, state: Any, logits: np.ndarray, candidates: np.ndarray, target: int
    ) -> np.ndarray | None:
        """NumpyStepper.look_ahead's figures with torch (the same approximation, so that both
        write the same text from the same seed)."""
        if self.config.layers != 1 or len(candidates) == 0:
            return None
        torch = self._torch
        k = len(candidates)
        with torch.inference_mode():
            x = torch.as_tensor(np.asarray(candidates, dtype=np.int64), device=self.device)
            hidden = (
                tuple(part.repeat(1, k, 1) for part in state)
                if isinstance(state, tuple)
                else state.repeat(1, k, 1)
            )
            h, _ = self.model.features(x.view(1, k), hidden)
            weight = self.model.decoder.weight[target]
            scores = (h[0] @ weight + self.model.decoder.bias[target]).float().cpu().numpy()
        top = float(logits.max())
        normaliser = top + float(np.log(np.exp(logits - top).sum()))
        return scores - normaliser

    def hidden_vectors(self, state: Any) -> tuple[np.ndarray, np.ndarray | None]:
        if isinstance(state, tuple):
            return state[0][-1, 0].cpu().numpy(), state[1][-1, 0].cpu().numpy()
        return state[-1, 0].cpu().numpy(), None

    def embedding_matrix(self) -> np.ndarray:
        return self.model.embedding.weight.detach().float().cpu().numpy()


def numpy_stepper_from_model(model: Any) -> NumpyStepper:
    """A numpy copy of a torch model's current weights (a consistent snapshot)."""
    state = {k: v.detach().float().cpu().numpy().copy() for k, v in model.state_dict().items()}
    return NumpyStepper(model.config, state)
