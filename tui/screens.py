"""Modal screens: help, checkpoint loading (list, path with completion, file tree), save output."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import DirectoryTree, Input, Label, OptionList, Static
from textual.widgets.option_list import Option


class PathSuggester(Suggester):
    """Completes file system paths (the first match in the folder typed so far)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        expanded = os.path.expanduser(value)
        folder, stem = os.path.split(expanded)
        try:
            names = sorted(os.listdir(folder or "."))
        except OSError:
            return None
        for name in names:
            if name.startswith(stem) and name != stem and not name.startswith("."):
                full = os.path.join(folder, name)
                if os.path.isdir(full):
                    full += os.sep
                if value.startswith("~"):
                    full = "~" + full[len(os.path.expanduser("~")) :]
                return full
        return None


class HelpScreen(ModalScreen[None]):
    """Every key, from the app's own bindings (so it cannot drift from them): `rows` are
    (keys, action, description, more) as PlaygroundApp.binding_rows() gives them."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss_help", "Close help")
    ]

    def __init__(self, rows: Iterable[tuple[str, str, str, str]]) -> None:
        super().__init__()
        self.rows = list(rows)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(self._text(), id="help-text")

    def on_mount(self) -> None:
        self.query_one("#help-box").border_title = "Help · Esc closes"
        self.query_one("#help-box").focus()

    def _text(self) -> Table:
        table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for key, _action, description, extra in self.rows:
            table.add_row(key, Text(description + (f" — {extra}" if extra else "")))
        table.add_row("", "")
        table.add_row(
            "",
            Text(
                "Training runs in the background; generation uses the weights being trained. "
                "Unknown prompt words are read as <unk> (a note says which). Settings: blank "
                "fields take the preset's value; training fields lock while a run is active. "
                "Checkpoints saved with s are named <corpus>-e<epoch>-ppl<val ppl>.pt."
            ),
        )
        return table

    def action_dismiss_help(self) -> None:
        self.dismiss(None)


class CheckpointTree(DirectoryTree):
    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [
            p for p in paths if not p.name.startswith(".") and (p.is_dir() or p.suffix == ".pt")
        ]


class LoadScreen(ModalScreen[str | None]):
    """Pick a checkpoint: the list from checkpoints/, a typed path, or the file tree."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, files: list[Path], start_dir: Path) -> None:
        super().__init__()
        self.files = files
        self.start_dir = start_dir

    def compose(self) -> ComposeResult:
        with Vertical(id="load-box"):
            yield Label("Checkpoints (newest first) · Enter loads", classes="section")
            options = [Option(self._describe(p), id=str(i)) for i, p in enumerate(self.files)]
            yield OptionList(*options, id="load-list")
            yield Label("…or a path (→ accepts the completion):", classes="section")
            yield Input(
                placeholder="path/to/checkpoint.pt",
                suggester=PathSuggester(),
                id="load-path",
                compact=True,
            )
            yield Label("…or browse:", classes="section")
            yield CheckpointTree(str(self.start_dir), id="load-tree")

    def on_mount(self) -> None:
        self.query_one("#load-box").border_title = "Load a checkpoint · Esc cancels"
        if self.files:
            self.query_one("#load-list").focus()
        else:
            self.query_one("#load-list", OptionList).add_option(
                Option("(no checkpoints in this folder yet)", disabled=True)
            )
            self.query_one("#load-path").focus()

    @staticmethod
    def _describe(path: Path) -> str:
        try:
            st = path.stat()
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(st.st_mtime))
            return f"{path.name}  ·  {st.st_size / 1e6:.1f} MB  ·  {when}"
        except OSError:
            return path.name

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.dismiss(str(self.files[int(event.option.id)]))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(os.path.expanduser(event.value.strip()))

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        self.dismiss(str(event.path))

    def action_cancel(self) -> None:
        self.dismiss(None)


class WriteScreen(ModalScreen[str | None]):
    """Ask where to write the generated text."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, default: str) -> None:
        super().__init__()
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(id="write-box"):
            yield Label("Write the output to (Enter saves, Esc cancels):")
            yield Input(self.default, suggester=PathSuggester(), id="write-path", compact=True)

    def on_mount(self) -> None:
        self.query_one("#write-box").border_title = "Save output"
        self.query_one("#write-path").focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        self.dismiss(os.path.expanduser(value) if value else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
