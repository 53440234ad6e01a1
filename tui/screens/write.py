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

from lyrics_tui.tui import format as fmt
from lyrics_tui.tui.widgets.path_suggester import PathSuggester


class WriteScreen(ModalScreen[str | None]):
    """Ask where to write the generated text, and write it there (the path when written)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, folder: Path, name: str, text: str) -> None:
        super().__init__()
        self.folder = folder  # the songs' own folder, made when first written to
        self.default = fmt.path(folder / name)
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
            self.dismiss(None)
            return
        path = os.path.expanduser(value)
        self.dismiss(path if self._write(path) else None)

    def _write(self, path: str) -> bool:
        target = Path(path)
        try:
            if target.is_dir():
                raise IsADirectoryError(21, "is a folder")
            if target.parent.resolve() == self.folder.resolve():
                self.folder.mkdir(parents=True, exist_ok=True)
            text = self.text if self.text.endswith("\n") else self.text + "\n"
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            error = f"{path}: not written ({exc.strerror or exc})"
            self.notify(error, severity="error", timeout=8, markup=False)
            return False
        self.notify(f"wrote {len(self.text)} characters to {fmt.path(path)}", markup=False)
        return True

    def action_cancel(self) -> None:
        self.dismiss(None)
