"""Each vocabulary word's rhyme group and length, computed once per vocabulary (or read from
the checkpoint, which stores the groups so that generation never waits for pypinyin)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from lyrics_tui.core.songform.rhyme import HAN, NO_GROUP, RHYME_GROUPS, han_characters, last_han

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
        self.sizes = self.lengths.tolist()  # the same as Python ints, for one word at a time
        self.longest_word = int(self.lengths.max()) if len(self.lengths) else 0
        self._containing: dict[str, np.ndarray] = {}
        # the spaces between a line's phrases
        blanks = [i for i, t in enumerate(self.tokens) if t.isspace() and t != "\n"]
        self.blanks = np.array(blanks, dtype=np.int64)
        self.ends = [last_han(t) for t in self.tokens]  # each word's last Han character

    @cached_property
    def by_end(self) -> dict[str, np.ndarray]:
        """The ids of the words ending in each Han character."""
        ids: dict[str, list[int]] = {}
        for i, end in enumerate(self.ends):
            if end:
                ids.setdefault(end, []).append(i)
        return {end: np.array(found) for end, found in ids.items()}

    @cached_property
    def by_character(self) -> dict[str, np.ndarray]:
        """The ids of the words holding each Han character."""
        ids: dict[str, list[int]] = {}
        for i, token in enumerate(self.tokens):
            for character in set(HAN.findall(token)):
                ids.setdefault(character, []).append(i)
        return {character: np.array(found) for character, found in ids.items()}

    def containing(self, characters: str) -> np.ndarray:
        """The ids of the words holding any of `characters` (remembered for a few texts)."""
        ids = self._containing.get(characters)
        if ids is None:
            found = [self.by_character[c] for c in set(characters) if c in self.by_character]
            ids = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
            if len(self._containing) >= 64:
                self._containing.clear()
            self._containing[characters] = ids
        return ids

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
