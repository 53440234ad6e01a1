"""Text <-> tokens. Words come from jieba (as in the tutorial) or are single characters.

Every line ends with NEWLINE, so the model learns where lines end and generated text has lines.
Tokens are joined with no separator: jieba keeps spaces as tokens of their own, so joining the
tokens of a line gives the line back.
"""
from __future__ import annotations

import gc
import logging
import threading
from typing import Iterable, Iterator

from core.config import TOKENIZERS
from core.errors import SettingsError

NEWLINE = "\n"

_jieba_lock = threading.Lock()
_jieba = None


def _load_jieba():
    """Import and initialise jieba once; silence its start-up chatter on stderr."""
    global _jieba
    with _jieba_lock:
        if _jieba is None:
            # Loading makes ~350,000 new objects; the garbage collections they trigger took a
            # third of the load (0.9 s -> 0.6 s without) while holding every other thread up.
            collecting = gc.isenabled()
            gc.disable()
            try:
                import jieba

                jieba.setLogLevel(logging.CRITICAL + 10)
                jieba.initialize()
            finally:
                if collecting:
                    gc.enable()
            _jieba = jieba
    return _jieba


def warm_up(kind: str) -> None:
    """Load the tokenizer's dictionary now (about 0.7 s for jieba) rather than on first use."""
    if kind == "word":
        _load_jieba()


class Tokenizer:
    """Splits text into tokens the way the corpus was split."""

    def __init__(self, kind: str = "word") -> None:
        if kind not in TOKENIZERS:
            raise SettingsError(f"tokenizer must be one of {', '.join(TOKENIZERS)}")
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
