"""Batches (streams and the tutorial's windows) and the network's shapes."""

from __future__ import annotations

import pytest
import torch

from lyrics_tui.core import batches as B
from lyrics_tui.core.config import ModelConfig
from lyrics_tui.core.model import RNNLanguageModel, detach


# -- streams ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "n,batch_size,bptt", [(1000, 8, 12), (997, 7, 35), (50, 4, 100), (64, 32, 5), (9, 32, 3)]
)
def test_streams_cover_every_token_once_per_epoch(n, batch_size, bptt):
    ids = torch.arange(n)
    data = B.batchify(ids, batch_size)
    streams = data.size(1)
    assert streams >= 1 and data.size(0) >= 2
    kept = data.size(0) * streams
    assert n - kept < streams  # only the ragged tail (fewer tokens than streams) is dropped
    # column b is the b-th contiguous stretch of the corpus
    assert torch.equal(data.t().reshape(-1), ids[:kept])

    inputs, targets = [], []
    count = 0
    for x, y in B.stream_batches(data, bptt):
        assert x.shape == y.shape and x.size(0) <= bptt and x.size(1) == streams
        inputs.append(x)
        targets.append(y)
        count += 1
    assert count == B.stream_batch_count(data, bptt)
    x_all, y_all = torch.cat(inputs), torch.cat(targets)
    # every position is read once as input and once as target, in order, with no gap:
    assert torch.equal(x_all, data[:-1]) and torch.equal(y_all, data[1:])
    # so every kept token is predicted exactly once except the first of each stream,
    # and targets are the inputs shifted by one
    predicted = y_all.t().reshape(-1).tolist()
    assert len(predicted) == len(set(predicted)) == kept - streams
    assert torch.equal(y_all[:-1], x_all[1:])


def test_batchify_keeps_at_least_two_steps_on_a_tiny_corpus():
    data = B.batchify(torch.arange(5), 32)
    assert data.size(0) >= 2


# -- the tutorial's windows ------------------------------------------------------------------
@pytest.mark.parametrize("n,bptt,batch_size", [(3200, 32, 5), (1000, 10, 4), (500, 35, 2)])
def test_tutorial_windows_start_only_in_the_first_1_over_bptt(n, bptt, batch_size):
    ids = torch.arange(n) * 3  # distinct values, so a value names its position
    starts = B.tutorial_window_starts(n, bptt)
    assert int(starts.max()) < n // bptt + 1
    seen_starts = []
    count = 0
    for x, y in B.tutorial_windows(ids, bptt, batch_size, torch.Generator().manual_seed(0)):
        assert x.shape == (bptt, batch_size)
        assert torch.equal(y, x + 3)  # targets are inputs shifted by one position
        seen_starts.extend((x[0] // 3).tolist())
        count += 1
    assert count == B.tutorial_window_count(n, bptt, batch_size)
    assert max(seen_starts) < n / bptt  # the defect: the corpus tail is never a window start
    assert len(set(seen_starts)) == len(seen_starts)


# -- the model -------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("layers", [1, 2])
def test_forward_shapes(cell, layers):
    cfg = ModelConfig(cell=cell, embed=12, hidden=10, layers=layers, dropout=0.1, vocab_size=37)
    model = RNNLanguageModel(cfg)
    hidden = model.init_hidden(3)
    logits, hidden = model(torch.randint(0, 37, (5, 3)), hidden)
    assert logits.shape == (5, 3, 37)
    states = hidden if cell == "lstm" else (hidden,)
    assert isinstance(hidden, tuple) == (cell == "lstm")
    for h in states:
        assert h.shape == (layers, 3, 10)
    assert isinstance(
        model.rnn, {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell]
    )
    assert model.rnn.num_layers == layers


def test_detach_cuts_the_graph_for_every_state():
    cfg = ModelConfig(cell="lstm", embed=4, hidden=4, vocab_size=5)
    model = RNNLanguageModel(cfg)
    _, hidden = model(torch.zeros(2, 1, dtype=torch.long), model.init_hidden(1))
    assert all(h.requires_grad for h in hidden)
    assert not any(h.requires_grad for h in detach(hidden))


def test_tied_weights_share_one_tensor():
    tied = RNNLanguageModel(
        ModelConfig(cell="gru", embed=8, hidden=8, tie_weights=True, vocab_size=50)
    )
    untied = RNNLanguageModel(ModelConfig(cell="gru", embed=8, hidden=8, vocab_size=50))
    assert tied.decoder.weight is tied.embedding.weight
    assert tied.decoder.weight.data_ptr() == tied.embedding.weight.data_ptr()
    assert untied.decoder.weight.data_ptr() != untied.embedding.weight.data_ptr()
    assert untied.parameter_count() - tied.parameter_count() == 50 * 8
    with torch.no_grad():
        tied.embedding.weight[3, 0] = 42.0
    assert float(tied.decoder.weight.detach()[3, 0]) == 42.0


def test_a_model_needs_its_vocabulary_size():
    with pytest.raises(ValueError):
        RNNLanguageModel(ModelConfig(vocab_size=0))
