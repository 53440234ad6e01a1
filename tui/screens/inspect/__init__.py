"""The inspection screen (i): inside the network, one view per file."""

from lyrics_tui.tui.screens.inspect.screen import InspectScreen

__all__ = ["InspectScreen"]
