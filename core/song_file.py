"""Writing a generated song to a file. A song never replaces a checkpoint or any file that is
not text, and replaces another song only when the caller says so (the playground asks first);
the default name is a new one, so saving twice keeps both songs."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from lyrics_tui.core.errors import LyricsError
from lyrics_tui.core.paths import first_free, song_file_name

_SNIFF = 1 << 16  # enough of a file to tell text from a checkpoint or other binary data
_ORDINARY = 0o644


class SongFileError(LyricsError):
    """A song cannot be written there (a folder, a checkpoint, a binary file, unwritable)."""


class SongFileExists(SongFileError):
    """The file holds text already: write_song replaces it only with replace=True."""


def new_song_path(folder: Path, corpus: str, seed: int | None) -> Path:
    """<folder>/<corpus stem>-seed<seed>.txt, numbered (-2, -3, ...) when that name is taken."""
    return first_free(folder / song_file_name(corpus, seed), lambda p: p.exists() or p.is_symlink())


def check_replaceable(target: Path) -> None:
    """Raise SongFileError unless `target` is missing, empty or holds text (a song)."""
    if not target.exists() and not target.is_symlink():
        return
    if target.is_dir():
        raise SongFileError(f"{target}: is a folder; name a file in it")
    if not target.is_file():
        raise SongFileError(f"{target}: not a regular file; a song will not replace it")
    try:
        with target.open("rb") as handle:
            head = handle.read(_SNIFF)
    except OSError as exc:
        raise SongFileError(f"{target}: cannot be read ({exc.strerror or exc})") from None
    if head.startswith(b"PK\x03\x04"):
        raise SongFileError(f"{target}: holds a checkpoint, which a song will not replace")
    if not _is_text(head, whole=len(head) < _SNIFF):
        raise SongFileError(f"{target}: is not UTF-8 text; a song will not replace it")


def _is_text(head: bytes, whole: bool) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return not whole and exc.start >= len(head) - 3  # the read stopped inside a character
    return True


def write_song(target: Path, text: str, replace: bool = False) -> int:
    """Write `text` (ending with a newline) to `target` atomically; the characters written.
    An existing song raises SongFileExists unless `replace`; see check_replaceable."""
    check_replaceable(target)
    if not replace and target.exists() and target.stat().st_size:
        raise SongFileExists(f"{target}: holds a song already")
    body = text if text.endswith("\n") else text + "\n"
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise SongFileError(f"{target}: not written ({exc.strerror or exc})") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(body)
        # mkstemp makes a file only its owner reads; a song is an ordinary file
        os.chmod(temp, target.stat().st_mode & 0o777 if target.exists() else _ORDINARY)
        os.replace(temp, target)
    except OSError as exc:
        raise SongFileError(f"{target}: not written ({exc.strerror or exc})") from None
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return len(text)
