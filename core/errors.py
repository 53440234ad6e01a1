"""Errors the user can cause. Each carries one clear line meant to be shown as is."""


class LyricsError(Exception):
    """Base class: bad input from the user, reported in one line, never as a traceback."""


class CorpusError(LyricsError):
    """The corpus file cannot be used (missing, empty, binary, undecodable)."""


class CheckpointError(LyricsError):
    """A checkpoint cannot be read or written (corrupt, foreign, incompatible, unwritable)."""


class SettingsError(LyricsError):
    """A setting is out of its documented range."""


class TrainingDiverged(LyricsError):
    """The loss became NaN or infinite; the run stopped and the last good checkpoint stays."""
