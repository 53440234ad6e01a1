"""Choosing a corpus in the settings form: a bundled corpus by name (`lyrics`, `songci`), a
file trained on before, or any path; and one line on what the chosen corpus is and how it is
split. The rule for a bundled corpus's settings is core's (core/corpus.py corpus_settings)."""

from __future__ import annotations

import re
from pathlib import Path

from textual.suggester import Suggester

from lyrics_tui.core.corpus import BUNDLED, DOWNLOADABLE, bundled_corpus
from lyrics_tui.tui import format as fmt
from lyrics_tui.tui.widgets.path_suggester import PathSuggester

RECENT_MAX = 8  # recent corpus files offered in the picker
TOKENS = {"word": "jieba words", "char": "characters"}


def recent_corpora(limit: int = RECENT_MAX) -> list[str]:
    """The corpus files of the latest recorded training runs (core/runs/store.py), newest first,
    that still exist and are not bundled; none when there is no run store. Reads a file: call
    it from a thread."""
    from lyrics_tui.core.errors import LyricsError
    from lyrics_tui.core.runs.store import open_store

    try:
        with open_store(create=False, timeout=0.5) as store:
            runs = store.list_runs(limit=200)
    except (LyricsError, OSError):
        return []
    found: list[str] = []
    for run in runs:
        shown = fmt.path(run.corpus)
        if shown not in found and bundled_corpus(run.corpus) is None:
            if Path(run.corpus).expanduser().is_file():
                found.append(shown)
        if len(found) >= limit:
            break
    return found


def picker_options(recent: list[str]) -> list[tuple[str, str]]:
    """(label, value) for the picker: the bundled corpora, the downloadable ones (fetched when
    first trained on), then the recent files."""
    options = [(f"{c.name} · bundled", c.name) for c in BUNDLED.values()]
    for d in DOWNLOADABLE.values():
        options.append((f"{d.name} · {'downloaded' if d.path.is_file() else 'download'}", d.name))
    return options + [(Path(p).name + " · recent", p) for p in recent]


def corpus_about(spec: str, tokenizer: str) -> str:
    """One line on the corpus `spec` names: what it is and how a new model splits it."""
    tokens = TOKENS.get(tokenizer, tokenizer)
    corpus = bundled_corpus(spec) if spec else None
    if corpus is not None:
        return f"{re.split(r', | [(]', corpus.about)[0]}; {tokens}"  # its first clause
    if spec in DOWNLOADABLE:
        return f"{re.split(r', | [(]', DOWNLOADABLE[spec].about)[0]}; {tokens}"
    return f"a file; {tokens}" if spec else f"blank: {next(iter(BUNDLED))}; {tokens}"


class CorpusSuggester(Suggester):
    """Completes a bundled corpus's name, then a recent corpus file, then any path."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self._paths = PathSuggester()
        self.recent: list[str] = []  # recent_corpora(), once the form has read them

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        for name in [*BUNDLED, *DOWNLOADABLE]:
            if name.startswith(value) and name != value:
                return name
        for path in self.recent:
            if path.startswith(value) and path != value:
                return path
        return await self._paths.get_suggestion(value)
