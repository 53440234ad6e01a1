"""The help screen: every key, with what it does."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    """Every key, from the bindings themselves (so it cannot drift from them): `rows` are
    (keys, action, description, more) as tui.keys.help_rows() gives them."""

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
        table.add_row("", "")
        table.add_row(
            "",
            Text(
                "Song memory: a cache of the song so far mixed into the network's guess with "
                "weight λ (0 = off), so that a generated song can come back to its own lines; "
                "its settings are fitted on the validation text after each epoch and stored in "
                "the checkpoint. [ and ] set λ (shift+up/down in the start-text field), M turns "
                "it off and on; i shows what it recalls. The repetition penalty "
                "(settings: penalty) applies to the network's scores only, before the cache is "
                "mixed in: it stops "
                "the network looping on its own words and leaves what the cache recalls alone; "
                "temperature, top-k and top-p then apply to the mixture."
            ),
        )
        return table

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
