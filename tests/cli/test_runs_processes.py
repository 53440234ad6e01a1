"""The run store across real processes: two `lyrics-tui train` at once are both recorded in
full, and a trainer killed with SIGKILL shows as `interrupted` the next time the store is
opened, in a sound file."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from lyrics_tui.core.runs.store import RunStore
from tests.helpers import CONSOLE, ROOT, train_argv

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.fixture
def corpus_file(tmp_path, small_lines):
    path = tmp_path / "small.txt"
    path.write_text("\n".join(small_lines[:120]) + "\n", encoding="utf-8")
    return path


def trainer(corpus, out, db, *extra) -> subprocess.Popen:
    """`lyrics-tui train` for up to 1000 epochs (a signal stops it), recording in `db`."""
    return subprocess.Popen(
        [*CONSOLE, *train_argv(corpus, out, "--runs-db", db, *extra, epochs=1000)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def epoch_lines(text: str) -> list[dict]:
    rows = [json.loads(line) for line in text.splitlines()]
    return [r for r in rows if r["event"] == "epoch"]


def until(condition, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.mark.processes
def test_two_trainers_at_once_are_both_recorded_in_full(tmp_path, corpus_file):
    db = tmp_path / "runs.sqlite3"
    procs = {
        "a.pt": trainer(corpus_file, tmp_path / "a.pt", db),
        "b.pt": trainer(corpus_file, tmp_path / "b.pt", db, "--cell", "rnn"),
    }
    shown: dict[str, list[dict]] = {name: [] for name in procs}
    errors: dict[str, str] = {}
    try:
        # both train side by side for three epochs each (every epoch is recorded before it
        # is printed), then Ctrl+C stops each after its current batch
        for _ in range(3):
            for name, proc in procs.items():
                assert proc.stdout is not None
                shown[name].append(json.loads(proc.stdout.readline()))
        for proc in procs.values():
            proc.send_signal(signal.SIGINT)
        for name, proc in procs.items():
            # read(), not communicate(): that would skip what readline() already buffered
            assert proc.stdout is not None and proc.stderr is not None
            shown[name] += [json.loads(line) for line in proc.stdout.read().splitlines()]
            errors[name] = proc.stderr.read()
            proc.wait(timeout=120)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for name, proc in procs.items():
        assert proc.returncode == 130 and "warning" not in errors[name], errors[name]
    with RunStore(db) as store:
        runs = store.list_runs(descending=False)
        assert len(runs) == 2
        for run in runs:
            name = (run.best_checkpoint or "").rsplit("/", 1)[-1]
            epochs = [r for r in shown[name] if r["event"] == "epoch"]
            done = shown[name][-1]
            stored = store.epochs(run.id)
            assert [e.epoch for e in stored] == [r["epoch"] for r in epochs]
            assert [e.val_ppl for e in stored] == [r["val_ppl"] for r in epochs]
            assert [e.train_loss for e in stored] == [r["train_loss"] for r in epochs]
            assert run.status == "stopped" and run.epochs == done["epochs"] >= 3
            assert run.last_checkpoint == done["last_checkpoint"]
        assert sorted(r.cell for r in runs) == ["gru", "rnn"]
        a, b = runs
        assert a.started_at < b.ended_at and b.started_at < a.ended_at  # side by side
        assert store.integrity() == "ok"


@pytest.mark.processes
def test_a_trainer_killed_with_sigkill_is_interrupted_next_time_the_store_opens(
    tmp_path, corpus_file
):
    db = tmp_path / "runs.sqlite3"
    proc = trainer(corpus_file, tmp_path / "m.pt", db)
    try:
        first = json.loads(proc.stdout.readline())
        assert first["event"] == "epoch"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    raw = sqlite3.connect(db)
    assert raw.execute("SELECT status FROM runs").fetchall() == [("running",)]  # as left
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    raw.close()
    with RunStore(db) as store:
        (run,) = store.list_runs()
        assert run.status == "interrupted" and run.epochs >= 1
        assert run.ended_at is not None and run.ended_at >= run.started_at
        assert len(store.epochs(run.id)) == run.epochs
        assert store.integrity() == "ok"
