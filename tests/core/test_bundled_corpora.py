"""The bundled corpora by name: `lyrics`, `songci` or a path, each with its own settings."""

from __future__ import annotations

import hashlib

import pytest

from lyrics_tui.core import corpus as C
from lyrics_tui.core.errors import CorpusError
from tests.helpers import ROOT

SONGCI_SHA256 = "c08932aacc673037334905399d9d737253eba10dfee37e8635d0af6fe350b5a4"  # ../shared


def test_each_name_is_a_readable_file_in_data_with_its_credit():
    credits = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    for name, bundled in C.BUNDLED.items():
        path = C.corpus_path(name)
        assert path == ROOT / "data" / bundled.file
        assert C.read_corpus(path).lines
        assert f"`{bundled.file}`" in credits
    assert C.corpus_path(None) == C.BUNDLED_CORPUS == C.corpus_path(C.DEFAULT_CORPUS)


def test_songci_is_the_shared_file_unchanged():
    data = (ROOT / "data" / "songci.txt").read_bytes()
    assert hashlib.sha256(data).hexdigest() == SONGCI_SHA256
    assert len(C.read_corpus(C.corpus_path("songci")).lines) == 7567


def test_a_name_wins_over_a_file_of_that_name_and_a_path_reads_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "songci").write_text("自己的歌\n", encoding="utf-8")
    assert C.corpus_path("songci") == C.BUNDLED["songci"].path
    assert C.read_corpus(C.corpus_path("./songci")).lines == ["自己的歌"]
    assert C.bundled_corpus("./songci") is None


def test_an_unknown_name_is_one_line_naming_the_bundled_ones():
    with pytest.raises(CorpusError) as info:
        C.corpus_path("songcii")
    assert str(info.value) == (
        "songcii: neither a bundled corpus (lyrics, songci), a downloadable one (jaychou) nor "
        "a file; did you mean songci?"
    )


def test_a_missing_file_is_left_to_the_reader_to_name(tmp_path):
    path = C.corpus_path(tmp_path / "gone.txt")
    with pytest.raises(CorpusError, match=r"gone\.txt: no such file"):
        C.read_corpus(path)


def test_a_bundled_corpus_missing_from_the_installation_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(C, "DATA_DIR", tmp_path)
    with pytest.raises(CorpusError) as info:
        C.corpus_path("songci")
    assert "songci: the bundled corpus is missing from this installation" in str(info.value)
    assert "\n" not in str(info.value)


def test_a_bundled_corpus_is_known_by_its_path_too():
    assert C.bundled_corpus(str(ROOT / "data" / "songci.txt")) is C.BUNDLED["songci"]
    assert C.bundled_corpus(None) is C.BUNDLED["lyrics"]
    assert C.bundled_corpus("elsewhere.txt") is None


def test_settings_come_from_the_preset_then_the_corpus_then_the_flags():
    """The corpus's tokenizer always; its other settings only over the preset they were chosen
    for (songci's dropout is not forced on the tutorial's network)."""
    model, songci = C.corpus_settings("songci")
    assert songci.tokenizer == "char" and model.dropout == 0.5 and model.cell == "gru"
    _, by_path = C.corpus_settings(ROOT / "data" / "songci.txt")
    assert by_path == songci
    _, asked = C.corpus_settings("songci", train_overrides={"tokenizer": "word", "lr": None})
    assert asked.tokenizer == "word"
    model, tutorial = C.corpus_settings("songci", preset="tutorial")
    assert model.cell == "rnn" and model.dropout == 0 and tutorial.tokenizer == "char"
    model, _ = C.corpus_settings("songci", preset="default", model_overrides={"dropout": 0.1})
    assert model.dropout == 0.1
    _, lyrics = C.corpus_settings("lyrics")
    _, other = C.corpus_settings("mine.txt")
    assert lyrics.tokenizer == other.tokenizer == "word"
