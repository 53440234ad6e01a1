"""Tokenise once: a corpus's tokens kept as ids in a per-user cache, memory-mapped on reuse.

Segmenting is the slow part of preparing a large corpus (jieba reads ~260k characters/s), and
every rerun, every playground `t` and every process of a distributed run would pay it again. The
tokens of a text are stored once as ids into a table of its distinct tokens in first-seen order,
independent of the vocabulary: any --min-count, --max-vocab or validation split is derived from
them in a fraction of a second (see prepare_data in core/trainer.py).

A cache file is keyed by the sha256 of the text (the decoded, stripped lines the tokenizer
reads), the tokenizer (for words: jieba's version and dictionary file) and FORMAT. It is written
atomically under $XDG_CACHE_HOME/lyrics-tui/encoded, built by one process while any other that
wants it waits on a file lock, and checked by sha256 on every read: a stale or damaged file is
rebuilt, never trusted. Any failure to use the cache only costs speed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import tempfile
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lyrics_tui.core.paths import user_cache_dir
from lyrics_tui.core.tokens import Tokenizer, tokenizer_version
from lyrics_tui.core.vocab import Vocabulary

if TYPE_CHECKING:
    from typing import BinaryIO

FORMAT = 1
MAGIC = b"lyrics-tui encoded corpus\n"
KEEP = 16  # cache files kept: the most recently used
_ALIGN = 64
_HASH_CHUNK = 65_536  # lines hashed per piece (bounded extra memory on a large corpus)


@dataclass(frozen=True)
class EncodedText:
    """The tokens of some lines as ids into `types` (each distinct token once, first-seen
    order); line i's tokens end at ids[line_ends[i]]."""

    types: list[str]
    ids: np.ndarray  # int32, one per token, the newline token of each line included
    line_ends: np.ndarray  # int64, one per line

    def tokens_in(self, lines: int) -> int:
        """How many tokens the first `lines` lines hold."""
        return int(self.line_ends[lines - 1]) if lines > 0 else 0


@dataclass(frozen=True)
class EncodedSplit:
    """A training and a validation split of one EncodedText."""

    text: EncodedText
    cut: int  # tokens of the training split

    @property
    def train_raw(self) -> np.ndarray:
        return self.text.ids[: self.cut]

    @property
    def val_raw(self) -> np.ndarray:
        return self.text.ids[self.cut :]

    def vocabulary(self, min_count: int, max_size: int) -> Vocabulary:
        """The vocabulary of the training split, as Vocabulary.build would make it."""
        counts = np.bincount(self.train_raw, minlength=len(self.text.types)).tolist()
        # types are in first-seen order over train + validation; the training split comes
        # first, so its own first-seen order (which breaks ties) is the same
        seen = ((t, c) for t, c in zip(self.text.types, counts, strict=True) if c)
        return Vocabulary.from_counts(seen, min_count, max_size)

    def ids(self, vocab: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
        """Training and validation ids (int64) in `vocab`; unknown tokens become <unk>."""
        get = vocab.index.get
        types = self.text.types
        remap = np.fromiter((get(t, 0) for t in types), dtype=np.int64, count=len(types))
        return remap[self.train_raw], remap[self.val_raw]


def encode_split(
    train_lines: Sequence[str], val_lines: Sequence[str], kind: str, *, cache: bool = True
) -> EncodedSplit:
    """Both splits encoded in one pass, through the cache (keyed by the two together, so the
    usual held-out split of one file shares one cache entry whatever the fraction)."""
    text = encode_lines(list(train_lines) + list(val_lines), kind, cache=cache)
    return EncodedSplit(text, text.tokens_in(len(train_lines)))


def encode_lines(lines: Sequence[str], kind: str, *, cache: bool = True) -> EncodedText:
    """The tokens of `lines`, read from the cache when it holds them, else segmented (and
    stored for next time)."""
    tokenizer = Tokenizer(kind)  # checks the kind before anything else
    if not cache or not lines:
        return segment(lines, tokenizer)
    version = tokenizer_version(kind)
    digest = text_digest(lines, version)
    if digest is None:  # a line with a line break inside: not what a corpus file gives
        return segment(lines, tokenizer)
    path = cache_dir() / f"{kind}-{digest[:40]}.ids"
    found = read_cache(path, digest)
    if found is not None:
        return found
    with _locked(path.with_suffix(".lock")) as locked:
        found = read_cache(path, digest) if locked else None  # built while we waited?
        if found is not None:
            return found
        encoded = segment(lines, tokenizer)
        if locked:
            write_cache(path, digest, version, encoded)
            _prune(path.parent)
    return encoded


def segment(lines: Sequence[str], tokenizer: Tokenizer) -> EncodedText:
    """Tokenise line by line into ids of first-seen tokens; memory stays a few bytes per
    token (no per-token Python objects kept)."""
    first_seen: dict[str, int] = {}
    flat = array("i")
    ends = array("q")
    for tokens in tokenizer.lines(lines):
        flat.extend([first_seen.setdefault(t, len(first_seen)) for t in tokens])
        ends.append(len(flat))
    ids = np.frombuffer(flat, dtype=np.int32) if len(flat) else np.zeros(0, np.int32)
    line_ends = np.frombuffer(ends, dtype=np.int64) if len(ends) else np.zeros(0, np.int64)
    return EncodedText(list(first_seen), ids, line_ends)


def cache_dir() -> Path:
    return user_cache_dir() / "encoded"


def text_digest(lines: Sequence[str], version: str) -> str | None:
    """sha256 of the cache format, the tokenizer's version and the lines; None when a line
    holds a line break (two different line lists would hash alike)."""
    h = hashlib.sha256(f"{MAGIC.decode()}{FORMAT}\n{version}\n".encode())
    for start in range(0, len(lines), _HASH_CHUNK):
        piece = lines[start : start + _HASH_CHUNK]
        text = "\n".join(piece) + "\n"
        if text.count("\n") != len(piece):
            return None
        h.update(text.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


# -- the file: MAGIC, header length (8 bytes), JSON header, padding, ids, line ends, types ----
def write_cache(path: Path, digest: str, version: str, encoded: EncodedText) -> bool:
    """Write atomically (temporary file, then rename); False if it could not be written."""
    types_blob = json.dumps(encoded.types, ensure_ascii=False).encode("utf-8", "surrogatepass")
    ids = np.ascontiguousarray(encoded.ids, dtype="<i4")
    ends = np.ascontiguousarray(encoded.line_ends, dtype="<i8")
    body = hashlib.sha256()
    for part in (ids, ends):
        body.update(part.data.cast("B"))
    body.update(types_blob)
    header: dict = {
        "format": FORMAT,
        "key": digest,
        "tokenizer": version,
        "tokens": len(ids),
        "lines": len(ends),
        "types": len(encoded.types),
        "types_bytes": len(types_blob),
        "sha256": body.hexdigest(),
    }
    head = json.dumps(header).encode()
    start = _aligned(len(MAGIC) + 8 + len(head))
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(MAGIC + struct.pack("<Q", len(head)) + head)
            out.write(b"\0" * (start - out.tell()))
            _write_array(out, ids)
            out.write(b"\0" * (_aligned(out.tell()) - out.tell()))
            _write_array(out, ends)
            out.write(types_blob)
        os.replace(tmp, path)
        tmp = None
        return True
    except (OSError, ValueError):
        return False
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def read_cache(path: Path, digest: str) -> EncodedText | None:
    """The cached tokens, or None when the file is missing, stale, truncated or damaged."""
    try:
        with open(path, "rb") as handle:
            if handle.read(len(MAGIC)) != MAGIC:
                return None
            (head_len,) = struct.unpack("<Q", handle.read(8))
            if head_len > 1 << 20:
                return None
            header = json.loads(handle.read(head_len))
            size = os.fstat(handle.fileno()).st_size
        if header.get("format") != FORMAT or header.get("key") != digest:
            return None
        tokens, lines, n_types = header["tokens"], header["lines"], header["types"]
        ids_at = _aligned(len(MAGIC) + 8 + head_len)
        ends_at = _aligned(ids_at + 4 * tokens)
        types_at = ends_at + 8 * lines
        if size != types_at + header["types_bytes"] or tokens < 1 or lines < 1:
            return None
        raw = np.memmap(path, dtype=np.uint8, mode="r")
        body = hashlib.sha256()
        for part in (
            raw[ids_at : ids_at + 4 * tokens],
            raw[ends_at:types_at],
            raw[types_at:],
        ):
            body.update(part.data)
        if body.hexdigest() != header["sha256"]:
            return None
        ids = np.memmap(path, dtype="<i4", mode="r", offset=ids_at, shape=(tokens,))
        ends = np.memmap(path, dtype="<i8", mode="r", offset=ends_at, shape=(lines,))
        types = json.loads(bytes(raw[types_at:]).decode("utf-8", "surrogatepass"))
        if len(types) != n_types or int(ends[-1]) != tokens:
            return None
    except (OSError, ValueError, KeyError, TypeError, struct.error, UnicodeDecodeError):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # most recently used: kept longest by _prune
    return EncodedText(types, ids, ends)


def _write_array(out: BinaryIO, values: np.ndarray) -> None:
    view = values.data.cast("B")
    for start in range(0, len(view), 1 << 24):
        out.write(view[start : start + (1 << 24)])


def _aligned(offset: int) -> int:
    return -(-offset // _ALIGN) * _ALIGN


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[bool]:
    """Hold an exclusive lock on `path` (waiting for it); yields False when no lock can be
    had (a read-only cache folder), and the caller then works without the cache."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, the atomic rename still keeps files whole
        yield True
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+b")
    except OSError:
        yield False
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield True
    finally:
        handle.close()  # releases the lock


def _prune(folder: Path) -> None:
    """Delete all but the KEEP most recently used cache files (and their locks)."""
    try:
        files = sorted(folder.glob("*.ids"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[KEEP:]:
            old.unlink()
            with contextlib.suppress(OSError):
                old.with_suffix(".lock").unlink()
    except OSError:
        pass
