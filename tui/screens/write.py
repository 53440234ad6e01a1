"""Writing the generated text to a file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from lyrics_tui.core.song_file import SongFileError, SongFileExists, write_song
from lyrics_tui.tui import format as fmt
from lyrics_tui.tui.screens.confirm import ask
from lyrics_tui.tui.widgets.path_suggester import PathSuggester


class WriteScreen(ModalScreen[str | None]):
    """Ask where to write the generated text, and write it there (the path when written).
    An existing song is replaced only after a y; a checkpoint or other file never is."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, folder: Path, path: Path, text: str) -> None:
        super().__init__()
        self.folder = folder  # the songs' own folder, made when first written to
        self.default = fmt.path(path)
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="write-box"):
            yield Label("Write the song to (Enter saves, Esc cancels):")
            yield Input(self.default, suggester=PathSuggester(), id="write-path", compact=True)

    def on_mount(self) -> None:
        self.query_one("#write-box").border_title = "Save the song"
        self.query_one("#write-path").focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if not value:
            self.notify("name a file to write the song to (Esc cancels)", severity="warning")
            return
        path = os.path.expanduser(value)
        try:
            self._write(path, replace=False)
        except SongFileExists:
            question = f"{fmt.path(path)} holds a song already. Replace it with this one?"
            ask(self.app, question, "Replace a song", lambda: self._write_or_say(path, True))
        except SongFileError as exc:
            self.notify(str(exc), severity="error", timeout=8, markup=False)

    def _write_or_say(self, path: str, replace: bool) -> None:
        try:
            self._write(path, replace)
        except SongFileError as exc:
            self.notify(str(exc), severity="error", timeout=8, markup=False)

    def _write(self, path: str, replace: bool) -> None:
        """Write, say so and close; SongFileError (SongFileExists first) when it cannot."""
        target = Path(path)
        if target.parent.resolve() == self.folder.resolve():
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SongFileError(
                    f"{self.folder}: cannot create folder ({exc.strerror or exc})"
                ) from None
        written = write_song(target, self.text, replace=replace)
        self.notify(f"wrote {written} characters to {fmt.path(path)}", markup=False)
        self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)
