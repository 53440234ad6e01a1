"""Where the run store lives: `--runs-db PATH`, else $LYRICS_TUI_RUNS_DB, else
$XDG_DATA_HOME/lyrics-tui/runs.sqlite3 (~/.local/share/lyrics-tui/runs.sqlite3)."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "LYRICS_TUI_RUNS_DB"


def default_runs_db() -> Path:
    """$XDG_DATA_HOME/lyrics-tui/runs.sqlite3, ~/.local/share/... when that is unset."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(base) / "lyrics-tui" / "runs.sqlite3"


def runs_db_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The store a command uses: `explicit` (--runs-db), else $LYRICS_TUI_RUNS_DB, else the
    per-user default."""
    chosen = explicit or os.environ.get(ENV_VAR)
    return Path(chosen).expanduser() if chosen else default_runs_db()
