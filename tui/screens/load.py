"""Loading a checkpoint: the list from checkpoints/, a typed path (with completion), or a file
tree."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Input, Label, OptionList
from textual.widgets.option_list import Option

from lyrics_tui.tui.widgets.path_suggester import PathSuggester


class CheckpointTree(DirectoryTree):
    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [
            p for p in paths if not p.name.startswith(".") and (p.is_dir() or p.suffix == ".pt")
        ]


class LoadScreen(ModalScreen[str | None]):
    """Pick a checkpoint: the list from checkpoints/, a typed path, or the file tree."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, files: list[Path], start_dir: Path, purpose: str = "Load a checkpoint"
    ) -> None:
        super().__init__()
        self.purpose = purpose  # the title: what the checkpoint chosen is for
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
        self.query_one("#load-box").border_title = f"{self.purpose} · Esc cancels"
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
