"""Settings added with song memory: the tutorial's initialisation, <unk> noise, features."""

from __future__ import annotations

import pytest
import torch

from lyrics_tui.core import batches as B
from lyrics_tui.core.config import ModelConfig, resolve_settings
from lyrics_tui.core.errors import SettingsError
from lyrics_tui.core.model import RNNLanguageModel


def test_tutorial_presets_use_pytorchs_default_initialisation():
    for preset in ("tutorial", "tutorial-windows"):
        assert resolve_settings(preset)[0].init == "torch"
    assert resolve_settings("default")[0].init == "uniform"
    torch.manual_seed(0)
    tutorial = RNNLanguageModel(ModelConfig(cell="rnn", embed=128, hidden=256, vocab_size=500,
                                            init="torch"))  # fmt: skip
    assert tutorial.embedding.weight.std().item() == pytest.approx(1.0, abs=0.05)  # N(0, 1)
    assert tutorial.decoder.bias.abs().max().item() > 0  # nn.Linear's own uniform start
    ours = RNNLanguageModel(ModelConfig(cell="rnn", embed=128, hidden=256, vocab_size=500))
    assert ours.embedding.weight.abs().max().item() <= 0.1
    assert ours.decoder.bias.abs().max().item() == 0
    with pytest.raises(SettingsError):
        resolve_settings("default", {"init": "xavier"})


def test_features_are_what_the_decoder_reads_in_eval_mode():
    model = RNNLanguageModel(ModelConfig(cell="gru", embed=8, hidden=8, vocab_size=20))
    model.eval()
    x = torch.randint(0, 20, (6, 2))
    logits, _ = model(x, model.init_hidden(2))
    out, _ = model.features(x, model.init_hidden(2))
    assert torch.equal(model.decoder(out), logits)


def test_unk_noise_reads_rare_words_as_unk_more_often():
    ids = torch.tensor([1, 2] * 5000)
    counts = torch.tensor([float("inf"), 2.0, 1000.0])
    noised = B.unk_noise(ids, counts, 1.0, 0, torch.Generator().manual_seed(0))
    rare = (noised[ids == 1] == 0).float().mean().item()
    common = (noised[ids == 2] == 0).float().mean().item()
    assert rare == pytest.approx(1 / 3, abs=0.03) and common < 0.01
    assert torch.equal(noised[noised != 0], ids[noised != 0])


def test_a_time_budget_without_epochs_fills_the_budget():
    from lyrics_tui.core.config import BUDGET_EPOCHS

    _, train = resolve_settings("default", train_overrides={"time_budget": 120})
    assert train.epochs == BUDGET_EPOCHS and train.time_budget == 120
    _, train = resolve_settings("default", train_overrides={"time_budget": 120, "epochs": 5})
    assert train.epochs == 5
    _, train = resolve_settings("default")
    assert train.epochs < BUDGET_EPOCHS and train.time_budget == 0
