"""Process-wide settings change only when an entry point asks (core/tuning.py): importing core,
or training with it from another program, leaves the process as it found it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT

# Runs in a fresh interpreter: what a library user's program sees before and after.
_PROGRAM = """
import json, os, sys
import torch
torch.set_num_threads(1)
import gc
before = {"env": {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
          "threads": torch.get_num_threads(), "switch": sys.getswitchinterval(),
          "frozen": gc.get_freeze_count()}
from lyrics_tui.core import (batches, cache, checkpoint, config, corpus, encoded, evaluate,
                             inspection, loading, model, runs, sampling, steppers, tokens, trainer)
from lyrics_tui.core.config import resolve_settings
from lyrics_tui.core.trainer import TrainingRun
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()[:120]
model_cfg, train_cfg = resolve_settings("default", {"embed": 16, "hidden": 16},
                                        {"epochs": 1, "batch_size": 8, "bptt": 8, "threads": 2})
TrainingRun(lines[:100], lines[100:], model_cfg, train_cfg).run()
after = {"env": {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
         "threads": torch.get_num_threads(), "switch": sys.getswitchinterval(),
         "frozen": gc.get_freeze_count()}
print(json.dumps([before, after]))
"""


def test_importing_core_and_training_changes_nothing_global(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM, str(ROOT / "data" / "lyrics.txt")],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    before, after = json.loads(done.stdout.splitlines()[-1])
    assert after == before  # threads asked for by the run (2) are given back; no env, no GIL
    assert before["env"] == {"OPENBLAS_NUM_THREADS": None, "MKL_NUM_THREADS": None}


_WATCHED = (
    "import os, sys\n"
    "seen = []\n"
    "class Watch:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name == 'numpy' and not seen:\n"
    "            seen.append(os.environ.get('OPENBLAS_NUM_THREADS'))\n"
    "sys.meta_path.insert(0, Watch())\n"
    "from lyrics_tui.tui import entry\n"
    "entry.prepare(sys.argv[1:])\n"
    "import lyrics_tui.tui.cli\n"
    "import numpy\n"
    "print(seen)\n"
)


@pytest.mark.parametrize(
    ("argv", "threads"),
    [
        ([], "1"),  # the playground: beside a training torch
        (["--corpus", "songci"], "1"),
        (["demo"], "1"),
        (["generate", "--checkpoint", "m.pt"], None),  # alone: OpenBLAS's own count
        (["runs", "--json"], None),
    ],
)
def test_the_blas_threads_are_chosen_before_numpy_loads(argv, threads, monkeypatch):
    """OpenBLAS reads its thread count once, when numpy loads: asked for later (the command
    line's own imports load numpy), the playground's two threads fought the trainer."""
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    done = subprocess.run(
        [sys.executable, "-c", _WATCHED, *argv], capture_output=True, text=True, timeout=60
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == repr([threads])


def test_the_entry_knows_every_command():
    from lyrics_tui.tui import entry
    from lyrics_tui.tui.cli import COMMANDS

    assert {*entry.ALONE, "demo"} == set(COMMANDS)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priority: Linux")
def test_the_trainers_thread_gives_way_only_once_the_interface_asks(monkeypatch):
    """background_priority() lowers the calling thread's priority (and the threads it starts
    inherit it: torch's workers) only after interface_first(); other threads keep theirs."""
    import os
    import threading

    from lyrics_tui.core import tuning

    def nice() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def in_a_thread() -> dict[str, object]:
        seen: dict[str, object] = {}

        def work() -> None:
            before = nice()
            seen["lowered"] = tuning.background_priority()
            seen["by"] = nice() - before
            child = threading.Thread(target=lambda: seen.update(child=nice() - before))
            child.start()
            child.join()

        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        return seen

    main = nice()
    monkeypatch.setattr(tuning, "_background_niceness", 0)
    monkeypatch.setattr(tuning, "_interface_first", False)  # both put back after the test
    assert in_a_thread() == {"lowered": False, "by": 0, "child": 0}
    if main > 19 - 3:
        pytest.skip("this process already runs at the lowest priority")
    tuning.interface_first(3)
    assert in_a_thread() == {"lowered": True, "by": 3, "child": 3}
    assert nice() == main  # the calling thread's own, not the process's


def test_long_lived_objects_leave_the_full_collections_only_once_the_interface_asks(monkeypatch):
    import gc

    from lyrics_tui.core import tuning

    monkeypatch.setattr(tuning, "_interface_first", False)
    frozen = gc.get_freeze_count()
    assert tuning.settle_long_lived() is False and gc.get_freeze_count() == frozen
    monkeypatch.setattr(tuning, "_interface_first", True)
    try:
        assert tuning.settle_long_lived() is True
        assert gc.get_freeze_count() > frozen  # this test's own objects among them
    finally:
        gc.unfreeze()


def test_a_settled_run_or_model_is_still_freed_once_dropped(monkeypatch, tmp_path):
    """Frozen objects are never looked at by the collector again: a run or a model held in a
    reference cycle when it was settled would stay in memory for good, one per run or load in
    a long playground session. Both go by reference counting alone."""
    import gc
    import weakref

    from lyrics_tui.core import tuning
    from lyrics_tui.core.config import resolve_settings
    from lyrics_tui.core.loading import open_checkpoint
    from lyrics_tui.core.trainer import TrainingRun

    lines = (ROOT / "data" / "lyrics.txt").read_text(encoding="utf-8").splitlines()[:120]
    model_cfg, train_cfg = resolve_settings(
        "default", {"embed": 16, "hidden": 16}, {"epochs": 1, "batch_size": 8, "bptt": 8}
    )
    monkeypatch.setattr(tuning, "_interface_first", True)
    gc.collect()
    try:
        run = TrainingRun(lines[:100], lines[100:], model_cfg, train_cfg,
                          out_path=tmp_path / "m.pt", sink=lambda event: None)  # fmt: skip
        tuning.settle_long_lived()
        run.run()
        opened = open_checkpoint(str(tmp_path / "m.pt"))
        opened.sampler, opened.rhymes, opened.cache()  # what the playground builds
        tuning.settle_long_lived()
        gone = [weakref.ref(run), weakref.ref(run.model), weakref.ref(opened)]
        del run, opened
        assert [ref() for ref in gone] == [None, None, None]  # before any collection
    finally:
        gc.unfreeze()
