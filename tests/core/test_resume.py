"""The one rule for continuing a checkpoint (core/resume.py), used by the CLI and the playground."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lyrics_tui.core.checkpoint import load_checkpoint
from lyrics_tui.core.errors import SettingsError
from lyrics_tui.core.resume import plan_continuation


@pytest.fixture
def finished(trained):
    """A checkpoint whose run reached its planned end (2 of 2 epochs)."""
    checkpoint = load_checkpoint(trained["last"])
    assert checkpoint.epoch == checkpoint.train_config.epochs == 2
    return checkpoint


def test_a_finished_run_goes_on_for_more_epochs(finished):
    plan = plan_continuation(finished, {"epochs": None}, more_epochs=5)
    assert (plan.done_epochs, plan.end_epoch, plan.more_epochs) == (2, 7, 5)
    assert plan.train_config.epochs == 7
    assert plan.note.startswith("continuing from epoch 2 to epoch 7 (5 more")


def test_an_unfinished_run_finishes_its_plan(finished):
    stopped = replace(finished, train_config=replace(finished.train_config, epochs=6))
    plan = plan_continuation(stopped, {}, more_epochs=50)
    assert plan.end_epoch == 6


def test_epochs_given_count_every_epoch(finished):
    assert plan_continuation(finished, {"epochs": 3}, more_epochs=50).end_epoch == 3
    with pytest.raises(SettingsError) as info:
        plan_continuation(finished, {"epochs": 2}, more_epochs=8)
    assert info.value.settings == ["epochs", "epochs"]
    assert "(e.g. --epochs 10)" in info.value.render(lambda name: "--" + name)
    assert "(e.g. epochs 10)" in str(info.value)


def test_a_spent_time_budget_is_renewed_unless_given(finished):
    spent = replace(finished, train_config=replace(finished.train_config, time_budget=1.0))
    spent.elapsed_s = 3.0
    plan = plan_continuation(spent, {}, more_epochs=1)
    assert plan.train_config.time_budget == pytest.approx(4.0)  # another session as long
    with pytest.raises(SettingsError, match="time-budget"):
        plan_continuation(spent, {"time_budget": 2.0}, more_epochs=1)
    assert (
        plan_continuation(spent, {"time_budget": 0.0}, more_epochs=1).train_config.time_budget == 0
    )


def test_a_budget_filled_but_for_its_reserve_is_renewed_not_continued_for_a_second(finished):
    # a 15 s run stops at 14.4 s to leave its end phases their time: t must not offer "0 s more"
    from lyrics_tui.core.config import BUDGET_EPOCHS

    config = replace(finished.train_config, epochs=BUDGET_EPOCHS, time_budget=15.0)
    filled = replace(finished, train_config=config)
    filled.elapsed_s = 14.4
    plan = plan_continuation(filled, {}, more_epochs=24)
    assert plan.train_config.time_budget == pytest.approx(29.4)
    assert plan.seconds_left == pytest.approx(15.0)
    filled.elapsed_s = 13.0  # stopped by hand with 2 s left: those 2 s are what is left
    assert plan_continuation(filled, {}, more_epochs=24).seconds_left == pytest.approx(2.0)


def test_given_settings_override_the_stored_ones_and_are_checked(finished):
    plan = plan_continuation(finished, {"lr": 0.5, "batch_size": None}, more_epochs=1)
    assert plan.train_config.lr == 0.5
    assert plan.train_config.batch_size == finished.train_config.batch_size
    with pytest.raises(SettingsError, match="lr"):
        plan_continuation(finished, {"lr": -1.0}, more_epochs=1)


def test_a_run_that_fills_its_budget_continues_for_the_time_left_not_to_epoch_10000(finished):
    from lyrics_tui.core.config import BUDGET_EPOCHS

    config = replace(finished.train_config, epochs=BUDGET_EPOCHS, time_budget=120.0)
    stopped = replace(finished, train_config=config)
    stopped.elapsed_s = 34.0
    plan = plan_continuation(stopped, {}, more_epochs=24)
    assert plan.by_budget and plan.seconds_left == pytest.approx(86.0)
    assert plan.extent == "for up to 86 s more (a 120 s budget in all)"
    assert plan.note == "continuing from epoch 2 for up to 86 s more (a 120 s budget in all)"
    assert not plan_continuation(finished, {}, more_epochs=5).by_budget  # epochs end it


def test_the_best_file_leads_to_its_runs_latest_state_further_on(finished, tmp_path):
    """x.pt holds a run's best epoch (1 here), x-last.pt the same run at epoch 2: continuing
    from x.pt would lose the epoch in between (a playground quit leaves exactly this)."""
    from lyrics_tui.core.checkpoint import save_checkpoint
    from lyrics_tui.core.resume import latest_state_of

    best = replace(finished, epoch=1, history=finished.history[:1])
    save_checkpoint(best, tmp_path / "x.pt")
    save_checkpoint(finished, tmp_path / "x-last.pt")
    best_read = load_checkpoint(tmp_path / "x.pt")
    latest = latest_state_of(best_read)
    assert latest is not None and latest.epoch == 2 and latest.path.endswith("x-last.pt")
    assert latest.model_state == {}  # kept without its weights: the trainer reads the file
    assert latest_state_of(load_checkpoint(tmp_path / "x-last.pt")) is None  # is the latest
    assert plan_continuation(latest, {}, more_epochs=3).done_epochs == 2

    other = replace(
        finished, history=[{**finished.history[0], "val_loss": 1.0}, *finished.history[1:]]
    )
    save_checkpoint(other, tmp_path / "x-last.pt")  # another run's latest state
    assert latest_state_of(best_read) is None
    (tmp_path / "x-last.pt").write_bytes(b"not a checkpoint")
    assert latest_state_of(best_read) is None
    save_checkpoint(
        replace(finished, epoch=1, history=finished.history[:1]), tmp_path / "x-last.pt"
    )
    assert latest_state_of(best_read) is None  # no further than the best


def test_what_built_the_vocabulary_or_the_network_cannot_change(finished):
    """A tokenizer switched on resume read words against a table of characters (55% <unk>);
    a network flag was ignored without a word."""
    with pytest.raises(SettingsError, match=r"^tokenizer cannot change when a model is continued"):
        plan_continuation(finished, {"tokenizer": "char"}, more_epochs=1)
    cell = "gru" if finished.model_config.cell != "gru" else "lstm"
    with pytest.raises(SettingsError, match=r"^cell cannot change .* \(it was"):
        plan_continuation(finished, {}, more_epochs=1, model_overrides={"cell": cell})
    same = {"cell": finished.model_config.cell, "hidden": None}  # the same, or not given
    tok = {"tokenizer": finished.train_config.tokenizer}
    assert plan_continuation(finished, tok, more_epochs=1, model_overrides=same).end_epoch == 3
