"""Views over core/: the Textual playground (tui.app) and the command line (tui.cli)."""
