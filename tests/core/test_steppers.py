"""NumpyStepper and TorchStepper give the logits of the model's own forward pass, token by token."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lyrics_tui.core.config import ModelConfig
from lyrics_tui.core.model import RNNLanguageModel
from lyrics_tui.core.steppers import NumpyStepper, TorchStepper, numpy_stepper_from_model

TOKENS = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7]


def _model(cell: str, layers: int = 2, tie: bool = False) -> RNNLanguageModel:
    torch.manual_seed(7)
    size = 12 if tie else 10
    cfg = ModelConfig(
        cell=cell, embed=12, hidden=size, layers=layers, dropout=0.0, tie_weights=tie, vocab_size=11
    )
    model = RNNLanguageModel(cfg)
    with torch.no_grad():  # larger weights than the init, so the gates really matter
        for p in model.parameters():
            p.uniform_(-0.6, 0.6)
    return model.eval()


def _forward_logits(model: RNNLanguageModel) -> np.ndarray:
    with torch.no_grad():
        logits, _ = model(torch.tensor(TOKENS).view(-1, 1), model.init_hidden(1))
    return logits[:, 0].numpy()


def _step_logits(stepper) -> np.ndarray:
    state = stepper.initial_state()
    out = []
    for token in TOKENS:
        logits, state = stepper.step(state, token)
        out.append(np.asarray(logits))
    return np.stack(out)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_numpy_stepper_matches_the_torch_forward(cell):
    model = _model(cell, layers=2)
    weights = {k: v.numpy() for k, v in model.state_dict().items()}
    stepper = NumpyStepper(model.config, weights)
    np.testing.assert_allclose(_step_logits(stepper), _forward_logits(model), atol=1e-4, rtol=0)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_torch_stepper_matches_the_torch_forward(cell):
    model = _model(cell, layers=2)
    expected = _forward_logits(model)
    np.testing.assert_allclose(_step_logits(TorchStepper(model)), expected, atol=1e-5, rtol=0)


def test_numpy_stepper_with_tied_weights_and_one_layer():
    model = _model("lstm", layers=1, tie=True)
    np.testing.assert_allclose(
        _step_logits(numpy_stepper_from_model(model)), _forward_logits(model), atol=1e-4, rtol=0
    )


def test_hidden_vectors_are_the_top_layer():
    model = _model("lstm", layers=2)
    stepper = numpy_stepper_from_model(model)
    state = stepper.initial_state()
    for token in TOKENS[:4]:
        _, state = stepper.step(state, token)
    h, c = stepper.hidden_vectors(state)
    with torch.no_grad():
        _, (h_t, c_t) = model(torch.tensor(TOKENS[:4]).view(-1, 1), model.init_hidden(1))
    np.testing.assert_allclose(h, h_t[-1, 0].numpy(), atol=1e-5)
    np.testing.assert_allclose(c, c_t[-1, 0].numpy(), atol=1e-5)


@pytest.mark.parametrize(
    "break_it", ["missing layer", "wrong embed", "wrong gate rows", "wrong bias"]
)
def test_weights_that_do_not_fit_the_config_are_refused_up_front(break_it):
    model = _model("gru", layers=2)
    weights = {k: v.numpy() for k, v in model.state_dict().items()}
    if break_it == "missing layer":
        del weights["rnn.weight_ih_l1"]
    elif break_it == "wrong embed":
        weights["embedding.weight"] = np.zeros((11, 5), np.float32)
    elif break_it == "wrong gate rows":
        weights["rnn.weight_hh_l1"] = np.zeros((10, 10), np.float32)  # an RNN's, not a GRU's
    else:
        weights["rnn.bias_ih_l0"] = np.zeros(7, np.float32)
    with pytest.raises((KeyError, ValueError)):
        NumpyStepper(model.config, weights)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_read_sequence_gives_the_top_layers_states_of_stepping(cell):
    model = _model(cell, layers=2)
    stepper = NumpyStepper(model.config, {k: v.numpy() for k, v in model.state_dict().items()})
    h_seq, c_seq = stepper.read_sequence(TOKENS)
    state = stepper.initial_state()
    for t, token in enumerate(TOKENS):
        state = stepper.step(state, token)[1]
        h, c = stepper.hidden_vectors(state)
        np.testing.assert_allclose(h_seq[t], h, atol=1e-5, rtol=0)
        if cell == "lstm":
            np.testing.assert_allclose(c_seq[t], c, atol=1e-5, rtol=0)
    assert h_seq.shape == (len(TOKENS), model.config.hidden) and h_seq.dtype == np.float32
    assert (c_seq is None) == (cell != "lstm")
