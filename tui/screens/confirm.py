"""A yes/no question in a small box: y confirms, n or Esc declines."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmScreen(ModalScreen[bool]):
    """Answers True (y) or False (n, Esc)."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen #confirm-box {
        width: 70%; max-width: 76; height: auto; border: round $error; padding: 0 1;
    }
    ConfirmScreen #confirm-keys { color: $text-muted; margin-top: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No", key_display="n"),
    ]

    def __init__(self, question: str, title: str = "Confirm") -> None:
        super().__init__()
        self.question = question
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(self.question, id="confirm-question", markup=False)
            yield Static("y yes · n or Esc no", id="confirm-keys", markup=False)

    def on_mount(self) -> None:
        self.query_one("#confirm-box").border_title = self.title_text

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


def ask(app: App, question: str, title: str, then: Callable[[], object]) -> None:
    """Ask in a ConfirmScreen; on y, `then`."""

    def answered(yes: bool | None) -> None:
        if yes:
            then()

    app.push_screen(ConfirmScreen(question, title), answered)
