"""Words read through their characters: a training-time feature that leaves every checkpoint a
plain Embedding -> RNN -> Linear network."""

from __future__ import annotations

import threading

import pytest
import torch

from lyrics_tui.core.config import ModelConfig
from lyrics_tui.core.model import RNNLanguageModel, character_bags
from lyrics_tui.core.training.weights import WeightAverage

WORDS = ["<unk>", "<eol>", "月光", "月", "光", "hello", "思念", "念", "ok好"]


def config(**over) -> ModelConfig:
    base = dict(cell="gru", embed=8, hidden=8, tie_weights=True, characters=True)
    return ModelConfig(**{**base, "vocab_size": len(WORDS), **over})


def test_bags_hold_each_words_han_characters_with_shared_ids():
    bags = character_bags(WORDS)
    assert bags is not None
    chars, starts, count = bags
    ends = [*starts[1:].tolist(), len(chars)]
    per_word = [chars[a:b].tolist() for a, b in zip(starts.tolist(), ends, strict=True)]
    assert per_word[0] == per_word[1] == per_word[5] == []  # no Han character: nothing
    assert per_word[2] == [per_word[3][0], per_word[4][0]]  # 月光 = 月 + 光, the same ids
    assert per_word[8] == [count - 1]  # ok好: its one Han character
    assert count == 5  # 月 光 思 念 好


def test_a_character_vocabulary_has_no_bags():
    assert character_bags(["<unk>", "月", "光", "a"]) is None
    model = RNNLanguageModel(config(vocab_size=4), ["<unk>", "月", "光", "a"])
    assert model.characters is None


def test_a_word_vector_adds_its_characters_mean():
    model = RNNLanguageModel(config(), WORDS)
    assert model.characters is not None
    vectors = model.word_vectors()
    table = model.characters.weight
    chars, starts, _ = character_bags(WORDS)
    moon, light = chars[starts[2] : starts[3]].tolist()
    expected = model.embedding.weight[2] + (table[moon] + table[light]) / 2
    torch.testing.assert_close(vectors[2], expected)
    torch.testing.assert_close(vectors[0], model.embedding.weight[0])  # <unk>: its own alone


@pytest.mark.parametrize("tied", [True, False])
def test_the_saved_state_is_a_plain_network_that_scores_the_same(tied):
    torch.manual_seed(0)
    trained = RNNLanguageModel(config(tie_weights=tied), WORDS).eval()
    plain = RNNLanguageModel(config(tie_weights=tied)).eval()  # a checkpoint's reader
    assert plain.characters is None
    plain.load_state_dict(trained.state_dict())
    x = torch.tensor([[2], [6], [8], [3]])
    with torch.no_grad():
        want, _ = trained(x, trained.init_hidden(1))
        got, _ = plain(x, plain.init_hidden(1))
    torch.testing.assert_close(got, want)


def test_a_saved_state_trains_on_from_the_same_word_and_character_vectors():
    torch.manual_seed(0)
    first = RNNLanguageModel(config(), WORDS)
    again = RNNLanguageModel(config(), WORDS)
    again.load_state_dict(first.state_dict())
    torch.testing.assert_close(again.embedding.weight, first.embedding.weight)
    torch.testing.assert_close(again.characters.weight, first.characters.weight)


def test_gradients_reach_the_characters_from_both_sides():
    model = RNNLanguageModel(config(), WORDS)
    x, y = torch.tensor([[2], [3]]), torch.tensor([[3], [6]])
    loss, _ = model(x, model.init_hidden(1), y)
    loss.backward()
    grad = model.characters.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    assert grad[3].abs().sum() > 0  # 思 only appears in a target (思念): the tied output side


def test_the_averaged_weights_are_saved_folded():
    model = RNNLanguageModel(config(), WORDS)
    average = WeightAverage(model, 0.5)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    average.update(100)
    state = average.state()
    with average.swapped_in(threading.Lock()):
        want = {k: v.detach().clone() for k, v in model.state_dict().items()}
    assert set(state) == set(want)
    for key in want:
        torch.testing.assert_close(state[key], want[key])
    torch.testing.assert_close(state["decoder.weight"], state["embedding.weight"])


def test_a_network_shrunk_for_a_large_corpus_trains_without_characters():
    from lyrics_tui.core.training.sizing import Sizing, sized

    preset = config(embed=512, hidden=512, dropout=0.75)
    kept = sized(preset, Sizing(512, 0.75, 20.0, 9000.0, 20.0))
    shrunk = sized(preset, Sizing(256, 0.15, 1.0, 9000.0, 0.3))
    assert kept.characters and kept.hidden == 512
    assert not shrunk.characters and shrunk.hidden == 256
    assert not sized(
        config(characters=False, hidden=512, embed=512), Sizing(512, 0.75, 20.0, 1.0, 20.0)
    ).characters
