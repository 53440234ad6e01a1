"""Dynamic evaluation (core/adapt.py): a copy learns, the original does not; the stepper and the
whole-text reader agree word for word; a repeated text gets easier."""

from __future__ import annotations

import math

import pytest
import torch

from lyrics_tui.core.adapt import AdaptiveStepper, AdaptSettings, adaptive_read
from lyrics_tui.core.checkpoint import load_checkpoint, model_from_checkpoint
from lyrics_tui.core.errors import SettingsError
from lyrics_tui.core.evaluate import text_ids
from lyrics_tui.core.inspection.score import score_line
from lyrics_tui.core.inspection.subject import Subject
from lyrics_tui.core.tokens import Tokenizer

SONG = ["我想你", "你想我", "我们一起走", "我想你", "你想我", "我们一起走"] * 3


@pytest.fixture(scope="module")
def checkpoint(checkpoint_path):
    return load_checkpoint(checkpoint_path)


def test_adaptive_reading_leaves_the_network_alone_and_helps_a_repeated_text(checkpoint):
    model = model_from_checkpoint(checkpoint)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ids = torch.tensor(text_ids(checkpoint, SONG))
    unk = checkpoint.vocab.unk_id
    adapted = adaptive_read(model, ids, unk, AdaptSettings(lr=3e-3, segment=5))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    from lyrics_tui.core.cache_eval import read_stream

    plain = read_stream(model, ids, unk)
    assert adapted.tokens == plain.tokens
    assert adapted.loss < plain.loss  # the song teaches the network its own chorus
    # the first segment is scored before any learning
    assert adapted.logp[:5] == pytest.approx(plain.logp[:5], abs=1e-5)


def test_the_adaptive_stepper_scores_as_the_whole_text_reader(checkpoint):
    model = model_from_checkpoint(checkpoint)
    settings = AdaptSettings(lr=1e-3, segment=4, method="rms", decay=0.01)
    ids = torch.tensor(text_ids(checkpoint, SONG[:4]))
    whole = adaptive_read(model, ids, checkpoint.vocab.unk_id, settings)
    tokenizer = Tokenizer(checkpoint.train_config.tokenizer)
    subject = Subject(AdaptiveStepper(model, settings), checkpoint.vocab, tokenizer, "adapt")
    scored = score_line(subject, "\n".join(SONG[:4]))
    assert [math.log(w.prob) for w in scored.words] == pytest.approx(whole.logp.tolist(), abs=1e-4)


def test_bad_adapt_settings_are_refused():
    for bad in (
        AdaptSettings(lr=0),
        AdaptSettings(decay=1.0),
        AdaptSettings(segment=0),
        AdaptSettings(method="adam"),
    ):
        with pytest.raises(SettingsError):
            bad.validated()
