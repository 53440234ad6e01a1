"""Each vocabulary word's rhyme group and length, computed once per vocabulary (or read from
the checkpoint, which stores the groups so that generation never waits for pypinyin)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from lyrics_tui.core.songform.rhyme import NO_GROUP, RHYME_GROUPS, han_characters, last_han

if TYPE_CHECKING:
    from lyrics_tui.core.vocab import Vocabulary


class VocabularyRhymes:
    """groups[id]: the word's rhyme group (NO_GROUP: none); lengths[id]: its Han characters."""

    def __init__(self, tokens: Sequence[str], groups: Sequence[int] | None = None) -> None:
        self.tokens = list(tokens)
        self._given = None if groups is None else np.asarray(groups, dtype=np.int8)
        if self._given is not None and self._given.shape != (len(self.tokens),):
            self._given = None  # a stored table for another vocabulary: compute it again
        self.lengths = np.array([han_characters(t) for t in self.tokens], dtype=np.int64)
        self.ends = [last_han(t) for t in self.tokens]  # each word's last Han character
        self.end_codes = np.array([ord(e) if e else 0 for e in self.ends], dtype=np.int64)

    @staticmethod
    def codes(characters: set[str]) -> np.ndarray:
        return np.array([ord(c) for c in characters], dtype=np.int64)

    @cached_property
    def groups(self) -> np.ndarray:
        if self._given is not None:
            return self._given
        from lyrics_tui.core.songform.rhyme import vocabulary_groups

        return np.asarray(vocabulary_groups(self.tokens), dtype=np.int8)

    @cached_property
    def members(self) -> tuple[np.ndarray, ...]:
        """The ids of each group's words."""
        groups = self.groups
        return tuple(np.flatnonzero(groups == g) for g in range(len(RHYME_GROUPS)))

    def group(self, token_id: int) -> int:
        return int(self.groups[token_id]) if 0 <= token_id < len(self.tokens) else NO_GROUP

    def stored(self) -> list[int]:
        """The groups as a checkpoint stores them."""
        return [int(g) for g in self.groups]


_tables: weakref.WeakKeyDictionary[Vocabulary, VocabularyRhymes] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def vocabulary_rhymes(vocab: Vocabulary, stored: Sequence[int] | None = None) -> VocabularyRhymes:
    """The table of `vocab` (the same object each time: one computation per vocabulary)."""
    with _lock:
        table = _tables.get(vocab)
        if table is None or (stored is not None and table._given is None):
            table = VocabularyRhymes(vocab.tokens, stored)
            _tables[vocab] = table
        return table
