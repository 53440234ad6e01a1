"""Writing a song to a file: never over a checkpoint or a binary file, over a song only when
asked, and the default name is always a new one."""

from __future__ import annotations

import stat

import pytest

from lyrics_tui.core.song_file import (
    SongFileError,
    SongFileExists,
    new_song_path,
    write_song,
)


def test_the_default_name_is_numbered_rather_than_taken(tmp_path):
    first = new_song_path(tmp_path, "data/lyrics.txt", 7)
    assert first == tmp_path / "lyrics-seed7.txt"
    write_song(first, "一首歌")
    second = new_song_path(tmp_path, "data/lyrics.txt", 7)
    assert second == tmp_path / "lyrics-seed7-2.txt"
    write_song(second, "另一首")
    assert new_song_path(tmp_path, "data/lyrics.txt", 7).name == "lyrics-seed7-3.txt"
    assert first.read_text(encoding="utf-8") == "一首歌\n"


def test_a_song_replaces_a_song_only_when_asked(tmp_path):
    target = tmp_path / "song.txt"
    target.write_text("the first song\n", encoding="utf-8")
    with pytest.raises(SongFileExists):
        write_song(target, "the second")
    assert target.read_text(encoding="utf-8") == "the first song\n"
    assert write_song(target, "the second", replace=True) == len("the second")
    assert target.read_text(encoding="utf-8") == "the second\n"


def test_an_empty_file_is_filled_without_asking(tmp_path):
    target = tmp_path / "empty.txt"
    target.touch()
    write_song(target, "歌")
    assert target.read_text(encoding="utf-8") == "歌\n"


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"PK\x03\x04" + b"\x00" * 100, "holds a checkpoint"),
        (b"\x00\x01\x02binary", "is not UTF-8 text"),
        ("歌词".encode("gb18030") + b"\xff\xfe", "is not UTF-8 text"),
    ],
)
def test_a_song_never_replaces_a_checkpoint_or_binary_file(tmp_path, content, said):
    target = tmp_path / "model.pt"
    target.write_bytes(content)
    for replace in (False, True):
        with pytest.raises(SongFileError, match=said) as caught:
            write_song(target, "歌", replace=replace)
        assert not isinstance(caught.value, SongFileExists)
    assert target.read_bytes() == content


def test_a_long_text_file_cut_inside_a_character_is_still_text(tmp_path):
    target = tmp_path / "long.txt"
    target.write_text("歌" * 30_000, encoding="utf-8")  # 90,000 bytes: the sniff ends mid-character
    with pytest.raises(SongFileExists):
        write_song(target, "new")


def test_folders_and_missing_folders_are_one_line(tmp_path):
    with pytest.raises(SongFileError, match="is a folder"):
        write_song(tmp_path, "歌")
    with pytest.raises(SongFileError, match="not written"):
        write_song(tmp_path / "no" / "such" / "song.txt", "歌")
    assert not (tmp_path / "no").exists()


def test_a_new_song_is_an_ordinary_readable_file(tmp_path):
    target = tmp_path / "song.txt"
    write_song(target, "歌")
    assert stat.S_IMODE(target.stat().st_mode) & 0o044 == 0o044  # not private to its writer
    assert [p.name for p in tmp_path.iterdir()] == ["song.txt"]  # no temporary file left
