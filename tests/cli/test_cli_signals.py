"""Ctrl+C in `lyrics-tui train` saves a resumable checkpoint and exits 130; --resume continues the
loss history where it stopped."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from lyrics_tui.core.checkpoint import load_checkpoint
from lyrics_tui.tui.cli import main
from tests.helpers import BUNDLED, ROOT, TINY_FLAGS


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_saves_a_resumable_checkpoint_exits_130_and_resume_continues(tmp_path, capsys):
    out = tmp_path / "m.pt"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lyrics_tui.tui.cli",
            "train",
            "--corpus",
            str(BUNDLED),
            *TINY_FLAGS,
            "--epochs",
            "1000",
            "--out",
            str(out),
            "--json",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = json.loads(proc.stdout.readline())  # blocks until epoch 1 is done
        assert first["event"] == "epoch" and first["epoch"] == 1
        proc.send_signal(signal.SIGINT)  # Ctrl+C during a later epoch
        rest, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
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

    # resume from the latest state, two more epochs
    code = main(
        [
            "train",
            "--corpus",
            str(BUNDLED),
            "--resume",
            str(last),
            "--epochs",
            str(epochs_done + 2),
            "--json",
        ]
    )
    output, err = capsys.readouterr()
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
