"""Setting up a run (core/training/setup.py): what the CLI and the playground both build."""

from __future__ import annotations

import pytest

from lyrics_tui.core.errors import CheckpointError
from lyrics_tui.core.runs.store import open_store
from lyrics_tui.core.training.setup import read_training_corpus, set_up_run
from tests.helpers import TINY_MODEL, tiny_corpus, tiny_settings


@pytest.fixture
def corpus(tmp_path):
    return read_training_corpus(str(tiny_corpus(tmp_path)))


def setup_of(corpus, tmp_path, **over):
    model, train = tiny_settings()
    given = {"preset": "default", "model_given": TINY_MODEL, "sink": None}
    given.update(runs_db=str(tmp_path / "runs.db"), folder=tmp_path / "ck", device="cpu")
    given.update(over)
    return set_up_run(corpus, model, train, **given)


def test_a_run_saves_by_the_corpus_name_in_the_folder_and_is_recorded(corpus, tmp_path):
    seen = []
    setup = setup_of(corpus, tmp_path, sink=seen.append, launcher="playground")
    assert setup is not None
    assert setup.run.out_path == tmp_path / "ck" / "tiny.pt"
    assert setup.run.corpus_name == corpus.path and setup.run.device == "cpu"
    with setup.recorder:
        finished = setup.run.run()
    assert finished.epochs == 1 and seen[-1] == finished  # the recorder passes events on
    with open_store(str(tmp_path / "runs.db")) as store:
        (listed,) = store.list_runs()
        run = store.get_run(listed.id)
        assert (run.launcher, run.checkpoint) == ("playground", str(tmp_path / "ck" / "tiny.pt"))
        assert [e.epoch for e in store.epochs(run.id)] == [1]


def test_a_validation_file_replaces_the_held_out_share(corpus, tmp_path):
    val = tmp_path / "val.txt"
    val.write_text("风吹过\n天在走\n", encoding="utf-8")
    whole = setup_of(corpus, tmp_path, val_file=str(val), out_path=tmp_path / "v.pt")
    split = setup_of(corpus, tmp_path, out_path=tmp_path / "s.pt")
    assert whole is not None and split is not None
    assert whole.run.out_path == tmp_path / "v.pt"
    assert whole.recorder.val_file == str(val)
    assert len(whole.run.data.val_ids) < len(split.run.data.val_ids)


def test_an_unwritable_place_fails_before_training_unless_unchecked(corpus, tmp_path):
    with pytest.raises(CheckpointError, match="is a folder"):
        setup_of(corpus, tmp_path, out_path=tmp_path)
    assert setup_of(corpus, tmp_path, out_path=tmp_path, check_out=False) is not None


def test_a_stop_asked_while_setting_up_builds_and_records_nothing(corpus, tmp_path):
    assert setup_of(corpus, tmp_path, cancelled=lambda: True) is None
    assert not (tmp_path / "runs.db").exists()


def test_a_new_run_takes_a_name_no_earlier_run_holds(tmp_path):
    from lyrics_tui.core.paths import new_run_path

    corpus = str(tmp_path / "songs.txt")
    assert new_run_path(corpus, tmp_path) == tmp_path / "songs.pt"
    (tmp_path / "songs-last.pt").write_bytes(b"")  # a run stopped before its first best
    assert new_run_path(corpus, tmp_path) == tmp_path / "songs-2.pt"
    (tmp_path / "songs-2.pt").write_bytes(b"")
    assert new_run_path(corpus, tmp_path) == tmp_path / "songs-3.pt"
