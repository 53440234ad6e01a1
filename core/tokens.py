"""Text <-> tokens. Words come from jieba (as in the tutorial) or are single characters.

Every line ends with NEWLINE, so the model learns where lines end and generated text has lines.
Tokens are joined with no separator: jieba keeps spaces as tokens of their own, so joining the
tokens of a line gives the line back.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import logging
import marshal
import os
import tempfile
import threading
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lyrics_tui.core.config import TOKENIZERS
from lyrics_tui.core.errors import SettingsError
from lyrics_tui.core.paths import user_cache_dir

NEWLINE = "\n"

_jieba_lock = threading.Lock()
_jieba = None

# jieba's dictionary, kept per user as small marshalled chunks: it loads faster than jieba's own
# cache and never holds the GIL long enough to stall the playground (docs/performance.md).
_CACHE_FORMAT = b"lyrics-tui jieba dictionary 1\n"
_CHUNK_WORDS = 20_000


def dictionary_cache_path() -> Path:
    return user_cache_dir() / "jieba-dictionary.cache"


def _dictionary_key(jieba: Any) -> bytes:
    dict_file = os.path.join(os.path.dirname(jieba.__file__), jieba.DEFAULT_DICT_NAME)
    info = os.stat(dict_file)
    return f"{jieba.__version__} {info.st_size} {info.st_mtime_ns}".encode()


def _load_dictionary_cache(tokenizer: Any, key: bytes, path: Path) -> bool:
    """Fill a jieba Tokenizer from the chunked cache; False if it is missing, stale or bad."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    header = _CACHE_FORMAT + key + b"\n"
    if not data.startswith(header):
        return False
    digest, payload = data[len(header) : len(header) + 32], data[len(header) + 32 :]
    if hashlib.sha256(payload).digest() != digest:
        return False
    try:
        total, chunks = marshal.loads(payload)
        freq: dict[str, int] = {}
        for chunk in chunks:
            freq.update(marshal.loads(chunk))
    except (EOFError, ValueError, TypeError):
        return False
    if not isinstance(total, int) or not freq:
        return False
    tokenizer.FREQ, tokenizer.total, tokenizer.initialized = freq, total, True
    return True


def _save_dictionary_cache(tokenizer: Any, key: bytes, path: Path) -> None:
    """Write the cache atomically; any failure only costs speed next time."""
    try:
        items = list(tokenizer.FREQ.items())
        chunks = [
            marshal.dumps(dict(items[i : i + _CHUNK_WORDS]))
            for i in range(0, len(items), _CHUNK_WORDS)
        ]
        payload = marshal.dumps((tokenizer.total, chunks))
        data = _CACHE_FORMAT + key + b"\n" + hashlib.sha256(payload).digest() + payload
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".jieba-", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
    except (OSError, ValueError):
        pass


def _import_jieba():
    """Import jieba (without loading its dictionary)."""
    with warnings.catch_warnings():
        # jieba imports pkg_resources, which setuptools >= 81 marks as deprecated with a
        # warning on every run; the warning is for jieba's authors, not ours.
        warnings.filterwarnings(
            "ignore", message="pkg_resources is deprecated", category=UserWarning
        )
        import jieba
    return jieba


def tokenizer_version(kind: str) -> str:
    """What a tokenizer's output depends on besides the text (for words: jieba's version and
    dictionary file), without loading the dictionary. Caches of tokenised text key on it."""
    if kind != "word":
        return kind
    jieba = _import_jieba()
    try:
        return "word " + _dictionary_key(jieba).decode()
    except OSError:
        return f"word {jieba.__version__}"


def _load_jieba():
    """Import and initialise jieba once; silence its start-up chatter on stderr."""
    global _jieba
    with _jieba_lock:
        if _jieba is None:
            # Loading makes ~500,000 objects: garbage collection in between only slows it.
            collecting = gc.isenabled()
            gc.disable()
            try:
                jieba = _import_jieba()
                jieba.setLogLevel(logging.CRITICAL + 10)
                cache = dictionary_cache_path()
                try:
                    key = _dictionary_key(jieba)
                except OSError:
                    key = None
                if key is None or not _load_dictionary_cache(jieba.dt, key, cache):
                    jieba.initialize()
                    if key is not None:
                        _save_dictionary_cache(jieba.dt, key, cache)
            finally:
                if collecting:
                    gc.enable()
            _jieba = jieba
    return _jieba


def warm_up(kind: str) -> None:
    """Load the tokenizer's dictionary now rather than on first use."""
    if kind == "word":
        _load_jieba()


class Tokenizer:
    """Splits text into tokens the way the corpus was split."""

    def __init__(self, kind: str = "word") -> None:
        if kind not in TOKENIZERS:
            raise SettingsError(f"{{tokenizer}} must be one of {', '.join(TOKENIZERS)}")
        self.kind = kind

    def split_line(self, line: str) -> list[str]:
        """Tokens of one line, without the NEWLINE that ends it."""
        if self.kind == "char":
            return list(line)
        return [w for w in _load_jieba().lcut(line) if w]

    def lines(self, lines: Iterable[str]) -> Iterator[list[str]]:
        """Tokens of each line, each ending with NEWLINE."""
        for line in lines:
            tokens = self.split_line(line)
            tokens.append(NEWLINE)
            yield tokens

    def prompt(self, text: str) -> list[str]:
        """Tokens of a prompt: finished lines end with NEWLINE, the last line stays open."""
        tokens: list[str] = []
        parts = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        for i, part in enumerate(parts):
            part = part.strip()
            if part:
                tokens.extend(self.split_line(part))
            if i < len(parts) - 1 and part:
                tokens.append(NEWLINE)
        return tokens


def detokenize(tokens: Iterable[str]) -> str:
    return "".join(tokens)
