"""Song form: lines of a singable length, line ends that rhyme, and lines that come back whole.

- rhyme.py: the rhyme groups (十三辙) from pinyin finals;
- lengths.py: a corpus's line lengths and the line-length rule's numbers;
- corpus_form.py: what a corpus teaches (lengths, how lines return, how often ends rhyme),
  stored in each checkpoint at training time;
- vocabulary.py: each word's rhyme group and length, once per vocabulary;
- writer.py: SongWriter, the rules applied while writing (generation and the step-through);
- drafts.py: a new line written whole as a draft, and written again when it reads worse to
  the network than most of the song's drafts (the likelier draft kept);
- marks.py: the marks a view puts on finished lines (rhyme group, returning line).
Generation never imports torch; pypinyin only when a vocabulary's table is not stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lyrics_tui.core.songform.corpus_form import CorpusForm
from lyrics_tui.core.songform.vocabulary import VocabularyRhymes, vocabulary_rhymes

if TYPE_CHECKING:
    from lyrics_tui.core.vocab import Vocabulary


def stored_form(lines: Sequence[str], vocab: Vocabulary) -> dict[str, Any]:
    """What a checkpoint stores: the training lines' form and the vocabulary's rhyme groups."""
    return {
        **CorpusForm.of_lines(lines).to_dict(),
        "rhymes": vocabulary_rhymes(vocab).stored(),
    }


def form_of(stored: Any) -> CorpusForm:
    """The CorpusForm a checkpoint's `form` entry holds (the defaults for an older file)."""
    return CorpusForm.from_dict(stored)


def rhymes_of(stored: Any, vocab: Vocabulary) -> VocabularyRhymes:
    """The vocabulary's rhyme table, as stored (computed once when not, or not matching)."""
    groups = stored.get("rhymes") if isinstance(stored, dict) else None
    return vocabulary_rhymes(vocab, groups if isinstance(groups, list) else None)


__all__ = ["CorpusForm", "VocabularyRhymes", "form_of", "rhymes_of", "stored_form"]
