"""The screenshots in docs/screenshots/ come from one command (bench/screenshots.py) run over
the real app; here it makes one of them, the idle screen at 80x24."""

from __future__ import annotations

import html
import subprocess
import sys

from tests.helpers import ROOT


def test_the_screenshot_command_makes_the_idle_screen_at_80x24(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "screenshots.py"), "--only", "idle",
         "--sizes", "80x24", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert [p.name for p in tmp_path.iterdir()] == ["idle-80x24.svg"]
    svg = html.unescape((tmp_path / "idle-80x24.svg").read_text(encoding="utf-8"))
    assert svg.startswith("<svg") and "lyrics-tui" in svg
    assert "no\xa0model\xa0yet" in svg and "Training" in svg  # the real first screen
    assert str(tmp_path.parent) not in svg  # no machine paths
