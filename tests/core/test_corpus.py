"""Reading corpus files: encodings, line endings, every file that must be refused in one line."""

from __future__ import annotations

import codecs
import os
import random

import pytest

from lyrics_tui.core.corpus import SNIFF_BYTES, read_corpus, split_lines
from lyrics_tui.core.errors import CorpusError, LyricsError

LINES = ["霓虹灯亮起在街角", "晚风吹过高楼的怀抱", "Hello 世界 123"]


def write(tmp_path, data: bytes, name: str = "c.txt"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def refusal(path) -> str:
    with pytest.raises(CorpusError) as info:
        read_corpus(path)
    message = str(info.value)
    assert isinstance(info.value, LyricsError)
    assert "\n" not in message and message.startswith(str(path))
    return message


def test_utf8_lf(tmp_path):
    corpus = read_corpus(write(tmp_path, "\n".join(LINES).encode()))
    assert corpus.lines == LINES and corpus.encoding == "utf-8"


def test_utf8_bom_and_crlf(tmp_path):
    data = codecs.BOM_UTF8 + "\r\n".join(LINES).encode() + b"\r\n"
    corpus = read_corpus(write(tmp_path, data))
    assert corpus.lines == LINES  # no BOM glued to the first word, no stray \r
    assert not corpus.lines[0].startswith("\ufeff")


def test_old_mac_cr_endings(tmp_path):
    assert read_corpus(write(tmp_path, "\r".join(LINES).encode())).lines == LINES


def test_blank_and_whitespace_lines_are_skipped_and_lines_stripped(tmp_path):
    text = "\n\n  " + LINES[0] + "  \n\t\n\u3000\n" + LINES[1] + "\n\n\n" + LINES[2] + "\n   "
    assert read_corpus(write(tmp_path, text.encode())).lines == LINES


@pytest.mark.parametrize("encoding", ["gb18030", "gbk"])
def test_gb18030_and_gbk(tmp_path, encoding):
    text = "\n".join(LINES[:2]) + "\n"
    corpus = read_corpus(write(tmp_path, text.encode(encoding)))
    assert corpus.lines == LINES[:2]
    assert corpus.encoding == "gb18030"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_utf16_with_bom_reads(tmp_path, encoding):
    data = "\r\n".join(LINES).encode(encoding)
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    assert read_corpus(write(tmp_path, data)).lines == LINES


def test_utf16_without_bom_is_refused_in_one_line(tmp_path):
    message = refusal(write(tmp_path, "\n".join(LINES).encode("utf-16-le")))
    assert "binary" in message


def test_non_utf8_after_the_sniffed_head_is_refused_in_one_line(tmp_path):
    data = b"abc\n" * (SNIFF_BYTES // 4 + 10) + "中文\n".encode("gbk")
    message = refusal(write(tmp_path, data))
    assert "utf-8" in message


def test_empty_file(tmp_path):
    assert "empty" in refusal(write(tmp_path, b""))


def test_whitespace_only_file(tmp_path):
    assert "no text" in refusal(write(tmp_path, b"  \n\t\r\n\n \xe3\x80\x80\n"))


def test_binary_file_with_nul_bytes(tmp_path):
    rng = random.Random(1)
    data = b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(4096))
    assert "binary" in refusal(write(tmp_path, data, "picture.png"))


def test_binary_file_of_control_characters(tmp_path):
    rng = random.Random(2)
    data = bytes(rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16, 65, 66]) for _ in range(4096))
    assert "binary" in refusal(write(tmp_path, data))


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_without_nul_are_refused(tmp_path, seed):
    rng = random.Random(seed)
    data = bytes(rng.randrange(1, 256) for _ in range(8192))
    refusal(write(tmp_path, data))


def test_a_folder(tmp_path):
    assert "folder" in refusal(tmp_path)


@pytest.mark.parametrize("name", ["", "  "])
def test_no_name_at_all_is_not_the_current_folder(name):
    with pytest.raises(CorpusError, match="no corpus named"):
        read_corpus(name)


def test_utf16_without_a_byte_order_mark_is_named_as_a_likely_cause(tmp_path):
    said = refusal(write(tmp_path, "我爱你 love\n你爱我\n".encode("utf-16-le")))
    assert "binary" in said and "UTF-16 without a byte-order mark" in said


def test_a_missing_file(tmp_path):
    assert "no such file" in refusal(tmp_path / "missing.txt")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file(tmp_path):
    path = write(tmp_path, b"abc\n")
    path.chmod(0)
    assert "permission" in refusal(path)


def test_a_single_line(tmp_path):
    corpus = read_corpus(write(tmp_path, LINES[0].encode()))  # no final newline
    assert corpus.lines == [LINES[0]]
    train, val = corpus.split(0.1)
    assert train == [LINES[0]] and val == []


def test_one_line_of_100000_characters(tmp_path):
    line = ("晚风吹过高楼的怀抱" * 12_000)[:100_000]
    corpus = read_corpus(write(tmp_path, line.encode() + b"\n"))
    assert len(corpus.lines) == 1 and len(corpus.lines[0]) == 100_000


def test_split_takes_the_last_fraction_for_validation():
    lines = [str(i) for i in range(100)]
    train, val = split_lines(lines, 0.1)
    assert train == lines[:90] and val == lines[90:]
    assert split_lines(lines, 0.0) == (lines, [])
    # a tiny corpus still gets one validation line when one is asked for
    assert split_lines(["a", "b", "c"], 0.1) == (["a", "b"], ["c"])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes: POSIX")
def test_a_pipe_is_read_once_and_whole(tmp_path):
    """<(cat a b) and /dev/stdin are pipes: the encoding sniffed from the first bytes, the
    lines read by opening the file again found it empty ('holds no text')."""
    import threading

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    text = "月光洒在窗台\r\n\n你的歌 还在唱\n" * 3000  # past the bytes sniffed

    def write() -> None:
        with open(pipe, "w", encoding="utf-8") as handle:
            handle.write(text)

    writer = threading.Thread(target=write)
    writer.start()
    corpus = read_corpus(pipe)
    writer.join(10)
    assert corpus.lines == ["月光洒在窗台", "你的歌 还在唱"] * 3000
