"""Shared fixtures: tiny settings, a small corpus, one tiny trained checkpoint per session.

Tests marked `slow` (the 50 MB corpus) are skipped unless pytest is given --run-slow.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import BUNDLED, tiny_settings


def pytest_addoption(parser):
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run tests marked slow (the 50 MB corpus)",
    )


def pytest_configure(config):
    # Property tests draw the same examples on every run: CI gates landing, so a red must be
    # reproducible, not a new random draw. (To explore new examples, drop this profile.)
    from hypothesis import settings

    settings.register_profile("reproducible", derandomize=True)
    settings.load_profile("reproducible")
    config.addinivalue_line("markers", "slow: takes minutes or a lot of memory; needs --run-slow")
    # the jieba dictionary cache (core.tokens) goes to a folder of the test session's own
    import os
    import tempfile

    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="lyrics-tui-test-cache-")
    # downloaded corpora too: no test reads or writes the user's data folder
    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="lyrics-tui-test-data-")
    # and no run is ever recorded in the real per-user run store (see also _runs_db below)
    os.environ["LYRICS_TUI_RUNS_DB"] = os.path.join(
        tempfile.mkdtemp(prefix="lyrics-tui-test-runs-"), "runs.sqlite3"
    )


def pytest_collection_modifyitems(config, items):
    # The tests that start processes or a browser first: each takes 10-40 s, and the two
    # workers then share them out rather than one finishing the suite alone with the last.
    items.sort(key=lambda item: not ({"processes", "browser"} & set(item.keywords)))
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _runs_db(tmp_path_factory, monkeypatch):
    """Each test records its training runs in a run store of its own (subprocesses inherit
    the variable), outside its tmp_path so that no test finds an unexpected file there."""
    path = tmp_path_factory.mktemp("runs") / "runs.sqlite3"
    monkeypatch.setenv("LYRICS_TUI_RUNS_DB", str(path))
    return path


@pytest.fixture(scope="session")
def bundled_lines() -> list[str]:
    from lyrics_tui.core.corpus import read_corpus

    return read_corpus(BUNDLED).lines


@pytest.fixture(scope="session")
def small_lines(bundled_lines) -> list[str]:
    """The first 300 lines of the bundled corpus: verses and repeated choruses."""
    return bundled_lines[:300]


@pytest.fixture(scope="session")
def trained(tmp_path_factory, small_lines):
    """One tiny word-level LSTM trained for two epochs, saved as best + last checkpoints."""
    from lyrics_tui.core.trainer import TrainingRun

    folder = tmp_path_factory.mktemp("trained")
    model_cfg, train_cfg = tiny_settings(train={"epochs": 2})
    events: list = []
    run = TrainingRun(
        small_lines[:270],
        small_lines[270:],
        model_cfg,
        train_cfg,
        out_path=folder / "tiny.pt",
        sink=events.append,
        corpus_name="small",
    )
    finished = run.run()
    assert finished.reason == "completed", finished
    return {
        "path": folder / "tiny.pt",
        "last": folder / "tiny-last.pt",
        "run": run,
        "events": events,
        "finished": finished,
    }


@pytest.fixture(scope="session")
def checkpoint_path(trained) -> Path:
    return trained["path"]
