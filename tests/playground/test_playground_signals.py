"""A dropped connection loses nothing in the playground: SIGHUP (the terminal went away) and
SIGTERM stop the run after its batch, save its resumable -last checkpoint and exit 129 / 143;
`lyrics-tui train --resume` continues from it. The app runs in a real pseudo-terminal."""

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
from lyrics_tui.tui import signals
from lyrics_tui.tui.signals import StopSignals
from tests.helpers import ROOT, resume_cli, tiny_corpus

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and terminals")

# The real entry point (launch.run_app) over a tiny model that would train for long; the
# pseudo-terminal becomes the process's controlling terminal, as a login's does.
CHILD = """
import fcntl, sys, termios
fcntl.ioctl(0, termios.TIOCSCTTY, 0)
from lyrics_tui.tui.app import PlaygroundApp
from lyrics_tui.tui.launch import run_app
run_app(PlaygroundApp(
    corpus=sys.argv[1], checkpoint_dir=sys.argv[2], device="cpu", open_newest=False,
    model_overrides={"embed": 16, "hidden": 16, "layers": 1},
    train_overrides={"epochs": 1000, "batch_size": 8, "bptt": 8, "threads": 1},
))
"""


class Terminal:
    """The playground in a pseudo-terminal of 80x24."""

    def __init__(self, tmp_path) -> None:
        import fcntl
        import struct
        import termios

        self.corpus = tiny_corpus(tmp_path)
        self.folder = tmp_path / "ck"
        self.fd, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLORTERM")}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(self.corpus), str(self.folder)],
            cwd=ROOT, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
            env={**env, "TERM": "xterm-256color"},
        )  # fmt: skip
        os.close(slave)
        self.seen = b""

    def read_until(self, done, what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            assert self.proc.poll() is None, f"the app ended: {self.seen[-800:]!r}"
            if select.select([self.fd], [], [], 0.05)[0]:
                try:
                    self.seen += os.read(self.fd, 65536)
                except OSError:
                    pass

    def train_an_epoch(self) -> None:
        self.read_until(lambda: b"Training" in self.seen, "the first frame")
        os.write(self.fd, b"t")
        best = self.folder / "tiny.pt"  # autosaved at the end of the first epoch
        self.read_until(best.exists, "the first epoch")

    def wait(self, keep_reading: bool) -> int:
        deadline = time.monotonic() + 120
        while self.proc.poll() is None:
            assert time.monotonic() < deadline, "the app did not end"
            if keep_reading and select.select([self.fd], [], [], 0.05)[0]:
                try:
                    self.seen += os.read(self.fd, 65536)
                except OSError:
                    keep_reading = False
            elif not keep_reading:
                time.sleep(0.05)
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        try:
            os.close(self.fd)
        except OSError:
            pass


def resumed(capsys, corpus, last) -> list[int]:
    """The epochs `lyrics-tui train --resume LAST` trains, one more than the file has."""
    done = load_checkpoint(last).epoch
    code, out, err = resume_cli(capsys, corpus, last, epochs=done + 1)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    return [r["epoch"] for r in rows if r["event"] == "epoch"]


def test_a_dropped_connection_saves_the_run_and_resume_continues_it(tmp_path, capsys):
    app = Terminal(tmp_path)
    try:
        app.train_an_epoch()
        os.close(app.fd)  # the connection drops: the kernel hangs up the terminal (SIGHUP)
        app.fd = -1
        assert app.wait(keep_reading=False) == 129
    finally:
        app.close()
    last = app.folder / "tiny-last.pt"
    stopped = load_checkpoint(last)
    assert stopped.epoch >= 1 and stopped.optimizer_state  # resumable, not just weights
    assert [h["epoch"] for h in stopped.history] == list(range(1, stopped.epoch + 1))
    assert resumed(capsys, app.corpus, last) == [stopped.epoch + 1]


def test_sigterm_saves_the_run_gives_the_terminal_back_and_exits_143(tmp_path, capsys):
    app = Terminal(tmp_path)
    try:
        app.train_an_epoch()
        mark = len(app.seen)
        app.proc.send_signal(signal.SIGTERM)
        assert app.wait(keep_reading=True) == 143
        assert b"\x1b[?1049l" in app.seen[mark:]  # left the alternate screen: the shell is back
    finally:
        app.close()
    last = app.folder / "tiny-last.pt"
    stopped = load_checkpoint(last)
    assert stopped.epoch >= 1 and stopped.optimizer_state
    assert resumed(capsys, app.corpus, last) == [stopped.epoch + 1]


def test_a_second_hang_up_does_not_abort_the_save(monkeypatch):
    """When a connection drops, the kernel and the shell each send SIGHUP."""
    monkeypatch.setattr(signals, "leave_dead_terminal", lambda: None)  # keep pytest's output
    stops = []
    with StopSignals(stops.append) as stopping:
        os.kill(os.getpid(), signal.SIGHUP)
        os.kill(os.getpid(), signal.SIGHUP)  # no Aborted
    assert stops == [signal.SIGHUP] and stopping.exit_code == 129
