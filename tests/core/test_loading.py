"""Start-up with no checkpoint named: the newest best checkpoint opens, a -last file only when
its best sibling is missing or broken, and a corrupt newest file is named and passed over."""

from __future__ import annotations

import os
import shutil

import pytest

from lyrics_tui.core.loading import open_startup_model, startup_order


@pytest.fixture
def folder(tmp_path, trained):
    """checkpoints/ holding a tiny model's best and last files, the last written later."""
    target = tmp_path / "checkpoints"
    target.mkdir()
    shutil.copy(trained["path"], target / "tiny.pt")
    shutil.copy(trained["last"], target / "tiny-last.pt")
    age(target / "tiny.pt", 100)
    age(target / "tiny-last.pt", 50)
    return target


def age(path, seconds_ago: float) -> None:
    when = 2_000_000_000 - seconds_ago
    os.utime(path, (when, when))


def corrupt(path) -> None:
    """Truncate the file, keeping its time."""
    when = path.stat().st_mtime
    path.write_bytes(path.read_bytes()[:300])
    os.utime(path, (when, when))


def test_the_best_checkpoint_opens_not_its_newer_last_state(folder):
    assert [p.name for p in startup_order(folder)] == ["tiny.pt", "tiny-last.pt"]
    start = open_startup_model(folder)
    assert start.opened is not None and start.opened.path == str(folder / "tiny.pt")
    assert start.notes == ()


def test_a_newer_model_opens_first(folder):
    shutil.copy(folder / "tiny.pt", folder / "other.pt")
    age(folder / "other.pt", 10)
    assert [p.name for p in startup_order(folder)] == ["other.pt", "tiny.pt", "tiny-last.pt"]
    assert open_startup_model(folder).opened.path == str(folder / "other.pt")


def test_a_last_state_without_its_best_sibling_opens(folder):
    (folder / "tiny.pt").unlink()
    start = open_startup_model(folder)
    assert start.opened.path == str(folder / "tiny-last.pt") and start.notes == ()


def test_a_corrupt_newest_file_is_named_and_the_next_readable_one_opens(folder):
    shutil.copy(folder / "tiny.pt", folder / "newest.pt")
    age(folder / "newest.pt", 1)
    corrupt(folder / "newest.pt")
    start = open_startup_model(folder)
    assert start.opened is not None and start.opened.path == str(folder / "tiny.pt")
    assert len(start.notes) == 2
    assert str(folder / "newest.pt") in start.notes[0] and "not a readable" in start.notes[0]
    assert str(folder / "tiny.pt") in start.notes[1]
    assert all("\n" not in note for note in start.notes)
    assert start.opened.sampler() is not None  # ready to generate


def test_a_corrupt_best_file_falls_back_to_its_last_state(folder):
    corrupt(folder / "tiny.pt")
    start = open_startup_model(folder)
    assert start.opened.path == str(folder / "tiny-last.pt")
    assert "tiny.pt" in start.notes[0] and "tiny-last.pt" in start.notes[-1]


def test_nothing_readable_opens_nothing_and_says_why(folder):
    corrupt(folder / "tiny.pt")
    (folder / "tiny-last.pt").write_bytes(b"")
    start = open_startup_model(folder)
    assert start.opened is None
    assert len(start.notes) == 2 and "the file is empty" in start.notes[1]


def test_an_empty_or_missing_folder_opens_nothing_quietly(tmp_path):
    assert open_startup_model(tmp_path) == open_startup_model(tmp_path / "missing")
    start = open_startup_model(tmp_path)
    assert start.opened is None and start.notes == ()
