"""Ctrl+C, SIGHUP (a dropped SSH session) and SIGTERM in `lyrics-tui train` save a resumable
checkpoint and exit 130, 129 and 143; --resume continues the loss history where it stopped."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

import pytest

from lyrics_tui.core.checkpoint import load_checkpoint
from lyrics_tui.tui.cli.common import EXIT_INTERRUPTED
from lyrics_tui.tui.signals import Aborted, StopSignals, exit_code
from tests.helpers import BUNDLED, CONSOLE, ROOT, resume_cli, train_argv

STOPS = [("SIGINT", 130), ("SIGHUP", 129), ("SIGTERM", 143)]


@pytest.mark.processes
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("name, code", STOPS)
def test_a_stop_signal_saves_a_resumable_checkpoint_and_resume_continues(
    tmp_path, capsys, name, code
):
    out = tmp_path / "m.pt"
    proc = subprocess.Popen(
        [*CONSOLE, *train_argv(BUNDLED, out, epochs=1000)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = json.loads(proc.stdout.readline())  # blocks until epoch 1 is done
        assert first["event"] == "epoch" and first["epoch"] == 1
        proc.send_signal(getattr(signal, name))  # during a later epoch
        rest, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert "Traceback" not in err
    rows = [first] + [json.loads(line) for line in rest.splitlines()]  # still JSON only
    done = rows[-1]
    assert done["event"] == "done" and done["reason"] == "stopped"
    last = tmp_path / "m-last.pt"
    assert done["last_checkpoint"] == str(last)
    stopped = load_checkpoint(last)
    epochs_done = stopped.epoch
    assert epochs_done == done["epochs"] >= 1
    assert [h["epoch"] for h in stopped.history] == list(range(1, epochs_done + 1))
    assert stopped.optimizer_state  # resumable, not just weights
    if name != "SIGINT":
        return  # the state each signal saves is the same: resumed once (each resume costs seconds)

    # resume from the latest state, two more epochs
    code, output, err = resume_cli(capsys, BUNDLED, last, epochs=epochs_done + 2)
    assert code == 0, err
    rows = [json.loads(line) for line in output.splitlines()]
    assert [r["epoch"] for r in rows if r["event"] == "epoch"] == [epochs_done + 1, epochs_done + 2]
    assert rows[-1]["last_checkpoint"] == str(last)  # resumed into m.pt / m-last.pt again
    assert not (tmp_path / "m-last-last.pt").exists()
    resumed = load_checkpoint(last)
    assert resumed.history[:epochs_done] == stopped.history
    assert [h["epoch"] for h in resumed.history] == list(range(1, epochs_done + 3))
    assert resumed.elapsed_s > stopped.elapsed_s
    assert resumed.vocab.tokens == stopped.vocab.tokens


@pytest.mark.processes
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX terminals")
def test_a_hang_up_after_the_terminal_went_away_still_saves_and_exits_129(tmp_path):
    """As when an SSH connection drops: the terminal dies first (every write to it fails),
    then SIGHUP arrives."""
    out = tmp_path / "m.pt"
    controller, terminal = os.openpty()
    proc = subprocess.Popen(
        [*CONSOLE, *train_argv(BUNDLED, out, epochs=1000, json=False)],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal,
        start_new_session=True,
    )  # fmt: skip
    os.close(terminal)
    try:
        seen = b""
        deadline = time.monotonic() + 120
        while b"epoch   2" not in seen:  # two epochs summarised: the view is running
            assert time.monotonic() < deadline and proc.poll() is None, seen[-500:]
            if select.select([controller], [], [], 1)[0]:
                seen += os.read(controller, 65536)
        os.close(controller)  # the terminal goes away
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(timeout=120) == 129
    finally:
        if proc.poll() is None:
            proc.kill()
    stopped = load_checkpoint(tmp_path / "m-last.pt")
    assert stopped.epoch >= 2 and stopped.optimizer_state


def test_the_exit_status_of_each_stop_signal():
    assert [exit_code(getattr(signal, name)) for name, _ in STOPS] == [c for _, c in STOPS]
    assert exit_code(signal.SIGINT) == EXIT_INTERRUPTED


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_the_first_stop_signal_stops_a_second_aborts_and_the_handlers_are_put_back():
    before = signal.getsignal(signal.SIGTERM)
    stops = []
    with StopSignals(stops.append) as stopping:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stops == [signal.SIGTERM] and stopping.exit_code == 143
        with pytest.raises(Aborted) as aborted:
            os.kill(os.getpid(), signal.SIGINT)
        assert aborted.value.exit_code == 130
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.processes
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX pipes")
@pytest.mark.parametrize("json_lines", [True, False])
def test_a_reader_that_leaves_stops_the_run_which_saves(tmp_path, json_lines):
    """`train --json | head -1`: the write after the reader left had ended the run unsaved
    (with exit 0, or rich's exit 1); now it stops as after a hang-up: saved, exit 141."""
    out = tmp_path / "m.pt"
    argv = train_argv(BUNDLED, out, epochs=1000, json=json_lines)
    proc = subprocess.Popen(
        [*CONSOLE, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline()  # the first line, then leave
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141, err.decode()
    assert b"Traceback" not in err
    latest = load_checkpoint(tmp_path / "m-last.pt")
    assert 1 <= latest.epoch < 1000 and out.exists()
