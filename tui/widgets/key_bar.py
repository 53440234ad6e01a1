"""A footer that wraps: every binding that applies now, on as many lines as it needs (<= 3).

Textual's Footer is one line and scrolls sideways, which at 80 columns hides the last keys
(help and quit among them). This one lists the same active bindings, wrapped between keys.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.screen import Screen
from textual.widgets import Input, Static

# keys a text field types rather than passes on
TYPED_KEYS = {
    "space",
    "slash",
    "minus",
    "plus",
    "equals_sign",
    "question_mark",
    "left_square_bracket",
    "right_square_bracket",
}


PALETTE = ("^p", "Commands")


class KeyBar(Static):
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: auto;
        max-height: 3;
        padding: 0 1;
        background: $footer-background;
        color: $footer-foreground;
    }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self.show_keys)

    def on_resize(self) -> None:
        self.show_keys()

    def _bindings_changed(self, screen: Screen) -> None:
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self.show_keys)

    def _label(self, action: str, description: str) -> str:
        """The description, or what the screen says the key does now (space: Pause or Resume)."""
        now = getattr(self.screen, "key_label", None)
        return now(action, description) if callable(now) else description

    def entries(self) -> list[tuple[str, str]]:
        """(keys, description) of the bindings shown now; a group's keys share one entry."""
        groups: dict[str, list[str]] = {}
        out: list[tuple[str, str]] = []
        seen: set[str] = set()
        typing = isinstance(self.app.focused, Input)
        bindings = list(self.screen.active_bindings.items())
        # priority bindings (ctrl+c) after the rest: "q Quit" is shown, "^c Quit" only while
        # a text field takes the q
        bindings.sort(key=lambda item: item[1][1].priority)
        for key, (_node, binding, enabled, _tooltip) in bindings:
            if not binding.show or not enabled or binding.action in seen:
                continue
            if typing and (len(key) == 1 or key in TYPED_KEYS):
                continue  # a text field takes these keys as text
            seen.add(binding.action)
            key = self.app.get_key_display(binding)
            if binding.group is not None:
                if binding.group.description not in groups:
                    groups[binding.group.description] = []
                    out.append(("", binding.group.description))
                groups[binding.group.description].append(key)
            else:
                out.append((key, self._label(binding.action, binding.description)))
        entries = [("/".join(groups[d]) if not k else k, d) for k, d in out]
        palette = self.app.COMMAND_PALETTE_BINDING
        if self.app.ENABLE_COMMAND_PALETTE and palette in self.screen.active_bindings:
            entries.append(PALETTE)
        return entries

    def show_keys(self) -> None:
        if not self.is_attached:
            return
        width = max(20, self.size.width or self.app.size.width - 2)
        text = Text(no_wrap=True, overflow="ellipsis")
        used = 0
        for key, description in self.entries():
            item = cell_len(key) + 1 + cell_len(description)
            if (key, description) == PALETTE and used + 2 + item > width:
                break  # not a line of its own: ? lists it
            if used and used + 2 + item > width:
                text.append("\n")
                used = 0
            elif used:
                text.append("  ")
                used += 2
            text.append(key, style="bold reverse")
            text.append(" " + description)
            used += item
        self.update(text)
