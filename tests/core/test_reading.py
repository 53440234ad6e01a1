"""TextReader: a text read with its input projection made once per distinct word gives the
model's own states and scores."""

from __future__ import annotations

import pytest
import torch

from lyrics_tui.core.config import ModelConfig
from lyrics_tui.core.model import RNNLanguageModel
from lyrics_tui.core.reading import TextReader

WORDS = ["<unk>", "\n", "我", "你", "天空", "回来", "风", "在", "离开", "云", "a", "爱"]


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("characters", [False, True])
def test_a_read_text_has_the_models_own_states_and_scores(cell, layers, characters):
    torch.manual_seed(0)
    config = ModelConfig(
        cell=cell,
        embed=16,
        hidden=16,
        layers=layers,
        dropout=0.3,
        vocab_size=len(WORDS),
        characters=characters,
    )
    model = RNNLanguageModel(config, WORDS).eval()
    inputs = torch.randint(0, len(WORDS), (23, 3))  # 23 positions of 3 streams
    with torch.no_grad():
        want, want_state = model.features(inputs, model.init_hidden(3, "cpu"))
        reader = TextReader(model, inputs)
        state = model.init_hidden(3, "cpu")
        pieces = []
        for a in range(0, 23, 5):  # read in pieces, the state carried between them
            out, state = reader.features(a, a + 5, state)
            pieces.append(out)
        got = torch.cat(pieces)
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
        for mine, theirs in zip(
            state if cell == "lstm" else (state,),
            want_state if cell == "lstm" else (want_state,),
            strict=True,
        ):
            torch.testing.assert_close(mine, theirs, rtol=1e-6, atol=1e-6)
        flat = got.reshape(-1, config.hidden)
        torch.testing.assert_close(reader.scores(flat), model.decoder(flat), rtol=1e-6, atol=1e-6)
