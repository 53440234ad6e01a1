"""`generate`, `eval` and the inspection commands with no --checkpoint open the checkpoint the
playground opens at start-up (core.loading.open_startup_model): the newest best file, not a
newer -last state beside it, and a corrupt newer file is named on stderr and passed over."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from lyrics_tui.core import paths
from lyrics_tui.tui.cli import main


def aged(path, seconds_ago: float) -> None:
    when = 2_000_000_000 - seconds_ago
    os.utime(path, (when, when))


@pytest.fixture
def folder(tmp_path, trained, monkeypatch):
    """The default checkpoints/ holding best, a newer -last and a still newer corrupt file."""
    target = tmp_path / "checkpoints"
    target.mkdir()
    shutil.copy(trained["path"], target / "tiny.pt")
    shutil.copy(trained["last"], target / "tiny-last.pt")
    (target / "broken.pt").write_bytes(b"\x80\x04 not a checkpoint")
    for name, ago in (("tiny.pt", 30), ("tiny-last.pt", 20), ("broken.pt", 10)):
        aged(target / name, ago)
    monkeypatch.setattr(paths, "checkpoint_dir", lambda: target)
    return target


def test_generate_opens_the_newest_best_checkpoint_and_names_the_corrupt_one(capsys, folder):
    code = main(["generate", "--json", "--length", "5", "--seed", "1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out.splitlines()[-1])["event"] == "done"
    warnings = err.strip().splitlines()
    assert warnings[0].startswith("lyrics-tui: warning: skipped ")
    assert str(folder / "broken.pt") in warnings[0]
    assert f"opened {folder / 'tiny.pt'}" in warnings[1]  # the best, not tiny-last.pt
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["score", "--line", "我"],
        ["neighbours", "--word", "我"],
        ["step", "--prompt", "我"],
        ["hidden", "--prompt", "我", "--length", "2"],
    ],
)
def test_the_inspection_commands_open_the_same_checkpoint(capsys, folder, argv):
    code = main([*argv, "--json"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"opened {folder / 'tiny.pt'}" in err and "broken.pt" in err


def test_eval_opens_the_same_checkpoint(capsys, folder, tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("我的\n你的\n", encoding="utf-8")
    code = main(["eval", "--text", str(text), "--json", "--cache", "off"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"opened {folder / 'tiny.pt'}" in err and "broken.pt" in err


def test_no_readable_checkpoint_is_one_line_naming_each_file(capsys, folder):
    for name in ("tiny.pt", "tiny-last.pt"):
        (folder / name).write_bytes(b"")
    code = main(["generate"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "no checkpoint could be read" in err
    assert all(name in err for name in ("broken.pt", "tiny.pt", "tiny-last.pt"))
