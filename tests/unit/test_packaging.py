"""What `pip wheel .` builds: one package with names of its own, the bundled corpora inside."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from tests.helpers import ROOT


def test_the_wheel_holds_lyrics_tui_only_with_its_data(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("lyrics_tui-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"lyrics_tui"}
    assert "lyrics_tui/core/trainer.py" in names and "lyrics_tui/tui/app.py" in names
    assert "lyrics_tui/tui/app.tcss" in names
    # every subpackage of the views, each named in pyproject.toml
    packages = {str(p.parent.relative_to(ROOT)) for p in (ROOT / "tui").rglob("__init__.py")}
    for package in packages:
        assert f"lyrics_tui/{package}/__init__.py" in names, package
    assert "lyrics_tui/data/lyrics.txt" in names
