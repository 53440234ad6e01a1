"""A clean stderr where setuptools >= 81 is installed: jieba imports pkg_resources, which then
warns on every import; lyrics-tui silences exactly that warning, and no other."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lyrics_tui.core.checkpoint import load_checkpoint
from tests.helpers import ROOT

# What setuptools 81 prints when pkg_resources is imported (a UserWarning, stacklevel 2).
DEPRECATION = (
    "pkg_resources is deprecated as an API. See "
    "https://setuptools.pypa.io/en/latest/pkg_resources.html. The pkg_resources package is "
    "slated for removal as early as 2025-11-30. Refrain from using this package or pin to "
    "Setuptools<81."
)

FAKE_PKG_RESOURCES = f'''
"""A stand-in for setuptools >= 81's pkg_resources: it warns on import, as that one does."""
import importlib.util
import os
import warnings

open(os.environ["FAKE_PKG_RESOURCES_IMPORTED"], "w").close()
warnings.warn({DEPRECATION!r}, UserWarning, stacklevel=2)
if os.environ.get("FAKE_PKG_RESOURCES_ALSO"):
    warnings.warn(os.environ["FAKE_PKG_RESOURCES_ALSO"], UserWarning, stacklevel=2)


def resource_stream(package, name):
    folder = os.path.dirname(importlib.util.find_spec(package).origin)
    return open(os.path.join(folder, name), "rb")
'''


def generate(tmp_path, checkpoint, prompt: str, also: str = "") -> tuple[str, str]:
    fake = tmp_path / "fake"
    fake.mkdir(exist_ok=True)
    (fake / "pkg_resources.py").write_text(FAKE_PKG_RESOURCES, encoding="utf-8")
    imported = tmp_path / "imported"
    imported.unlink(missing_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(fake), os.environ.get("PYTHONPATH", "")]),
        "FAKE_PKG_RESOURCES_IMPORTED": str(imported),
        "FAKE_PKG_RESOURCES_ALSO": also,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),  # jieba's dictionary read afresh
        "PYTHONWARNINGS": "",
    }
    done = subprocess.run(
        [sys.executable, "-m", "lyrics_tui.tui.cli", "generate", "--checkpoint",
         str(checkpoint), "--prompt", prompt, "--length", "5", "--seed", "1", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert imported.exists(), "the stand-in pkg_resources was not imported: the test proves nothing"
    return done.stdout, done.stderr


@pytest.fixture(scope="module")
def word_prompt(checkpoint_path) -> str:
    """A Chinese word the tiny model knows, so that jieba loads and nothing else warns."""
    vocab = load_checkpoint(checkpoint_path).vocab
    return next(t for t in vocab.tokens if len(t) >= 2 and "\u4e00" <= t[0] <= "\u9fff")


def test_generate_with_a_chinese_prompt_prints_no_warning(tmp_path, checkpoint_path, word_prompt):
    out, err = generate(tmp_path, checkpoint_path, word_prompt)
    assert json.loads(out.splitlines()[-1])["text"].startswith(word_prompt)
    assert err == ""


def test_other_warnings_still_show(tmp_path, checkpoint_path, word_prompt):
    _, err = generate(tmp_path, checkpoint_path, word_prompt, also="a warning of another kind")
    assert "UserWarning: a warning of another kind" in err
    assert "pkg_resources is deprecated" not in err
