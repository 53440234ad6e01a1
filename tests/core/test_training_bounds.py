"""Training within bounds: validation read as streams side by side, song memory fitted on a
bounded stretch, a time budget that covers the whole run, and the network chosen for a corpus,
a budget and a machine (core/training/)."""

from __future__ import annotations

import math

import pytest
import torch

from lyrics_tui.core import batches as B
from lyrics_tui.core import cache_eval
from lyrics_tui.core.checkpoint import load_checkpoint, model_from_checkpoint
from lyrics_tui.core.config import ModelConfig, TrainConfig, resolve_settings, sizes_to_budget
from lyrics_tui.core.evaluate import text_ids
from lyrics_tui.core.events import (
    BatchFinished,
    EndReason,
    EpochFinished,
    Phase,
    PhaseStarted,
    TrainingFinished,
    TrainingStarted,
)
from lyrics_tui.core.trainer import TrainingRun
from lyrics_tui.core.training import sizing, validation
from lyrics_tui.core.training.clock import PhaseCosts, RunClock
from tests.helpers import TickClock, tiny_settings


# -- reading the validation split ------------------------------------------------------------
@pytest.mark.parametrize("positions,streams,burn_in", [(10, 3, 2), (1000, 16, 128), (77, 5, 0)])
def test_the_read_layout_scores_every_position_once_in_order(positions, streams, burn_in):
    read, scored = B.read_layout(positions, streams, burn_in)
    kept = scored[scored >= 0]
    assert sorted(kept.tolist()) == list(range(positions))
    # each stream reads a contiguous stretch, and scores what it reads
    assert torch.equal(torch.where(scored >= 0, read, scored), scored)
    assert bool(((read[1:] - read[:-1]) <= 1).all())


def test_batched_validation_equals_the_one_stream_figure(checkpoint_path, bundled_lines):
    checkpoint = load_checkpoint(checkpoint_path)
    model = model_from_checkpoint(checkpoint)
    ids = torch.tensor(text_ids(checkpoint, bundled_lines[:500]))
    unk = checkpoint.vocab.unk_id
    one = cache_eval.read_stream(model, ids, unk, streams=1)
    many = cache_eval.read_stream(model, ids, unk)
    assert cache_eval.read_streams(len(ids) - 1) > 1  # the text is long enough to batch
    assert many.loss == pytest.approx(one.loss, rel=1e-6)
    assert many.tokens == one.tokens == len(ids) - 1
    assert torch.allclose(many.logp, one.logp, atol=1e-5)
    assert torch.equal(many.targets, one.targets)


def test_only_the_positions_kept_hold_features_but_the_loss_covers_all(
    checkpoint_path, bundled_lines
):
    checkpoint = load_checkpoint(checkpoint_path)
    model = model_from_checkpoint(checkpoint)
    ids = torch.tensor(text_ids(checkpoint, bundled_lines[:300]))
    whole = cache_eval.read_stream(model, ids, checkpoint.vocab.unk_id)
    part = cache_eval.read_stream(model, ids, checkpoint.vocab.unk_id, keep=100)
    assert part.tokens == 100 and part.loss_tokens == whole.tokens
    assert part.loss == whole.loss
    assert torch.equal(part.logp, whole.logp[:100])
    head = whole.head(100)
    assert head.loss == pytest.approx(-float(whole.logp[:100].mean()))


# -- song memory's fit on a bounded stretch ----------------------------------------------------
def _song(verses: int = 4, length: int = 30, seed: int = 0) -> cache_eval.StreamFeatures:
    """A text of songs that each sing a verse twice: states and words recur at one distance."""
    generator = torch.Generator().manual_seed(seed)
    hidden, targets = [], []
    for _ in range(verses):
        state = torch.randn(length, 8, generator=generator)
        words = torch.randint(1, 30, (length,), generator=generator)
        hidden += [state, state + 0.05 * torch.randn(length, 8, generator=generator)]
        targets += [words, words]
    total = 2 * verses * length
    return cache_eval.StreamFeatures(
        hidden=torch.cat(hidden),
        logp=torch.full((total,), math.log(1 / 30), dtype=torch.float64),
        log_known=torch.full((total,), math.log(29 / 30), dtype=torch.float64),
        targets=torch.cat(targets),
        loss=math.log(30),
        unk_id=0,
    )


def test_the_fit_on_a_bounded_stretch_picks_the_settings_of_the_whole_text():
    text = _song()
    whole = cache_eval.fit_cache(text)
    bounded = cache_eval.fit_cache(text.head(text.tokens // 2))
    assert whole is not None and bounded is not None and whole.settings.on
    assert bounded.settings.window == whole.settings.window
    assert bounded.settings.theta == pytest.approx(whole.settings.theta, rel=0.5)
    assert bounded.settings.lam == pytest.approx(whole.settings.lam, abs=0.1)
    assert bounded.tokens == text.tokens // 2


def test_the_fit_stops_at_its_deadline_with_the_best_found_so_far():
    text = _song()
    ticks = iter(range(1000))
    fit = cache_eval.fit_cache(text, deadline=0.5, timer=lambda: next(ticks))
    assert fit is not None and fit.settings.on  # one sharpness tried, the usual one
    full = cache_eval.fit_cache(text)
    assert full is not None and full.cache_ppl <= fit.cache_ppl


def test_the_stretches_are_bounded_and_said():
    small = validation.stretches(5_000)
    assert (small.read, small.quick, small.fit) == (5_000, validation.QUICK_TOKENS, 5_000)
    assert not small.bounded and small.about() == "all 5,000 validation tokens"
    large = validation.stretches(1_000_000, 30_000)
    assert large.read == 30_000 and large.fit == validation.FIT_TOKENS and large.bounded
    assert large.about() == "the first 30,000 of 1,000,000 validation tokens"
    assert validation.stretches(0).read == 0


# -- the budget covers the whole run -----------------------------------------------------------
def test_a_budget_ends_training_in_time_for_validation_the_fit_and_the_saves(
    tmp_path, bundled_lines, monkeypatch
):
    import lyrics_tui.core.trainer as trainer_module

    clock = TickClock(0.001)
    # what each phase costs, whatever the machine: a step, a validation, a trial of the fit's
    # grid, a save
    for owner, name, seconds in (
        (TrainingRun, "_step", 0.5),
        (validation, "validate", 1.0),
        (cache_eval, "_trial_nlls", 0.3),
        (trainer_module, "save_checkpoint", 0.2),
    ):
        real = getattr(owner, name)

        def spending(*args, real=real, seconds=seconds, **kwargs):
            clock.spend(seconds)
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, spending)
    model, train = tiny_settings(train={"epochs": 10_000, "time_budget": 60.0})
    events: list = []
    run = TrainingRun(
        bundled_lines[:900],
        bundled_lines[900:],
        model,
        train,
        out_path=tmp_path / "m.pt",
        sink=events.append,
        timer=clock,
    )
    finished = run.run()
    kinds = [type(e).__name__ for e in events]
    assert finished.reason is EndReason.TIME_BUDGET and not finished.reason.failed
    phases = [e.phase for e in events if isinstance(e, PhaseStarted)]
    assert phases[-3:] == [Phase.VALIDATING, Phase.FITTING, Phase.SAVING]
    last_batch = max(i for i, k in enumerate(kinds) if k == "BatchFinished")
    assert isinstance(events[-1], TrainingFinished)
    # training stopped early enough for what follows it, and the whole run kept its budget
    assert events[last_batch].elapsed_s < 60.0 - 1.0 - 0.3 - 0.2
    assert 55.0 < finished.elapsed_s <= 60.0
    assert finished.cache_val_ppl is not None  # the fit ran, within the budget
    assert run.elapsed_s == 60.0  # recorded as spent: continuing goes on for another budget


def test_a_budget_shorter_than_its_phases_trains_one_batch_and_ends_soon_after(
    tmp_path, bundled_lines, monkeypatch
):
    clock = TickClock(0.001)
    real_step, real_read = TrainingRun._step, cache_eval.read_stream

    def step(*args, **kwargs):
        clock.spend(0.5)
        return real_step(*args, **kwargs)

    def read(model, ids, *args, **kwargs):  # a millisecond a token, the start's probe included
        clock.spend(0.001 * (len(ids) - 1))
        return real_read(model, ids, *args, **kwargs)

    monkeypatch.setattr(TrainingRun, "_step", step)
    monkeypatch.setattr(cache_eval, "read_stream", read)
    model, train = tiny_settings(train={"epochs": 10_000, "time_budget": 2.0})
    events: list = []
    run = TrainingRun(
        bundled_lines[:600],
        bundled_lines[600:700],
        model,
        train,
        out_path=tmp_path / "m.pt",
        sink=events.append,
        timer=clock,
    )
    validation_s = 0.001 * (len(run.data.val_ids) - 1)
    assert 0.5 < validation_s < 2.0
    finished = run.run()
    batches = [e for e in events if isinstance(e, BatchFinished)]
    assert finished.reason is EndReason.TIME_BUDGET and finished.epochs == 1
    assert len(batches) == 1  # what must follow training outgrew the budget: one batch
    assert (tmp_path / "m.pt").exists() and (tmp_path / "m-last.pt").exists()
    # past the budget by at most the one validation the batch needs: no training to catch up
    assert finished.elapsed_s <= 2.0 + validation_s + 0.1


def test_song_memory_is_fitted_on_its_bounded_stretch_and_the_figures_say_so(
    tmp_path, bundled_lines, monkeypatch
):
    monkeypatch.setattr(validation, "QUICK_TOKENS", 150)
    monkeypatch.setattr(validation, "FIT_TOKENS", 300)
    model, train = tiny_settings(train={"epochs": 1})
    events: list = []
    run = TrainingRun(bundled_lines[:600], bundled_lines[600:], model, train, sink=events.append)
    finished = run.run()
    started = next(e for e in events if isinstance(e, TrainingStarted))
    assert started.val_tokens > 1_000  # the split is longer than the stretches
    assert started.val_read == finished.val_tokens == started.val_tokens - 1  # read whole
    assert started.cache_read == 150  # the per-epoch figure's
    assert finished.cache_tokens == 300 and finished.cache_val_ppl is not None


def test_a_run_clock_leaves_paused_time_out():
    clock = RunClock(10.0, spent_before=2.0, timer=TickClock(1.0))
    with clock.paused():
        pass
    # read once when made, twice around the pause (not counted), once now
    assert clock.elapsed() == pytest.approx(2.0 + 3.0 - 1.0)
    assert clock.left() == pytest.approx(10.0 - clock.elapsed(), abs=1.0)
    assert RunClock(0.0).left() == math.inf
    assert PhaseCosts(1.0, 2.0, 0.5).reserve() > 1.0 + 2.0 + 2 * 0.5


# -- the network chosen for the corpus, the budget and the machine ------------------------------
PRESET = resolve_settings("default")[0]


def rates(speed_at_512: float):
    """Tokens/s that grow as the network shrinks, as on any CPU."""
    return lambda hidden: speed_at_512 * (512 / hidden) ** 0.8


@pytest.mark.parametrize("tokens", [0, 1, 50, 10**12])
@pytest.mark.parametrize("budget", [1.0, 120.0, 3600.0])
@pytest.mark.parametrize("speed", [0.0, 1e4, math.inf])
def test_the_chooser_stays_within_its_bounds(tokens, budget, speed):
    chosen = sizing.choose(PRESET, tokens, budget, rates(speed))
    assert chosen.hidden in sizing.SIZES
    assert sizing.DROPOUT_FLOOR * PRESET.dropout - 1e-9 <= chosen.dropout <= PRESET.dropout
    config = sizing.sized(PRESET, chosen)
    assert config.embed == config.hidden == chosen.hidden and config.tie_weights
    assert chosen.describe(PRESET)


def test_larger_corpora_get_smaller_networks_and_larger_budgets_larger_ones():
    speed = rates(10_000)
    by_tokens = [sizing.choose(PRESET, n, 120, speed) for n in (2e4, 2e5, 2e6, 2e7)]
    by_budget = [sizing.choose(PRESET, 4e6, b, speed) for b in (10, 60, 600, 6000, 60000)]
    assert [c.hidden for c in by_tokens] == sorted((c.hidden for c in by_tokens), reverse=True)
    assert [c.hidden for c in by_budget] == sorted(c.hidden for c in by_budget)
    assert by_budget[0].hidden < by_budget[-1].hidden == PRESET.hidden
    assert by_tokens[0].hidden == PRESET.hidden and by_tokens[0].dropout == PRESET.dropout
    assert by_tokens[-1].hidden < PRESET.hidden and by_tokens[-1].dropout < PRESET.dropout
    assert [c.dropout for c in by_tokens] == sorted((c.dropout for c in by_tokens), reverse=True)


def test_a_corpus_and_a_budget_grown_together_get_a_network_no_smaller_and_less_regularised():
    speed = rates(10_000)
    grown = [sizing.choose(PRESET, 4e4 * k, 120 * k, speed) for k in (1, 1.5, 2, 20, 200)]
    assert [c.hidden for c in grown] == sorted(c.hidden for c in grown)
    assert [c.dropout for c in grown] == sorted((c.dropout for c in grown), reverse=True)
    assert grown[-1].dropout < grown[2].dropout < grown[1].dropout < grown[0].dropout
    # as the budget grows on one corpus, the network grows to the preset's
    small = sizing.choose(PRESET, 4e6, 20, speed)
    large = sizing.choose(PRESET, 4e6, 20_000, speed)
    assert small.hidden < large.hidden == PRESET.hidden


def test_a_corpus_the_size_of_the_tutorials_keeps_the_preset_on_any_machine_that_can_train_it():
    for speed in (2_000, 10_000, 100_000):  # the budget holds 5, 24 and 240 epochs
        chosen = sizing.choose(PRESET, 37_365, 120, rates(speed))
        assert (chosen.hidden, chosen.dropout) == (PRESET.hidden, PRESET.dropout)


def test_a_machine_half_as_fast_gets_a_network_it_can_train_in_the_budget():
    fast = sizing.choose(PRESET, 400_000, 120, rates(20_000))
    slow = sizing.choose(PRESET, 400_000, 120, rates(10_000))
    assert slow.hidden <= fast.hidden and slow.epochs >= min(fast.epochs, sizing.MIN_EPOCHS)


def test_only_the_sizes_needed_are_timed():
    asked: list[int] = []

    def rate_of(hidden: int) -> float:
        asked.append(hidden)
        return 1e9

    sizing.choose(PRESET, 40_000, 120, rate_of)
    assert asked == [PRESET.hidden]  # a small corpus: the preset's network holds, nothing else


def test_the_speed_between_two_timed_sizes_is_estimated_between_them():
    first, second = (512, 10_000.0), (128, 40_000.0)
    for hidden in (192, 256, 384):
        rate = sizing.estimated_rate(PRESET, 5_000, hidden, first, second)
        assert 10_000 < rate < 40_000
    assert sizing.estimated_rate(PRESET, 5_000, 512, first, second) == pytest.approx(10_000)


def test_when_the_network_is_chosen():
    _, budget = resolve_settings("default", None, {"time_budget": 120})
    _, epochs = resolve_settings("default", None, {"time_budget": 120, "epochs": 8})
    assert sizes_to_budget("default", {"hidden": None}, budget)
    assert not sizes_to_budget("default", {"hidden": 256}, budget)  # a size was given
    assert not sizes_to_budget("default", {}, epochs)  # epochs end it, not the budget
    assert not sizes_to_budget("tutorial", {}, budget)
    assert not sizes_to_budget("default", {}, TrainConfig())  # no budget


def test_a_sized_run_trains_and_records_the_network_it_chose(tmp_path, bundled_lines):
    model = ModelConfig(cell="gru", embed=256, hidden=256, dropout=0.5, tie_weights=True)
    _, train = tiny_settings(train={"epochs": 10_000, "time_budget": 3.0})
    events: list = []
    run = TrainingRun(
        bundled_lines[:900],
        bundled_lines[900:],
        model,
        train,
        sink=events.append,
        size_to_budget=True,
    )
    finished = run.run()
    started = next(e for e in events if isinstance(e, TrainingStarted))
    assert run.sizing is not None and started.sized and started.model is not None
    assert started.model["hidden"] == run.model_config.hidden == run.sizing.hidden
    assert run.model_config.hidden in sizing.SIZES and run.model_config.hidden <= 256
    assert any(isinstance(e, BatchFinished) for e in events)
    assert any(isinstance(e, EpochFinished) for e in events)
    assert finished.reason in (EndReason.TIME_BUDGET, EndReason.COMPLETED)
