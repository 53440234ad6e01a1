"""The runs controller and the training controller's recording, without Textual: reports go to
a list and are handed back to `receive` as the App does; waits poll a condition with a bound."""

from __future__ import annotations

import os
import threading
import time

import pytest

from lyrics_tui.core.corpus import read_corpus
from lyrics_tui.core.runs.store import RunStore
from lyrics_tui.tui.controllers import Problem
from lyrics_tui.tui.controllers.plan import TrainingRequest
from lyrics_tui.tui.controllers.runs import (
    CheckpointChecked,
    RunDeleted,
    RunsController,
    RunsListed,
)
from lyrics_tui.tui.controllers.training import RunEnded, TrainingController
from tests.helpers import TINY_MODEL, TINY_TRAIN, epoch_record, run_start, tiny_corpus

WAIT_S = 30.0


class Inbox(list):
    """A controller's `post`, and the App's part: hand what arrived to `receive`."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.delivered = 0

    def __call__(self, report) -> None:
        with self.lock:
            self.append(report)

    def pump(self, controller, condition, what: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while True:
            with self.lock:
                new, self.delivered = self[self.delivered :], len(self)
            for report in new:
                controller.receive(report)
            if condition():
                return
            assert time.monotonic() < deadline, f"timed out waiting for: {what}"
            time.sleep(0.01)


def finished_run(store: RunStore, epochs: int, corpus: str = "/data/lyrics.txt", **over) -> int:
    run_id = store.start_run(run_start(corpus, **over))
    for epoch in range(1, epochs + 1):
        store.record_epoch(run_id, epoch_record(epoch, 60.0 - epoch))
    store.finish_run(run_id, "completed", reason="completed")
    return run_id


def stopped(controller: RunsController) -> bool:
    return not controller.busy()


def test_lists_runs_follows_another_writer_and_grows_a_marked_curve(tmp_path):
    db = tmp_path / "runs.sqlite3"
    with RunStore(db) as store:
        first = finished_run(store, 3)
        finished_run(store, 2, corpus="/data/songci.txt")
    inbox = Inbox()
    runs = RunsController(inbox, db)
    seen: list = []
    runs.watch(seen.append)
    inbox.pump(runs, lambda: runs.listed, "the first listing")
    assert sorted(runs.rows) == [1, 2] and not runs.error
    assert any(isinstance(r, RunsListed) for r in seen)  # the screen's listener heard it

    assert runs.toggle(first) is True
    inbox.pump(runs, lambda: len(runs.overlays()[0].points) == 3, "the marked run's curve")
    overlay = runs.overlays()[0]
    assert overlay.label == f"#{first} lstm" and overlay.slot == 0
    assert overlay.points[0] == (1, pytest.approx(epoch_record(1, 59.0).val_loss))

    # another process (here: another connection) trains: a new run, and more epochs of one
    with RunStore(db) as other:
        live = other.start_run(run_start())
        other.record_epoch(live, epoch_record(1, 70.0))
        inbox.pump(runs, lambda: live in runs.rows, "the live run in the table")
        runs.toggle(live)
        other.record_epoch(live, epoch_record(2, 65.0))
        inbox.pump(runs, lambda: runs.rows[live].epochs == 2, "the live run's epoch 2")
        inbox.pump(runs, lambda: len(runs.marked[live].points) == 2, "its curve growing")
        assert runs.marked[live].slot == 1  # its own colour
        other.finish_run(live, "stopped", reason="stopped")
        inbox.pump(runs, lambda: runs.rows[live].status == "stopped", "its end")

    # the screen closes, the marks stay: the thread keeps following; unmarked, it ends
    runs.unwatch(seen.append)
    assert runs.busy()
    runs.toggle(first)
    runs.toggle(live)
    inbox.pump(runs, lambda: stopped(runs), "the store thread to end")


def test_a_missing_store_is_not_created_and_is_found_once_written(tmp_path):
    db = tmp_path / "later" / "runs.sqlite3"
    inbox = Inbox()
    runs = RunsController(inbox, db)
    runs.watch(lambda report: None)
    inbox.pump(runs, lambda: runs.listed, "the empty listing")
    assert runs.rows == {} and runs.error == "" and not db.exists()
    with RunStore(db) as store:
        finished_run(store, 1)
    inbox.pump(runs, lambda: len(runs.rows) == 1, "the run, once the store exists")
    runs.close()
    inbox.pump(runs, lambda: stopped(runs), "the thread to end on close")


def test_a_corrupt_store_is_an_error_line_not_an_exception(tmp_path):
    db = tmp_path / "runs.sqlite3"
    db.write_bytes(b"this is not a database, nor is it meant to be\n" * 100)
    inbox = Inbox()
    runs = RunsController(inbox, db)
    runs.watch(lambda report: None)
    inbox.pump(runs, lambda: bool(runs.error), "the error")
    assert "not a database" in runs.error and "\n" not in runs.error
    runs.close()


def test_delete_refuses_a_run_in_training_and_deletes_a_finished_one_with_its_file(tmp_path):
    db = tmp_path / "runs.sqlite3"
    checkpoint = tmp_path / "old.pt"
    checkpoint.write_bytes(b"weights")
    with RunStore(db) as store:
        done = finished_run(store, 1)
        store.record_checkpoint(done, "best", str(checkpoint))
        training = store.start_run(run_start())  # written by this (live) process
    inbox = Inbox()
    runs = RunsController(inbox, db)
    runs.watch(lambda report: None)
    inbox.pump(runs, lambda: len(runs.rows) == 2, "the listing")
    runs.delete(training)
    inbox.pump(runs, lambda: any(isinstance(r, Problem) for r in inbox), "the refusal")
    problem = next(r for r in inbox if isinstance(r, Problem))
    assert "still training" in problem.text and training in runs.rows
    runs.delete(done)
    inbox.pump(runs, lambda: done not in runs.rows, "the deletion")
    deleted = next(r for r in inbox if isinstance(r, RunDeleted))
    assert deleted.removed_files == (str(checkpoint),) and not checkpoint.exists()
    runs.close()


def test_a_checkpoint_overwritten_since_falls_back_to_the_latest_state(tmp_path):
    db = tmp_path / "runs.sqlite3"
    best, last = tmp_path / "lyrics.pt", tmp_path / "lyrics-last.pt"
    best.write_bytes(b"run 1")
    last.write_bytes(b"run 1, last")
    with RunStore(db) as store:
        run_id = finished_run(store, 1)
        store.record_checkpoint(run_id, "best", str(best))
        store.record_checkpoint(run_id, "last", str(last))
    best.write_bytes(b"a later run on the same corpus wrote here")
    os.utime(best, ns=(1, 1))
    inbox = Inbox()
    runs = RunsController(inbox, db)
    runs.watch(lambda report: None)

    def checked() -> list[CheckpointChecked]:
        return [r for r in inbox if isinstance(r, CheckpointChecked)]

    runs.check_checkpoint(run_id)
    inbox.pump(runs, lambda: len(checked()) == 1, "the check")
    assert (checked()[0].path, checked()[0].state) == (str(last), "ok")
    last.unlink()
    runs.check_checkpoint(run_id)
    inbox.pump(runs, lambda: len(checked()) == 2, "the second check")
    assert (checked()[1].path, checked()[1].state) == (str(best), "replaced")
    runs.close()


# -- the training controller records every run -----------------------------------------------
def train(tmp_path, runs_db) -> Inbox:
    inbox = Inbox()
    training = TrainingController(inbox, tmp_path / "ck", device="cpu", runs_db=runs_db)
    request = TrainingRequest(str(tiny_corpus(tmp_path)), "default", dict(TINY_MODEL), TINY_TRAIN)
    training.start(training.plan(request))
    for thread in training.threads:
        thread.join(WAIT_S)
    assert isinstance(inbox[-1], RunEnded)
    return inbox


def test_the_training_controller_records_its_run_in_the_store_given(tmp_path):
    db = tmp_path / "given.sqlite3"
    train(tmp_path, str(db))
    with RunStore(db) as store:
        (run,) = store.list_runs()
        detail = store.get_run(run.id)
        assert (detail.launcher, run.status, run.epochs) == ("playground", "completed", 1)
        assert run.best_checkpoint == str(tmp_path / "ck" / "tiny.pt")
        assert detail.corpus == str(tmp_path / "tiny.txt") and len(store.epochs(run.id)) == 1
        assert detail.corpus_lines == len(read_corpus(tmp_path / "tiny.txt").lines)


def test_an_unusable_store_is_one_warning_and_training_goes_on(tmp_path):
    db = tmp_path / "runs.sqlite3"
    db.write_bytes(b"garbage, not SQLite\n" * 200)
    inbox = train(tmp_path, str(db))
    problems = [r for r in inbox if isinstance(r, Problem)]
    assert len(problems) == 1 and problems[0].severity == "warning"
    assert "not a database" in problems[0].text and "without recording" in problems[0].text
    assert (tmp_path / "ck" / "tiny.pt").exists()  # trained and saved all the same
