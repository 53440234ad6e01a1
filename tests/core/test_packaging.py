"""What `pip wheel .` builds: one package with names of its own, the bundled corpora inside; and
that wheel, installed where nothing else of lyrics-tui is, trains on a bundled corpus from any
folder."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import zipfile

import pytest

from tests.helpers import ROOT, TINY_FLAGS


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(folder), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (built,) = folder.glob("lyrics_tui-*.whl")
    return built


@pytest.mark.processes
def test_the_wheel_holds_lyrics_tui_only_with_its_data(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"lyrics_tui"}
    assert "lyrics_tui/core/trainer.py" in names and "lyrics_tui/tui/app.py" in names
    assert "lyrics_tui/tui/app.tcss" in names and "lyrics_tui/tui/cli/__main__.py" in names
    assert "lyrics_tui/data/lyrics.txt" in names and "lyrics_tui/data/songci.txt" in names
    assert "lyrics_tui/data/README.md" in names
    # every subpackage of the views, each named in pyproject.toml
    packages = {str(p.parent.relative_to(ROOT)) for p in (ROOT / "tui").rglob("__init__.py")}
    for package in packages:
        assert f"lyrics_tui/{package}/__init__.py" in names, package


@pytest.mark.processes
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths in the environment")
def test_the_installed_wheel_trains_on_a_bundled_corpus_from_any_folder(wheel, tmp_path):
    # A fresh environment that sees the dependencies installed here but not the editable
    # install of this checkout: its .pth hook is not run for a folder named in another .pth.
    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (tmp_path / "env" / site).joinpath("deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    done = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--ignore-installed",
         str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    clean = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path)}
    where = subprocess.run(
        [python, "-c", "import lyrics_tui.core.corpus as c; print(c.corpus_path('songci'))"],
        cwd=elsewhere, env=clean, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert where.startswith(site) and where.endswith("lyrics_tui/data/songci.txt"), where
    done = subprocess.run(
        [env_dir / "bin" / "lyrics-tui", "train", "--corpus", "songci", "--epochs", "1",
         *TINY_FLAGS, "--batch-size", "128", "--bptt", "32", "--max-vocab", "300",
         "--out", "model.pt", "--json"],
        cwd=elsewhere, env=clean, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert rows[-1]["event"] == "done" and rows[-1]["epochs"] == 1
    assert (elsewhere / "model.pt").is_file()
    from lyrics_tui.core.checkpoint import load_checkpoint

    trained = load_checkpoint(elsewhere / "model.pt")
    assert trained.corpus == where  # the installed copy's corpus was read
    assert trained.train_config.tokenizer == "char"  # songci's own setting
