"""The recorder (core/runs/recorder.py): a sink that writes a run from the trainer's events,
hands every event on, never writes per batch, and never stops training: a store it cannot use
is one warning, then training goes on unrecorded."""

from __future__ import annotations

import sqlite3

import pytest

from lyrics_tui.core import events as E
from lyrics_tui.core.config import ModelConfig, TrainConfig
from lyrics_tui.core.corpus import Corpus
from lyrics_tui.core.runs import recorder as runs_recorder
from lyrics_tui.core.runs.recorder import record_run
from lyrics_tui.core.runs.store import RunStore
from tests.helpers import tiny_settings

STARTED = E.TrainingStarted(
    vocab_size=120,
    train_tokens=5000,
    val_tokens=500,
    unknown_rate=0.02,
    batches_per_epoch=10,
    parameters=4321,
    device="cpu",
    threads=2,
    start_epoch=0,
    precision="bf16",
)


def epoch(n: int, ppl: float | None = 50.0) -> E.EpochFinished:
    return E.EpochFinished(n, 4.0 - n / 10, 3.9 if ppl else None, ppl, 1500.0, n * 2.0, 0.01, True)


def batch(n: int = 1) -> E.BatchFinished:
    return E.BatchFinished(1, n, 10, 4.0, 1500.0, 0.1, 1.0)


def finished(reason: str, best=None, last=None, message="") -> E.TrainingFinished:
    return E.TrainingFinished(reason, 2, 40.0, best, last, message)


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "songs.txt"
    path.write_text("第一行\n第二行\n", encoding="utf-8")
    return Corpus(path=str(path), encoding="utf-8", lines=["第一行", "第二行"])


def recorder_for(tmp_path, corpus, sink=None, warnings=None, **over):
    model, train = tiny_settings()
    args = {
        "corpus": corpus,
        "preset": "default",
        "model_config": model,
        "train_config": train,
        "out_path": tmp_path / "m.pt",
        "db": tmp_path / "runs.sqlite3",
        "warn": (warnings if warnings is not None else []).append,
    }
    args.update(over)
    return record_run(sink, **args)


def read(tmp_path):
    return RunStore(tmp_path / "runs.sqlite3")


def test_events_become_a_complete_run_and_are_all_handed_on(tmp_path, corpus):
    seen: list = []
    warnings: list[str] = []
    recorder = recorder_for(tmp_path, corpus, seen.append, warnings)
    store = read(tmp_path)

    def check_recorded_first(event):
        seen.append(event)
        if isinstance(event, E.EpochFinished):  # a view showing an epoch finds it stored
            assert store.get_run(recorder.run_id).epochs == event.epoch

    recorder.sink = check_recorded_first
    best, last = tmp_path / "m.pt", tmp_path / "m-last.pt"
    events = [
        STARTED,
        batch(),
        epoch(1, 60.0),
        E.CheckpointSaved(str(best), 1, 60.0),
        epoch(2, 45.0),
        E.CheckpointSaved(str(best), 2, 45.0),
        E.CheckpointSaved(str(tmp_path / "copy-e2.pt"), 2, 45.0),  # a save-as elsewhere
        E.CheckpointSaved(str(last), 2, 45.0),
        finished("completed", str(best), str(last)),
    ]
    best.write_bytes(b"x")
    last.write_bytes(b"y")
    with recorder:
        for event in events:
            recorder(event)
    assert seen == events and warnings == []
    run = store.get_run(recorder.run_id)
    assert (run.status, run.reason, run.epochs, run.best_val_ppl) == (
        "completed",
        "completed",
        2,
        40.0,  # the trainer's best (the recorder takes the lower)
    )
    assert (run.best_checkpoint, run.last_checkpoint) == (str(best), str(last))
    assert (run.device, run.threads, run.precision, run.parameters) == ("cpu", 2, "bf16", 4321)
    assert run.model_config == {**tiny_settings()[0].to_dict(), "vocab_size": 120}
    assert run.train_config == tiny_settings()[1].to_dict()
    assert run.corpus == corpus.path and run.corpus_lines == 2
    assert run.corpus_sha256 == runs_recorder.corpus_fingerprint(corpus.path)
    assert len(run.corpus_sha256 or "") == 64
    assert [e.val_ppl for e in store.epochs(run.id)] == [60.0, 45.0]
    store.close()


@pytest.mark.parametrize(
    ("reason", "status"),
    [
        ("completed", "completed"),
        ("time budget", "completed"),
        ("stopped", "stopped"),
        ("diverged", "diverged"),
        ("failed", "failed"),
    ],
)
def test_each_way_a_run_ends_has_its_status(tmp_path, corpus, reason, status):
    with recorder_for(tmp_path, corpus) as recorder:
        for event in (STARTED, epoch(1), finished(reason, message=f"why: {reason}")):
            recorder(event)
    with read(tmp_path) as store:
        run = store.get_run(recorder.run_id)
    assert (run.status, run.reason, run.message) == (status, reason, f"why: {reason}")


@pytest.mark.parametrize(
    ("error", "status"),
    [(RuntimeError("boom"), "failed"), (KeyboardInterrupt(), "interrupted"), (None, "interrupted")],
)
def test_a_run_the_trainer_never_finished_is_closed_by_the_launcher(
    tmp_path, corpus, error, status
):
    recorder = recorder_for(tmp_path, corpus)
    recorder(STARTED)
    recorder(epoch(1))
    recorder.close(error)
    with read(tmp_path) as store:
        run = store.get_run(recorder.run_id)
    assert run.status == status and run.ended_at is not None
    if isinstance(error, RuntimeError):
        assert run.message == "RuntimeError: boom"


def test_batches_write_nothing_but_a_rare_heartbeat(tmp_path, corpus, monkeypatch):
    recorder = recorder_for(tmp_path, corpus)
    recorder(STARTED)
    with read(tmp_path) as store:
        rev, beat = store.revision(), store.get_run(recorder.run_id).heartbeat_at
        version = store.data_version()
        for n in range(500):
            recorder(batch(n))
        assert store.data_version() == version  # not one write
        monkeypatch.setattr(runs_recorder, "HEARTBEAT_S", 0.0)
        recorder(batch())
        assert store.get_run(recorder.run_id).heartbeat_at > beat
        assert store.revision() == rev
    recorder.close()


def test_a_real_training_run_is_recorded_as_the_trainer_reports_it(tmp_path, small_lines):
    from lyrics_tui.core.trainer import TrainingRun

    model_cfg, train_cfg = tiny_settings(train={"epochs": 2})
    corpus = Corpus(path="small.txt", encoding="utf-8", lines=small_lines)
    warnings: list[str] = []
    recorder = recorder_for(
        tmp_path, corpus, None, warnings, model_config=model_cfg, train_config=train_cfg
    )
    run = TrainingRun(
        small_lines[:270],
        small_lines[270:],
        model_cfg,
        train_cfg,
        out_path=tmp_path / "m.pt",
        sink=recorder,
    )
    with recorder:
        done = run.run()
    assert warnings == []
    with read(tmp_path) as store:
        stored = store.get_run(recorder.run_id)
        epochs = store.epochs(stored.id)
    assert stored.status == "completed" and stored.epochs == done.epochs == 2
    assert stored.best_val_ppl == pytest.approx(done.best_val_ppl)
    assert stored.best_checkpoint == done.best_checkpoint
    assert stored.last_checkpoint == done.last_checkpoint
    assert stored.parameters == run.model.parameter_count()
    assert stored.vocab_size == len(run.vocab) == stored.model_config["vocab_size"]
    assert stored.corpus_sha256 is None  # no such file to fingerprint: recorded anyway
    assert [e.to_dict() for e in epochs] == run.history


def test_a_resumed_run_points_at_the_run_it_continues(tmp_path, corpus):
    last = tmp_path / "m-last.pt"
    last.write_bytes(b"x")
    with recorder_for(tmp_path, corpus) as first:
        for event in (STARTED, epoch(1), finished("completed", None, str(last))):
            first(event)
    resumed = E.TrainingStarted(**{**STARTED.__dict__, "start_epoch": 1})
    with recorder_for(tmp_path, corpus, resumed_from=str(last)) as second:
        for event in (resumed, epoch(2), finished("completed")):
            second(event)
    with read(tmp_path) as store:
        run = store.get_run(second.run_id)
    assert (run.parent_id, run.start_epoch, run.resumed_from) == (first.run_id, 1, str(last))


@pytest.mark.parametrize("problem", ["corrupt", "locked", "unwritable"])
def test_a_store_it_cannot_use_is_one_warning_and_events_still_flow(
    tmp_path, corpus, problem, monkeypatch
):
    path = tmp_path / "runs.sqlite3"
    holder = None
    if problem == "corrupt":
        path.write_bytes(b"garbage" * 1000)
    elif problem == "locked":
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("CREATE TABLE x (y)")
    else:
        path = tmp_path / "a-file" / "runs.sqlite3"
        path.parent.write_text("not a folder")
    monkeypatch.setattr("lyrics_tui.core.runs.store.BUSY_TIMEOUT_S", 0.1)
    seen: list = []
    warnings: list[str] = []
    try:
        recorder = recorder_for(tmp_path, corpus, seen.append, warnings, db=path)
        events = [STARTED, epoch(1), epoch(2), finished("completed")]
        with recorder:
            for event in events:
                recorder(event)
    finally:
        if holder is not None:
            holder.close()
    assert seen == events
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert str(path) in warnings[0] and "without recording" in warnings[0]
    assert not recorder.recording


def test_a_store_that_fails_mid_run_warns_once_and_training_goes_on(tmp_path, corpus, monkeypatch):
    monkeypatch.setattr("lyrics_tui.core.runs.store.BUSY_TIMEOUT_S", 0.1)
    seen: list = []
    warnings: list[str] = []
    recorder = recorder_for(tmp_path, corpus, seen.append, warnings)
    recorder(STARTED)
    recorder(epoch(1))
    holder = sqlite3.connect(tmp_path / "runs.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # someone holds the write lock for good
    try:
        for event in (epoch(2), epoch(3), finished("completed")):
            recorder(event)
        recorder.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert len(seen) == 5
    assert len(warnings) == 1 and "locked" in warnings[0]
    assert f"run {recorder.run_id} is no longer recorded" in warnings[0]
    with read(tmp_path) as store:  # what was written before stays; this process still lives
        run = store.get_run(recorder.run_id)
    assert run.epochs == 1 and run.status == "running"


def test_a_bug_in_recording_never_reaches_the_trainer(tmp_path, corpus, monkeypatch):
    warnings: list[str] = []
    recorder = recorder_for(tmp_path, corpus, None, warnings)

    def broken(*args, **kwargs):
        raise ValueError("unexpected")

    monkeypatch.setattr(RunStore, "start_run", broken)
    recorder(STARTED)
    recorder(epoch(1))
    recorder.close()
    assert warnings == ["ValueError: unexpected; training goes on without recording this run"]


def test_settings_given_as_dataclasses_round_trip(tmp_path, corpus):
    model = ModelConfig(cell="rnn", embed=8, hidden=8)
    train = TrainConfig(epochs=3, lr=0.02)
    with recorder_for(tmp_path, corpus, model_config=model, train_config=train) as recorder:
        recorder(STARTED)
    with read(tmp_path) as store:
        run = store.get_run(recorder.run_id)
    assert ModelConfig.from_dict(run.model_config) == ModelConfig(
        cell="rnn", embed=8, hidden=8, vocab_size=120
    )
    assert TrainConfig.from_dict(run.train_config) == train
    assert run.planned_epochs == 3 and run.status == "interrupted"  # closed without finishing


def test_a_named_pipe_is_not_opened_again_for_its_fingerprint(tmp_path):
    """read_corpus read the pipe once; opening it again would wait for a writer for ever."""
    import os
    import threading

    pipe = tmp_path / "corpus"
    os.mkfifo(pipe)
    result: list[str | None] = []
    worker = threading.Thread(
        target=lambda: result.append(runs_recorder.corpus_fingerprint(pipe)), daemon=True
    )
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive() and result == [None]
    regular = tmp_path / "text.txt"
    regular.write_text("歌\n", encoding="utf-8")
    assert runs_recorder.corpus_fingerprint(regular) is not None
