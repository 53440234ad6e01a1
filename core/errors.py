"""Errors the user can cause. Each carries one clear line meant to be shown as is.

A message names a setting as `{setting}`, the field name of ModelConfig, TrainConfig or
SamplerSettings. Each front end shows that name its own way: `str(error)` gives the plain name
(`min-count`), the command line its flag (`--min-count`), the playground its field label.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_SETTING = re.compile(r"\{([a-z][a-z0-9_]*)\}")


def plain_name(setting: str) -> str:
    """A setting as a person reads it: min_count -> min-count."""
    return setting.replace("_", "-")


def printable(text: str, limit: int = 40) -> str:
    """User text as a one-line message shows it: what would not print (a tab, a zero-width
    space, a right-to-left override that turns the line around) escaped, a long text cut."""
    cut = text if len(text) <= limit else text[:limit] + "…"
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in cut)


# C0 controls but newline and tab, DEL and C1: an ESC recolours or clears a terminal, a CR
# writes over the line, an OSC sequence renames the window
_CONTROL_ESCAPES = {
    code: chr(code).encode("unicode_escape").decode()
    for code in (*range(0x20), *range(0x7F, 0xA0))
    if code not in (0x09, 0x0A)
}


def terminal_text(text: str) -> str:
    """Text bound for a terminal with its control characters escaped; lines and tabs kept."""
    return text.translate(_CONTROL_ESCAPES)


class LyricsError(Exception):
    """Base class: bad input from the user, reported in one line, never as a traceback."""

    @property
    def template(self) -> str:
        return str(self.args[0]) if self.args else ""

    def render(self, name_for: Callable[[str], str] = plain_name) -> str:
        """The message with each `{setting}` named by `name_for`."""
        return _SETTING.sub(lambda m: name_for(m.group(1)), self.template)

    @property
    def settings(self) -> list[str]:
        """The settings the message names, in order."""
        return _SETTING.findall(self.template)

    def __str__(self) -> str:
        return self.render()


class CorpusError(LyricsError):
    """The corpus file cannot be used (missing, empty, binary, undecodable)."""


class CheckpointError(LyricsError):
    """A checkpoint cannot be read or written (corrupt, foreign, incompatible, unwritable)."""


class SettingsError(LyricsError):
    """A setting is out of its documented range."""


class TrainingDiverged(LyricsError):
    """The loss became NaN or infinite: the trainer ends the run as diverged (a
    TrainingFinished, not this exception, reaches the views) and the last good checkpoint
    stays."""


class RunStoreError(LyricsError):
    """The runs database cannot be used (corrupt, locked, unwritable, foreign) or lacks a run."""
