"""core/inspection.py on real (tiny) networks: checkpoints read with numpy, live training
snapshots, agreement with `lyrics-tui eval`, and the tutorial-windows preset's sampling."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lyrics_tui.core.checkpoint import Checkpoint, save_checkpoint
from lyrics_tui.core.config import resolve_settings
from lyrics_tui.core.corpus import BUNDLED_CORPUS, read_corpus
from lyrics_tui.core.evaluate import evaluate_lines
from lyrics_tui.core.inspection.hidden import hidden_trace
from lyrics_tui.core.inspection.neighbours import neighbours
from lyrics_tui.core.inspection.score import score_line
from lyrics_tui.core.inspection.step import StepThrough
from lyrics_tui.core.inspection.subject import (
    Subject,
    load_subject,
    subject_from_run,
    subject_from_state,
)
from lyrics_tui.core.model import RNNLanguageModel
from lyrics_tui.core.sampling import SamplerSettings
from lyrics_tui.core.steppers import TorchStepper
from lyrics_tui.core.tokens import Tokenizer
from lyrics_tui.core.trainer import TrainingRun
from tests.helpers import hand_built_checkpoint

LINES = read_corpus(BUNDLED_CORPUS).lines[:60]


def tiny_checkpoint(tmp_path: Path, cell: str = "lstm") -> tuple[Checkpoint, RNNLanguageModel]:
    return hand_built_checkpoint(tmp_path / f"tiny-{cell}.pt", cell)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_score_line_perplexity_agrees_with_eval(tmp_path, cell):
    checkpoint, _ = tiny_checkpoint(tmp_path, cell)
    subject = load_subject(checkpoint.path)
    text = "\n".join(LINES[50:53])
    score = score_line(subject, text)
    result = evaluate_lines(checkpoint, LINES[50:53])
    assert len(score.words) == result.tokens
    assert sum(1 for w in score.words if not w.known) == result.unknown
    assert score.perplexity == pytest.approx(result.perplexity, rel=1e-4)


def test_checkpoint_and_live_model_give_the_same_numbers(tmp_path):
    checkpoint, model = tiny_checkpoint(tmp_path)
    from_file = load_subject(checkpoint.path)
    live = Subject(TorchStepper(model), checkpoint.vocab, Tokenizer("char"), "live")
    line = LINES[55]
    a, b = score_line(from_file, line), score_line(live, line)
    assert [w.prob for w in a.words] == pytest.approx([w.prob for w in b.words], rel=1e-4)
    word = next(t for t in checkpoint.vocab.tokens[2:] if t.strip())
    na, nb = neighbours(from_file, word, 5), neighbours(live, word, 5)
    assert [n.text for n in na.neighbours] == [n.text for n in nb.neighbours]
    settings = SamplerSettings(temperature=0)
    ta, tb = (
        hidden_trace(from_file, line[:3], 5, settings),
        hidden_trace(live, line[:3], 5, settings),
    )
    assert ta.text == tb.text
    assert [s.h.norm for s in ta.steps] == pytest.approx([s.h.norm for s in tb.steps], rel=1e-4)
    assert all(s.c is not None for s in ta.steps)
    # an LSTM's h is bounded by 1; the hand-made h strip is scaled by exactly 1
    assert all(s.h.max_abs <= 1.0 and s.h.scale == 1.0 for s in ta.steps)


def test_step_back_restores_the_network_state(tmp_path):
    checkpoint, _ = tiny_checkpoint(tmp_path)
    walk = StepThrough(load_subject(checkpoint.path), SamplerSettings(temperature=1.0, seed=2))
    first = walk.current
    walk.sample()
    walk.sample()
    walk.back()
    walk.back()
    assert walk.current == first
    again = walk.choose(1)
    assert again.text == first.candidates[0].text


def test_snapshot_of_a_training_run(tmp_path):
    model_cfg, train_cfg = resolve_settings(
        "default",
        {"cell": "gru", "embed": 8, "hidden": 8, "tie_weights": False},
        {"tokenizer": "char", "epochs": 1},
    )
    run = TrainingRun(LINES[:50], LINES[50:], model_cfg, train_cfg)
    subject = subject_from_run(run)
    assert subject.cell == "gru" and subject.hidden_size == 8
    state = run.snapshot_state()
    again = subject_from_state(run.model_config, state, run.vocab, "char")
    line = LINES[51]
    assert score_line(subject, line).perplexity == pytest.approx(score_line(again, line).perplexity)


def test_wrong_shaped_checkpoint_is_one_line(tmp_path):
    checkpoint, _ = tiny_checkpoint(tmp_path)
    state = dict(checkpoint.model_state)
    state["embedding.weight"] = state["embedding.weight"][:, :3]
    bad = Checkpoint(checkpoint.model_config, checkpoint.train_config, checkpoint.vocab, state)
    path = save_checkpoint(bad, tmp_path / "bad.pt")
    from lyrics_tui.core.errors import LyricsError

    with pytest.raises(LyricsError) as info:
        load_subject(path)
    assert "\n" not in str(info.value)


# -- the overfitting lesson: the tutorial's windows ----------------------------------------
def test_tutorial_windows_preset_is_the_tutorials_sampling():
    model_cfg, train_cfg = resolve_settings("tutorial-windows")
    assert (model_cfg.cell, model_cfg.embed, model_cfg.hidden) == ("rnn", 128, 256)
    assert (train_cfg.windowing, train_cfg.batch_size, train_cfg.bptt) == ("tutorial", 5, 32)
    assert (train_cfg.optimizer, train_cfg.lr, train_cfg.epochs) == ("adam", 1e-3, 10)

    from lyrics_tui.core.batches import tutorial_windows

    n = 32 * 40 + 7
    ids = torch.arange(n)  # each id is its own position, so x shows where a window starts
    seen = []
    for x, y in tutorial_windows(ids, 32, 5, torch.Generator().manual_seed(0)):
        assert x.shape == (32, 5) and torch.equal(y, x + 1)
        assert torch.equal(x, x[0][None, :] + torch.arange(32)[:, None])  # contiguous windows
        seen.extend(x[0].tolist())
    # starts run over only the first n // 32 positions: the first 1/32 of the corpus
    assert max(seen) < n // 32 and len(seen) == len(set(seen)) == (n // 32) // 5 * 5


def _record_training_hidden(run):
    """Wrap the model's forward to record, for each training call, whether the hidden state
    passed in was all zeros and the batch width."""
    calls = []
    forward = run.model.forward

    def recording(inputs, hidden, *targets):
        h = hidden[0] if isinstance(hidden, tuple) else hidden
        if torch.is_grad_enabled():  # training; validation runs under no_grad
            calls.append((bool(torch.count_nonzero(h) == 0), inputs.size(1)))
        return forward(inputs, hidden, *targets)

    run.model.forward = recording
    return calls


@pytest.mark.parametrize("windowing", ["tutorial", "streams"])
def test_hidden_state_reset_every_batch_only_with_tutorial_windows(windowing):
    model_cfg, train_cfg = resolve_settings(
        "tutorial-windows",
        {"embed": 8, "hidden": 8},
        {"tokenizer": "char", "epochs": 1, "windowing": windowing, "bptt": 8, "min_count": 1},
    )
    run = TrainingRun(LINES[:50], LINES[50:], model_cfg, train_cfg)
    calls = _record_training_hidden(run)
    finished = run.run()
    assert finished.reason == "completed" and len(calls) > 3
    assert all(width == 5 for _, width in calls)
    zero = [z for z, _ in calls]
    if windowing == "tutorial":
        assert all(zero)  # a fresh zero state for every batch of 5 windows
    else:
        assert zero[0] and not any(zero[1:])  # the state flows on from batch to batch
