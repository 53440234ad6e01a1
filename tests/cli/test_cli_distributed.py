"""`lyrics-tui train --nproc 2`: two gloo processes launched through torch.distributed.run. One
process's output, a checkpoint that one process evaluates, resumes and generates from; Ctrl+C
and a rank that dies stop every process, and every error is one line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lyrics_tui.core.checkpoint import load_checkpoint
from lyrics_tui.tui.cli import main
from tests.helpers import BUNDLED, ROOT, TINY_FLAGS, resume_cli

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="POSIX signals and /proc")

# the tokenizer by characters keeps the ranks from loading jieba's dictionary
FLAGS = [*TINY_FLAGS, "--tokenizer", "char", "--corpus", str(BUNDLED), "--seed", "3"]


def launch(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "lyrics_tui.tui.cli", "train", "--nproc", "2", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def first_epoch(proc: subprocess.Popen) -> dict:
    row = json.loads(proc.stdout.readline())  # blocks until epoch 1 is done
    assert row["event"] == "epoch" and row["epoch"] == 1
    return row


@pytest.mark.processes
def test_two_processes_train_like_one_and_one_process_uses_the_result(tmp_path, capsys):
    out = tmp_path / "m.pt"
    proc = launch(*FLAGS, "--epochs", "1", "--out", str(out), "--json")
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 0, stderr
    assert stderr == ""
    rows = [json.loads(line) for line in stdout.splitlines()]  # rank 0 alone prints
    assert [r["event"] for r in rows] == ["epoch", "done"]
    assert rows[-1]["reason"] == "completed" and rows[-1]["checkpoint"] == str(out)
    checkpoint = load_checkpoint(out)
    assert checkpoint.epoch == 1
    assert not any(name.startswith("module.") for name in checkpoint.model_state)
    # one process: evaluates, generates, and resumes for a second epoch
    text = tmp_path / "held.txt"
    text.write_text("\n".join(BUNDLED.read_text(encoding="utf-8").split()[-50:]) + "\n")
    assert main(["eval", "--checkpoint", str(out), "--text", str(text), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["perplexity"] > 1
    assert main(["generate", "--checkpoint", str(out), "--length", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["event"] == "done"
    last = tmp_path / "m-last.pt"
    assert resume_cli(capsys, BUNDLED, last, epochs=2, json=False).code == 0
    assert load_checkpoint(last).epoch == 2


@pytest.mark.processes
def test_ctrl_c_stops_every_process_with_a_resumable_checkpoint(tmp_path):
    proc = launch(*FLAGS, "--epochs", "1000", "--out", str(tmp_path / "m.pt"), "--json")
    try:
        first_epoch(proc)
        ranks = children(proc.pid)
        assert len(ranks) == 2
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert err == ""
    done = json.loads(rest.splitlines()[-1])
    assert done["event"] == "done" and done["reason"] == "stopped"
    stopped = load_checkpoint(done["last_checkpoint"])
    assert stopped.epoch == done["epochs"] and stopped.optimizer_state
    assert not any(alive(pid) for pid in ranks)


@pytest.mark.processes
def test_a_rank_that_dies_stops_the_others_within_seconds_in_one_line(tmp_path):
    proc = launch(*FLAGS, "--epochs", "1000", "--out", str(tmp_path / "m.pt"), "--json")
    try:
        first_epoch(proc)
        ranks = sorted(children(proc.pid))
        os.kill(ranks[1], signal.SIGKILL)
        killed = time.monotonic()
        _, err = proc.communicate(timeout=60)
        took = time.monotonic() - killed
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1
    assert err.strip().splitlines() == [
        "lyrics-tui: training process 1 was killed (SIGKILL); every other process was "
        "stopped, and the checkpoints saved before are intact"
    ]
    assert took < 30
    assert not any(alive(pid) for pid in ranks)
    load_checkpoint(tmp_path / "m.pt")  # what was saved is whole


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--nproc", "100000"], "--nproc 100000: this machine has"),
        (["--nproc", "0"], "--nproc must be at least 1"),
        (["--nproc", "2", "--backend", "nccl", "--device", "cpu"], "--backend nccl needs CUDA"),
    ],
)
def test_what_the_launcher_refuses_is_one_line(capsys, args, says):
    code = main(["train", *FLAGS, *args])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and says in err


@pytest.mark.processes
def test_torchrun_starts_the_same_command(tmp_path):
    out = tmp_path / "m.pt"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--log-dir",
            str(tmp_path / "logs"),
            "--nproc-per-node",
            "2",
            "-m",
            "lyrics_tui.tui.cli",
            "train",
            *FLAGS,
            "--epochs",
            "1",
            "--out",
            str(out),
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["event"] for r in rows] == ["epoch", "done"]
    assert load_checkpoint(out).epoch == 1


def test_nproc_under_torchrun_is_one_line(capsys, monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    code = main(["train", *FLAGS, "--nproc", "2"])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.strip() == "lyrics-tui: --nproc starts processes itself; under torchrun leave it out"


def test_a_port_in_use_is_one_line(capsys):
    with socket.socket() as busy:
        busy.bind(("", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["train", *FLAGS, "--nproc", "2", "--master-port", str(port)])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.strip() == (
        f"lyrics-tui: --master-port {port} is in use on this machine; give another or leave "
        "it out (a free one is chosen)"
    )


def test_the_ranks_run_the_command_given_but_the_launch_flags():
    from lyrics_tui.tui.cli import build_parser
    from lyrics_tui.tui.cli.train import rank_argv

    args = build_parser().parse_args(
        [
            "train",
            "--nproc",
            "2",
            "--master-port",
            "0",
            "--no-tie-weights",
            "--lr",
            "0.01",
            "--json",
            "--epochs",
            "3",
            "--corpus",
            "x.txt",
        ]
    )
    argv = rank_argv(args)
    assert argv[0] == "train"
    assert "--nproc" not in argv and "--master-port" not in argv
    again = build_parser().parse_args(argv)
    for name, value in vars(args).items():
        if name not in ("nproc", "master_port"):
            assert getattr(again, name) == value, name
