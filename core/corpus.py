"""Reading a corpus file: one lyric line per line, any common Chinese text encoding.

The file is read as a stream of lines (never whole into one string), so a large file costs
memory in proportion to its lines, not twice its size.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lyrics_tui.core.errors import CorpusError

SNIFF_BYTES = 64 * 1024
BUNDLED_CORPUS = Path(__file__).resolve().parent.parent / "data" / "lyrics.txt"


@dataclass(frozen=True)
class Corpus:
    """The non-blank lines of a text file, stripped of surrounding whitespace."""

    path: str
    encoding: str
    lines: list[str]

    def split(self, val_fraction: float) -> tuple[list[str], list[str]]:
        """The first lines for training and the last `val_fraction` of them for validation."""
        return split_lines(self.lines, val_fraction)


def split_lines(lines: list[str], val_fraction: float) -> tuple[list[str], list[str]]:
    cut = len(lines) - int(len(lines) * val_fraction)
    if val_fraction > 0 and cut == len(lines) and len(lines) > 1:
        cut -= 1  # a tiny corpus still gets one validation line when one was asked for
    return lines[:cut], lines[cut:]


def detect_encoding(head: bytes) -> str:
    """The encoding of a file from its first bytes; raises CorpusError for binary data."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        raise CorpusError("looks like a binary file (it contains NUL bytes), not text")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        encoding = "utf-8"
    except UnicodeDecodeError:
        try:
            codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
            encoding = "gb18030"  # a superset of GBK and GB2312
        except UnicodeDecodeError:
            raise CorpusError("is neither UTF-8 nor GB18030/GBK text") from None
    text = head.decode(encoding, errors="ignore")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    if text and controls / len(text) > 0.05:
        raise CorpusError("looks like a binary file (many control characters), not text")
    return encoding


def iter_lines(path: str | os.PathLike, encoding: str) -> Iterator[str]:
    """Non-blank lines, stripped; CRLF, LF and CR endings alike."""
    with open(path, encoding=encoding, newline=None) as handle:
        for raw in handle:
            line = raw.strip()
            if line:
                yield line


def read_corpus(path: str | os.PathLike) -> Corpus:
    """Read a corpus file, or raise CorpusError with one line that names the file."""
    name = str(path)
    try:
        if Path(path).is_dir():
            raise CorpusError(f"{name}: is a folder, not a text file")
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except FileNotFoundError:
        raise CorpusError(f"{name}: no such file") from None
    except PermissionError:
        raise CorpusError(f"{name}: permission denied") from None
    except OSError as exc:
        raise CorpusError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    if not head:
        raise CorpusError(f"{name}: the file is empty")
    try:
        encoding = detect_encoding(head)
    except CorpusError as exc:
        raise CorpusError(f"{name}: {exc}") from None
    try:
        lines = list(iter_lines(path, encoding))
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{name}: not valid {encoding} text past byte {exc.start}") from None
    except OSError as exc:
        raise CorpusError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    if not lines:
        raise CorpusError(f"{name}: holds no text, only blank lines or whitespace")
    return Corpus(path=name, encoding=encoding, lines=lines)
