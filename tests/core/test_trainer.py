"""The training run: events, learning, control from another thread, budgets, checkpoints, resume,
divergence."""

from __future__ import annotations

import math
import threading

import pytest
import torch

from lyrics_tui.core.checkpoint import load_checkpoint
from lyrics_tui.core.errors import CheckpointError, CorpusError, SettingsError
from lyrics_tui.core.events import (
    BatchFinished,
    CheckpointSaved,
    EndReason,
    EpochFinished,
    TrainingFinished,
    TrainingPaused,
    TrainingResumed,
    TrainingStarted,
)
from lyrics_tui.core.paths import last_checkpoint_path
from lyrics_tui.core.trainer import TrainingRun
from tests.helpers import JAYCHOU, TickClock, tiny_settings

REPETITIVE = ["我爱你 你爱我", "风在走 天在走", "我们一起唱"] * 30


def test_events_arrive_in_order(trained):
    events = trained["events"]
    assert isinstance(events[0], TrainingStarted) and isinstance(events[-1], TrainingFinished)
    assert sum(isinstance(e, (TrainingStarted, TrainingFinished)) for e in events) == 2
    started = events[0]
    assert started.start_epoch == 0 and started.vocab_size == len(trained["run"].vocab)
    epochs = [e for e in events if isinstance(e, EpochFinished)]
    assert [e.epoch for e in epochs] == [1, 2]
    for epoch in epochs:
        i = events.index(epoch)
        batches = [e for e in events[:i] if isinstance(e, BatchFinished) and e.epoch == epoch.epoch]
        assert batches, "no progress before the epoch ended"
        assert batches[-1].batch == batches[-1].batches == started.batches_per_epoch
        assert [b.batch for b in batches] == sorted(b.batch for b in batches)
        assert all(math.isfinite(b.loss) for b in batches)
        if epoch.is_best:  # the best checkpoint is saved right after the epoch that earned it
            saved = events[i + 1]
            assert isinstance(saved, CheckpointSaved) and saved.epoch == epoch.epoch
    assert epochs[0].val_ppl == pytest.approx(math.exp(epochs[0].val_loss))
    assert all(e.tokens_per_s > 0 and e.elapsed_s > 0 for e in epochs)
    assert epochs[1].elapsed_s > epochs[0].elapsed_s


def test_loss_falls_on_a_tiny_repetitive_corpus():
    model_cfg, train_cfg = tiny_settings(
        model={"cell": "gru", "embed": 24, "hidden": 24},
        train={"epochs": 8, "tokenizer": "char", "min_count": 1, "lr": 2e-2},
    )
    epochs: list[EpochFinished] = []
    run = TrainingRun(
        REPETITIVE[:-6],
        REPETITIVE[-6:],
        model_cfg,
        train_cfg,
        sink=lambda e: epochs.append(e) if isinstance(e, EpochFinished) else None,
    )
    assert run.run().reason == "completed"
    assert len(epochs) == 8
    assert epochs[-1].train_loss < 0.5 * epochs[0].train_loss
    assert epochs[-1].val_ppl < 3.0  # the pattern is learned, not just the word frequencies


def test_pause_resume_and_stop_from_another_thread(small_lines):
    model_cfg, train_cfg = tiny_settings(train={"epochs": 10_000})
    seen = {name: threading.Event() for name in ("batch", "paused", "resumed")}
    events: list = []

    def sink(event):
        events.append(event)
        if isinstance(event, BatchFinished):
            seen["batch"].set()
        elif isinstance(event, TrainingPaused):
            seen["paused"].set()
        elif isinstance(event, TrainingResumed):
            seen["resumed"].set()

    run = TrainingRun(small_lines[:250], small_lines[250:], model_cfg, train_cfg, sink=sink)
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(done=run.run()), daemon=True)
    worker.start()
    try:
        assert seen["batch"].wait(60)
        run.pause()
        assert seen["paused"].wait(60) and run.paused
        parked = run.snapshot_state()
        count = len(events)
        worker.join(0.3)  # give a broken pause the chance to train on
        assert worker.is_alive()
        assert len(events) == count
        after = run.snapshot_state()
        assert all(torch.equal(parked[k], after[k]) for k in parked)
        run.resume()
        assert seen["resumed"].wait(60) and not run.paused
    finally:
        run.stop()
        worker.join(60)
    assert not worker.is_alive()
    finished = result["done"]
    assert finished.reason == "stopped" and finished.epochs < 10_000
    kinds = [type(e) for e in events]
    assert kinds.index(TrainingPaused) < kinds.index(TrainingResumed)
    assert kinds[-1] is TrainingFinished


def test_stop_while_paused_ends_the_run(small_lines):
    model_cfg, train_cfg = tiny_settings(train={"epochs": 10_000})
    paused = threading.Event()
    run = TrainingRun(
        small_lines[:250],
        small_lines[250:],
        model_cfg,
        train_cfg,
        sink=lambda e: paused.set() if isinstance(e, TrainingPaused) else None,
    )
    run.pause()
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(done=run.run()), daemon=True)
    worker.start()
    assert paused.wait(60)
    run.stop()
    worker.join(60)
    assert result["done"].reason == "stopped" and result["done"].epochs == 0


def test_snapshot_state_is_a_detached_cpu_copy(trained):
    run = trained["run"]
    first = run.snapshot_state()
    key = "embedding.weight"
    assert set(first) == set(run.model.state_dict())
    first[key].zero_()
    second = run.snapshot_state()
    assert second[key].abs().sum() > 0  # zeroing the copy changed nothing in the run
    assert all(t.device.type == "cpu" and not t.requires_grad for t in second.values())


def test_time_budget_stops_the_run(small_lines, monkeypatch):
    # each step costs an eighth of a second on the run's clock, and nothing else takes time:
    # a budget of 3 s holds 24 steps, which end partway through the second epoch
    clock = TickClock(0.0)
    real_step = TrainingRun._step
    steps: list[int] = []

    def step(*args, **kwargs):
        clock.spend(0.125)
        steps.append(1)
        return real_step(*args, **kwargs)

    monkeypatch.setattr(TrainingRun, "_step", step)
    monkeypatch.setattr(TrainingRun, "_save_guess", lambda self: 0.0)  # no file to save
    model_cfg, train_cfg = tiny_settings(train={"epochs": 10_000, "time_budget": 3.0})
    batches: list[BatchFinished] = []
    run = TrainingRun(
        small_lines,
        [],
        model_cfg,
        train_cfg,
        sink=lambda e: batches.append(e) if isinstance(e, BatchFinished) else None,
        timer=clock,
    )
    finished = run.run()
    per_epoch = batches[0].batches
    assert per_epoch < 24 < 2 * per_epoch
    assert finished.reason is EndReason.TIME_BUDGET
    assert len(steps) == 24 and finished.epochs == 2
    assert run.elapsed_s == 3.0


def test_best_and_last_checkpoints_are_saved(trained):
    finished = trained["finished"]
    assert finished.best_checkpoint == str(trained["path"])
    assert finished.last_checkpoint == str(trained["last"])
    assert trained["last"] == last_checkpoint_path(trained["path"])
    best, last = load_checkpoint(trained["path"]), load_checkpoint(trained["last"])
    history = last.history
    assert [h["epoch"] for h in history] == [1, 2] and last.epoch == 2
    # a history row's keys, as checkpoints have always kept them (old ones must keep loading)
    assert list(history[0]) == [
        "epoch",
        "train_loss",
        "val_loss",
        "val_ppl",
        "tokens_per_s",
        "elapsed_s",
        "lr",
        "is_best",
        "cache_val_ppl",
    ]
    best_epoch = min(history, key=lambda h: h["val_loss"])["epoch"]
    assert best.epoch == best_epoch
    assert best.val_ppl == pytest.approx(finished.best_val_ppl)
    assert best.vocab.tokens == trained["run"].vocab.tokens
    assert best.optimizer_state and last.optimizer_state


def test_resume_continues_history_epochs_and_steps(trained, small_lines):
    previous = load_checkpoint(trained["last"])
    model_cfg, train_cfg = tiny_settings(train={"epochs": 4})
    events: list = []
    run = TrainingRun(
        small_lines[:270],
        small_lines[270:],
        model_cfg,
        train_cfg,
        resume=previous,
        sink=events.append,
    )
    assert events == [] and run.epoch == 2 and run.step == previous.step
    finished = run.run()
    assert finished.reason == "completed" and finished.epochs == 4
    assert events[0].start_epoch == 2
    assert [e.epoch for e in events if isinstance(e, EpochFinished)] == [3, 4]
    assert [h["epoch"] for h in run.history] == [1, 2, 3, 4]
    assert run.history[:2] == previous.history
    assert run.elapsed_s > previous.elapsed_s and run.step > previous.step
    assert run.vocab.tokens == previous.vocab.tokens  # never rebuilt from the corpus


def test_resume_with_no_epochs_left_says_how_to_ask_for_more(trained, small_lines):
    model_cfg, train_cfg = tiny_settings(train={"epochs": 2})
    with pytest.raises(SettingsError, match="ask for more") as info:
        TrainingRun(small_lines, [], model_cfg, train_cfg, resume=load_checkpoint(trained["last"]))
    assert info.value.settings == ["epochs", "epochs"]  # each front end names it its own way


def test_resume_from_weights_that_do_not_fit_is_one_line(trained, small_lines):
    broken = load_checkpoint(trained["last"])
    broken.model_state["rnn.weight_hh_l0"] = torch.zeros(3, 3)
    model_cfg, train_cfg = tiny_settings(train={"epochs": 5})
    with pytest.raises(CheckpointError) as info:
        TrainingRun(small_lines, [], model_cfg, train_cfg, resume=broken)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(
    tmp_path, small_lines, monkeypatch, bad
):
    model_cfg, train_cfg = tiny_settings(train={"epochs": 3})
    out = tmp_path / "m.pt"
    saved_bytes: dict[int, bytes] = {}
    state = {"per_epoch": 0, "train_calls": 0}

    def sink(event):
        if isinstance(event, TrainingStarted):
            state["per_epoch"] = event.batches_per_epoch
        if isinstance(event, CheckpointSaved):
            saved_bytes[event.epoch] = out.read_bytes()

    real = torch.nn.functional.cross_entropy

    def poisoned(*args, **kwargs):
        loss = real(*args, **kwargs)
        if kwargs.get("reduction", "mean") == "mean":  # a training step, not validation
            state["train_calls"] += 1
            if state["train_calls"] == state["per_epoch"] + 3:  # three batches into epoch 2
                return loss * bad
        return loss

    run = TrainingRun(
        small_lines[:250], small_lines[250:], model_cfg, train_cfg, out_path=out, sink=sink
    )
    monkeypatch.setattr(torch.nn.functional, "cross_entropy", poisoned)
    finished = run.run()
    assert finished.reason == "diverged" and finished.epochs == 1
    assert "last good checkpoint" in finished.message and "\n" not in finished.message
    assert ("nan" if math.isnan(bad) else "inf") in finished.message
    assert list(saved_bytes) == [1]
    assert out.read_bytes() == saved_bytes[1]  # untouched by the diverged epoch
    assert not last_checkpoint_path(out).exists()  # no diverged state written as "latest"
    good = load_checkpoint(out)
    assert good.epoch == 1 and all(torch.isfinite(t).all() for t in good.model_state.values())
    # saving after divergence writes the last good state, not the broken weights
    again = load_checkpoint(run.save(tmp_path / "after.pt"))
    assert again.epoch == 1
    assert all(torch.equal(again.model_state[k], good.model_state[k]) for k in good.model_state)


def test_a_checkpoint_whose_folder_went_mid_run_is_not_claimed(tmp_path, small_lines):
    """The folder is removed (and a file put in its place) after the first save: the run
    fails to save again and names no best checkpoint that is not there."""
    import shutil

    model_cfg, train_cfg = tiny_settings(train={"epochs": 2})
    folder = tmp_path / "gone"
    out = folder / "m.pt"

    def sink(event):
        if isinstance(event, CheckpointSaved) and event.epoch == 1 and folder.is_dir():
            shutil.rmtree(folder)
            folder.touch()

    run = TrainingRun(
        small_lines[:250], small_lines[250:], model_cfg, train_cfg, out_path=out, sink=sink
    )
    finished = run.run()
    assert finished.reason == "failed" and "is a file, not a folder" in finished.message
    assert finished.best_checkpoint is None and finished.last_checkpoint is None


def test_max_vocab_caps_the_vocabulary(small_lines):
    model_cfg, train_cfg = tiny_settings(train={"max_vocab": 40, "min_count": 1})
    run = TrainingRun(small_lines, [], model_cfg, train_cfg)
    assert len(run.vocab) == 40 and run.model_config.vocab_size == 40


def test_all_unseen_validation_words_are_counted_as_unknown(small_lines):
    model_cfg, train_cfg = tiny_settings()
    started: list = []
    TrainingRun(
        small_lines,
        ["Zebra quokka axolotl", "Xylophone"],
        model_cfg,
        train_cfg,
        sink=started.append,
    ).run()
    assert 0.5 < started[0].unknown_rate < 1.0  # every word unknown; only the line ends known


@pytest.mark.parametrize(
    "lines,train,match",
    [
        (["ab"], {"tokenizer": "char"}, "min-count"),
        (["我爱你", "你爱我"], {"max_vocab": 1}, "max-vocab"),
        ([], {}, "too short"),
    ],
)
def test_data_that_cannot_train_is_one_line(lines, train, match):
    model_cfg, train_cfg = tiny_settings(train=train)
    with pytest.raises(CorpusError, match=match) as info:
        TrainingRun(lines, [], model_cfg, train_cfg)
    assert "\n" not in str(info.value)


def test_a_single_line_corpus_trains(tmp_path):
    model_cfg, train_cfg = tiny_settings(train={"tokenizer": "char", "min_count": 1})
    finished = TrainingRun(
        ["我爱你你爱我"], [], model_cfg, train_cfg, out_path=tmp_path / "one.pt"
    ).run()
    assert finished.reason == "completed" and (tmp_path / "one.pt").exists()


def test_resume_with_its_time_budget_spent_says_how_to_ask_for_more(trained, small_lines):
    previous = load_checkpoint(trained["last"])
    budget = previous.elapsed_s / 2
    model_cfg, train_cfg = tiny_settings(train={"epochs": 10, "time_budget": budget})
    with pytest.raises(SettingsError, match="time-budget") as info:
        TrainingRun(small_lines, [], model_cfg, train_cfg, resume=previous)
    assert "\n" not in str(info.value)


@pytest.mark.skipif(not JAYCHOU.exists(), reason="../shared/data/jaychou_lyrics.txt is absent")
def test_the_tutorial_corpus_prepares_with_an_honest_unknown_rate():
    from lyrics_tui.core.config import TrainConfig
    from lyrics_tui.core.corpus import read_corpus
    from lyrics_tui.core.trainer import prepare_data

    corpus = read_corpus(JAYCHOU)
    assert len(corpus.lines) > 5000
    train, val = corpus.split(0.1)
    data = prepare_data(train, val, TrainConfig(min_count=2))
    assert 1000 < len(data.vocab) < 20_000
    assert len(data.train_ids) > 30_000 and len(data.val_ids) > 3_000
    # min-count 2: words seen once in training are <unk>, so <unk> is learned and unseen
    # validation words are scored honestly
    assert data.vocab.counts[0] > 0
    assert 0.05 < data.val_unknown_rate < 0.5
