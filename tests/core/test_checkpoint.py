"""Checkpoint files: round trip, atomic writes, hostile and broken files, full and unwritable disks,
and the torch-free fast reader."""

from __future__ import annotations

import errno
import io
import json
import os
import pickle
import random
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import pytest
import torch

from lyrics_tui.core.checkpoint import (
    FORMAT_VERSION,
    check_writable,
    load_checkpoint,
    save_checkpoint,
)
from lyrics_tui.core.errors import CheckpointError, LyricsError
from lyrics_tui.core.fastload import read_checkpoint, read_payload
from tests.helpers import ROOT

LOADERS = {"torch": load_checkpoint, "fast": read_checkpoint}


def refused(loader, path) -> str:
    with pytest.raises(CheckpointError) as info:
        LOADERS[loader](str(path))
    message = str(info.value)
    assert isinstance(info.value, LyricsError)
    assert "\n" not in message and str(path) in message
    return message


@pytest.fixture()
def good(checkpoint_path):
    return load_checkpoint(checkpoint_path)


@pytest.fixture()
def payload(good):
    return good.to_payload()


# -- round trip ------------------------------------------------------------------------------
def test_round_trip_keeps_everything(tmp_path, good):
    path = tmp_path / "copy.pt"
    assert save_checkpoint(good, path) == str(path)
    back = load_checkpoint(path)
    assert back.path == str(path)
    assert back.model_config == good.model_config and back.train_config == good.train_config
    assert back.vocab.tokens == good.vocab.tokens and back.vocab.counts == good.vocab.counts
    assert set(back.model_state) == set(good.model_state)
    assert all(torch.equal(back.model_state[k], good.model_state[k]) for k in good.model_state)
    assert back.optimizer_state["param_groups"] == good.optimizer_state["param_groups"]
    for key in ("epoch", "step", "elapsed_s", "history", "best_val_loss", "corpus"):
        assert getattr(back, key) == getattr(good, key), key


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, np.ndarray) and np.array_equal(a.numpy(), b) and a.shape == b.shape
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b or (a != a and b != b)


def test_fast_reader_gives_the_same_payload_as_torch_load(checkpoint_path):
    expected = torch.load(checkpoint_path, weights_only=True)
    assert _same(expected, read_payload(str(checkpoint_path)))
    fast, slow = read_checkpoint(str(checkpoint_path)), load_checkpoint(checkpoint_path)
    assert fast.vocab.tokens == slow.vocab.tokens and fast.epoch == slow.epoch
    assert fast.optimizer_state is None  # generation does not need it


def test_fast_reader_handles_tied_and_non_contiguous_tensors(tmp_path, payload):
    payload = dict(payload)
    weight = torch.arange(12.0).view(3, 4)
    payload["model_state"] = dict(
        payload["model_state"],
        extra_t=weight.t(),
        extra=weight,
        extra_slice=weight[1:, 2:],
        extra_scalar=torch.tensor(7.5),
        extra_empty=torch.zeros(0, 3),
        extra_long=torch.arange(3),
    )
    torch.save(payload, tmp_path / "odd.pt")
    fast = read_payload(str(tmp_path / "odd.pt"))
    assert _same(torch.load(tmp_path / "odd.pt", weights_only=True), fast)


# -- atomic writes ---------------------------------------------------------------------------
def test_save_writes_a_temp_file_beside_the_target_then_replaces_it(tmp_path, good, monkeypatch):
    target = tmp_path / "m.pt"
    save_checkpoint(good, target)
    old = target.read_bytes()
    seen = {}
    real_save, real_mkstemp = torch.save, tempfile.mkstemp

    def watching_mkstemp(*args, **kwargs):
        fd, name = real_mkstemp(*args, **kwargs)
        seen["name"] = name
        return fd, name

    def watching_save(obj, handle, *args, **kwargs):
        seen["target_during_write"] = target.read_bytes()
        return real_save(obj, handle, *args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", watching_mkstemp)
    monkeypatch.setattr(torch, "save", watching_save)
    good.epoch += 1
    save_checkpoint(good, target)
    assert (
        seen["target_during_write"] == old
    )  # the old file was whole while the new one was written
    assert os.path.dirname(seen["name"]) == str(tmp_path) and seen["name"] != str(target)
    assert load_checkpoint(target).epoch == good.epoch
    assert sorted(os.listdir(tmp_path)) == ["m.pt"]  # no temporary file left behind


def test_save_creates_missing_folders(tmp_path, good):
    path = tmp_path / "a" / "b" / "m.pt"
    save_checkpoint(good, path)
    assert load_checkpoint(path).epoch == good.epoch


def _assert_old_intact(folder, target, old_bytes):
    assert target.read_bytes() == old_bytes
    assert load_checkpoint(target)
    assert sorted(os.listdir(folder)) == [target.name]


def test_full_disk_at_fsync_leaves_the_old_file(tmp_path, good, monkeypatch):
    target = tmp_path / "m.pt"
    save_checkpoint(good, target)
    old = target.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(CheckpointError, match="disk is full") as info:
        save_checkpoint(good, target)
    assert "\n" not in str(info.value)
    monkeypatch.undo()
    _assert_old_intact(tmp_path, target, old)


def test_full_disk_mid_write_leaves_the_old_file(tmp_path, good, monkeypatch):
    target = tmp_path / "m.pt"
    save_checkpoint(good, target)
    old = target.read_bytes()
    real_save = torch.save

    class FullDisk(io.RawIOBase):
        def __init__(self, handle):
            self.handle, self.left = handle, 5000

        def writable(self):
            return True

        def write(self, data):
            if len(data) > self.left:
                self.handle.write(bytes(data[: self.left]))
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.left -= len(data)
            return self.handle.write(data)

    monkeypatch.setattr(
        torch, "save", lambda obj, handle, *a, **k: real_save(obj, FullDisk(handle))
    )
    with pytest.raises(CheckpointError, match=r"disk is full|not saved"):
        save_checkpoint(good, target)
    monkeypatch.undo()
    _assert_old_intact(tmp_path, target, old)


def test_unwritable_folder_is_one_line_and_destroys_nothing(tmp_path, good, monkeypatch):
    target = tmp_path / "m.pt"
    save_checkpoint(good, target)
    old = target.read_bytes()

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(CheckpointError, match="not writable"):
        save_checkpoint(good, target)
    monkeypatch.undo()
    _assert_old_intact(tmp_path, target, old)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_for_real(tmp_path, good):
    folder = tmp_path / "ro"
    folder.mkdir()
    target = folder / "m.pt"
    save_checkpoint(good, target)
    folder.chmod(0o500)
    try:
        with pytest.raises(CheckpointError, match="not writable"):
            save_checkpoint(good, target)
    finally:
        folder.chmod(0o700)


def test_a_file_where_the_folder_should_be(tmp_path, good):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(CheckpointError, match="is a file, not a folder"):
        save_checkpoint(good, tmp_path / "plain" / "m.pt")
    with pytest.raises(CheckpointError, match="is a file, not a folder"):
        check_writable(tmp_path / "plain" / "m.pt")


def test_check_writable_fails_before_a_run_and_leaves_nothing(tmp_path, monkeypatch):
    check_writable(tmp_path / "new" / "m.pt")  # creates the folder, leaves no file
    assert os.listdir(tmp_path / "new") == []
    with pytest.raises(CheckpointError, match="is a folder"):
        check_writable(tmp_path)

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(CheckpointError, match="not writable"):
        check_writable(tmp_path / "m.pt")


# -- broken and foreign files ----------------------------------------------------------------
@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("keep", [0.02, 0.3, 0.5, 0.9, 0.999])
def test_truncated_file(tmp_path, checkpoint_path, loader, keep):
    data = checkpoint_path.read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[: max(1, int(len(data) * keep))])
    refused(loader, path)


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("seed", range(3))
def test_random_bytes(tmp_path, loader, seed):
    rng = random.Random(seed)
    path = tmp_path / "noise.pt"
    path.write_bytes(bytes(rng.randrange(256) for _ in range(5000)))
    refused(loader, path)


@pytest.mark.parametrize("loader", LOADERS)
def test_empty_missing_and_folder(tmp_path, loader):
    (tmp_path / "empty.pt").write_bytes(b"")
    assert "empty" in refused(loader, tmp_path / "empty.pt")
    assert "no such file" in refused(loader, tmp_path / "missing.pt")
    assert "folder" in refused(loader, tmp_path)
    os.mkfifo(tmp_path / "pipe.pt")  # never opened: reading it would wait for a writer
    assert "a pipe or a device" in refused(loader, tmp_path / "pipe.pt")
    assert "a pipe or a device" in refused(loader, "/dev/zero")


class _RunsCode:
    """Pickles to a call of os.system: loading it with plain pickle would create the marker."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _hostile_files(folder, payload):
    marker = folder / "PWNED"
    evil = _RunsCode(marker)
    files = {}
    files["plain-pickle"] = pickle.dumps(evil)
    buf = io.BytesIO()
    torch.save(dict(payload, model_state={"embedding.weight": evil}), buf)
    files["inside-a-checkpoint"] = buf.getvalue()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"format": evil}))
        archive.writestr("archive/byteorder", "little")
    files["hand-made-zip"] = buf.getvalue()
    # the trap is real: plain pickle would run it
    pickle.loads(files["plain-pickle"])
    assert marker.exists()
    marker.unlink()
    return marker, files


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("loader", LOADERS)
def test_a_pickle_built_to_run_code_does_not_run(tmp_path, payload, loader):
    marker, files = _hostile_files(tmp_path, payload)
    for name, data in files.items():
        path = tmp_path / f"{name}.pt"
        path.write_bytes(data)
        message = refused(loader, path)
        assert not marker.exists(), f"{name}: code ran while loading"
        if name != "plain-pickle" or loader == "torch":
            assert "refused" in message or "not a" in message, message


@pytest.mark.parametrize("loader", LOADERS)
def test_another_format_version(tmp_path, payload, loader):
    torch.save(dict(payload, format_version=FORMAT_VERSION + 98), tmp_path / "future.pt")
    message = refused(loader, tmp_path / "future.pt")
    assert f"version {FORMAT_VERSION + 98}" in message


@pytest.mark.parametrize("loader", LOADERS)
def test_foreign_torch_files(tmp_path, loader):
    torch.save({"weight": torch.zeros(3)}, tmp_path / "state.pt")
    assert "not a lyrics-tui checkpoint" in refused(loader, tmp_path / "state.pt")
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")  # a whole pickled module
    refused(loader, tmp_path / "module.pt")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    refused(loader, tmp_path / "list.pt")


@pytest.mark.parametrize("loader", LOADERS)
def test_a_zip_that_is_not_a_checkpoint(tmp_path, loader):
    with zipfile.ZipFile(tmp_path / "notes.pt", "w") as archive:
        archive.writestr("notes.txt", "hello")
    refused(loader, tmp_path / "notes.pt")


@pytest.mark.parametrize("loader", LOADERS)
def test_vocabulary_that_does_not_match_the_weights(tmp_path, payload, loader):
    vocab = dict(payload["vocab"])
    vocab["tokens"] = vocab["tokens"][:-1]
    vocab["counts"] = vocab["counts"][:-1]
    torch.save(dict(payload, vocab=vocab), tmp_path / "v.pt")
    assert "disagree" in refused(loader, tmp_path / "v.pt")


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("drop", ["vocab", "model_config", "model_state"])
def test_incomplete_payload(tmp_path, payload, loader, drop):
    torch.save({k: v for k, v in payload.items() if k != drop}, tmp_path / "part.pt")
    refused(loader, tmp_path / "part.pt")


@pytest.mark.parametrize("loader", LOADERS)
def test_a_tensor_that_reaches_past_its_storage(tmp_path, loader):
    """A hostile size must not make the fast reader read outside the file (as_strided)."""
    buf = io.BytesIO()
    torch.save({"a": torch.arange(4.0)}, buf)
    source = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    name = next(n for n in source.namelist() if n.endswith("data.pkl"))
    pkl = source.read(name)
    marker = b"K\x00K\x04\x85"  # offset 0, size (4,)
    assert pkl.count(marker) == 1
    with zipfile.ZipFile(tmp_path / "huge.pt", "w") as out:
        for item in source.namelist():
            data = source.read(item)
            out.writestr(item, data.replace(marker, b"K\x00K\xff\x85") if item == name else data)
    refused(loader, tmp_path / "huge.pt")


# -- SIGKILL while saving --------------------------------------------------------------------
KILLER = r"""
import json, os, random, signal, sys, time
sys.path.insert(0, sys.argv[1])
from lyrics_tui.core.checkpoint import load_checkpoint, save_checkpoint
from lyrics_tui.core.fastload import read_checkpoint

source, target, rounds = sys.argv[2], sys.argv[3], int(sys.argv[4])
base = load_checkpoint(source)
save_checkpoint(base, target)
rng = random.Random(1234)
t0 = time.perf_counter()
save_checkpoint(base, target + ".timing")
save_s = time.perf_counter() - t0
os.unlink(target + ".timing")
results = []
for i in range(rounds):
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child saves again and again, announcing each save on the pipe
        os.close(read_end)
        n = 0
        while True:
            n += 1
            base.epoch = 1000 + n
            os.write(write_end, b"s")
            save_checkpoint(base, target)
    os.close(write_end)
    for _ in range(rng.randrange(1, 4)):
        os.read(read_end, 1)  # a save has begun
    time.sleep(rng.uniform(0, save_s))  # kill at a random moment inside the save
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    os.close(read_end)
    slow, fast = load_checkpoint(target), read_checkpoint(target)
    leftover = sum(name.endswith(".tmp") for name in os.listdir(os.path.dirname(target)))
    results.append({"epoch": slow.epoch, "fast_epoch": fast.epoch, "tmp": leftover})
print(json.dumps({"save_s": save_s, "results": results}))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_sigkill_while_saving_20_times_the_checkpoint_still_loads(tmp_path, checkpoint_path):
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    target = tmp_path / "run" / "m.pt"
    target.parent.mkdir()
    done = subprocess.run(
        [sys.executable, str(script), str(ROOT), str(checkpoint_path), str(target), "20"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    # the loop raises (and exits non-zero) on the first checkpoint that does not load
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    results = report["results"]
    assert len(results) == 20
    for r in results:
        assert r["epoch"] == r["fast_epoch"]
        assert r["epoch"] == load_checkpoint(checkpoint_path).epoch or r["epoch"] > 1000
    # saves were really interrupted: kills left the temporary file of a save in progress...
    assert any(r["tmp"] for r in results)
    # ...and the next save cleared the dead one's, so crashes do not pile up on the disk
    assert max(r["tmp"] for r in results) <= 1


def test_a_save_removes_temp_files_of_dead_savers_only(tmp_path, good):
    target = tmp_path / "m.pt"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    stale = tmp_path / f".m.pt.{dead}.abc.tmp"
    live = tmp_path / f".m.pt.{os.getppid()}.def.tmp"  # a live process may be saving now
    other = tmp_path / f".other.pt.{dead}.ghi.tmp"
    for path in (stale, live, other):
        path.write_bytes(b"half a checkpoint")
    save_checkpoint(good, target)
    assert not stale.exists() and live.exists() and other.exists()


def test_an_edited_files_settings_are_one_line_or_no_song_memory(tmp_path):
    """eval read the torch copy of a file the numpy reader refused: an unknown cell was a
    KeyError, a stored λ of 1 a math domain error."""
    from dataclasses import replace

    from lyrics_tui.core.cache import stored_fit
    from tests.helpers import hand_built_checkpoint

    checkpoint, _ = hand_built_checkpoint(tmp_path / "m.pt")
    edited = replace(checkpoint, model_config=replace(checkpoint.model_config, cell="transformer"))
    save_checkpoint(edited, tmp_path / "cell.pt")
    with pytest.raises(CheckpointError, match="its stored settings do not hold: cell must be"):
        load_checkpoint(tmp_path / "cell.pt")
    fit = {"window": 50, "theta": 1.0, "lambda": 1.0, "plain_ppl": 9.0, "cache_ppl": 8.0}
    assert stored_fit(replace(checkpoint, cache=fit)) is None  # λ past 0.99: not fitted
    assert stored_fit(replace(checkpoint, cache={**fit, "lambda": 0.5})) is not None
