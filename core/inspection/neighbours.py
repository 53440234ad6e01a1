"""Embedding neighbours: the words whose vectors point most nearly the same way (cosine)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lyrics_tui.core.errors import LyricsError, SettingsError, printable
from lyrics_tui.core.inspection.common import Serialisable, display_token
from lyrics_tui.core.inspection.subject import Subject
from lyrics_tui.core.tokens import NEWLINE
from lyrics_tui.core.vocab import UNK

MAX_NEIGHBOURS = 200


@dataclass(frozen=True)
class Neighbour(Serialisable):
    rank: int
    text: str
    label: str
    token_id: int
    cosine: float
    count: int  # times seen in the training split


@dataclass(frozen=True)
class Neighbours(Serialisable):
    word: str
    label: str
    token_id: int
    count: int
    norm: float  # length of the word's embedding vector
    neighbours: tuple[Neighbour, ...]  # most similar first; the word itself and <unk> left out
    farthest: tuple[Neighbour, ...]  # least similar, most dissimilar first


def _lookup(subject: Subject, word: str) -> int:
    vocab = subject.vocab
    token = word.strip() if word.strip() else word
    if token in ("↵", "\\n"):
        token = NEWLINE
    if token in vocab and token != UNK:
        return vocab.id(token)
    if not token:
        raise LyricsError("type a word to look up")
    pieces = [p for p in subject.tokenizer.split_line(token) if p in vocab and p != UNK]
    pieces = list(dict.fromkeys(pieces))  # each once; a space shown as a mark, not a blank
    hint = (
        f"; try one of its pieces: {' '.join(display_token(p) for p in pieces)}"
        if len(pieces) > 1 or (pieces and pieces[0] != token)
        else ""
    )
    raise LyricsError(f"'{printable(token)}' is not in the vocabulary ({len(vocab):,} words){hint}")


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float64)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.maximum(norms, 1e-12)


def neighbours(subject: Subject, word: str, k: int = 10, farthest: int = 0) -> Neighbours:
    """The k words whose embedding vectors point most nearly the same way as `word`'s
    (cosine similarity), and optionally the `farthest` least similar."""
    if not 1 <= k <= MAX_NEIGHBOURS:
        raise SettingsError(f"the number of neighbours must be between 1 and {MAX_NEIGHBOURS}")
    if not 0 <= farthest <= MAX_NEIGHBOURS:
        raise SettingsError(f"the number of farthest words must be between 0 and {MAX_NEIGHBOURS}")
    token_id = _lookup(subject, word)
    vocab = subject.vocab
    matrix = np.asarray(subject.stepper.embedding_matrix())
    unit = _unit_rows(matrix)
    cosines = unit @ unit[token_id]
    order = np.argsort(-cosines, kind="stable")
    order = order[(order != token_id) & (order != vocab.unk_id)]

    def row(rank: int, i: int) -> Neighbour:
        return Neighbour(
            rank=rank,
            text=vocab.tokens[i],
            label=display_token(vocab.tokens[i]),
            token_id=int(i),
            cosine=float(cosines[i]),
            count=int(vocab.counts[i]),
        )

    near = tuple(row(r + 1, i) for r, i in enumerate(order[:k]))
    far = tuple(row(len(order) - r, i) for r, i in enumerate(order[::-1][:farthest]))
    return Neighbours(
        word=vocab.tokens[token_id],
        label=display_token(vocab.tokens[token_id]),
        token_id=token_id,
        count=int(vocab.counts[token_id]),
        norm=float(np.linalg.norm(matrix[token_id])),
        neighbours=near,
        farthest=far,
    )


def similarity(subject: Subject, a: str, b: str) -> float:
    """Cosine similarity of two words' embeddings (the tutorial's 猫/狗 versus 猫/汽车)."""
    ia, ib = _lookup(subject, a), _lookup(subject, b)
    unit = _unit_rows(np.asarray(subject.stepper.embedding_matrix())[[ia, ib]])
    return float(unit[0] @ unit[1])
