"""Starting the playground: in this terminal, or served to a browser (textual-serve)."""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from lyrics_tui.core import tuning


def run_playground(args: Any) -> int:
    """Open the playground (or serve it with --serve)."""
    if getattr(args, "serve", False):
        return serve(args)
    tuning.for_training()
    from lyrics_tui.tui.app import PlaygroundApp

    app = PlaygroundApp(
        corpus=getattr(args, "corpus", None),
        checkpoint=getattr(args, "checkpoint", None),
        device=getattr(args, "device", "auto") or "auto",
    )
    return run_app(app)


def run_app(app: Any) -> int:
    """Run the app in this terminal and leave the process as soon as the terminal is back.

    The loop is ours, so its thread pool is not joined on the way out (asyncio.run would
    wait for a trainer thread still validating a partial epoch, or for jieba's warm-up), and
    the interpreter's own teardown (a second with torch loaded) is skipped: by now the
    terminal is restored, checkpoints are written atomically and the last finished epoch was
    saved on quit, so there is nothing left to flush but stdout and stderr.
    """
    loop = asyncio.new_event_loop()
    app.run(loop=loop)
    code = app.return_code or 0
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def serve(args: Any) -> int:
    """Serve the same app to a browser with textual-serve (one app process per page)."""
    try:
        from textual_serve.server import Server
    except ImportError:
        print(
            "lyrics-tui: --serve needs textual-serve (pip install 'lyrics-tui[serve]')",
            file=sys.stderr,
        )
        return 2
    command = [sys.executable, "-m", "lyrics_tui.tui.cli"]
    if getattr(args, "corpus", None):
        command += ["--corpus", str(Path(args.corpus).expanduser().resolve())]
    if getattr(args, "checkpoint", None):
        command += ["--checkpoint", str(Path(args.checkpoint).expanduser().resolve())]
    if getattr(args, "device", None):
        command += ["--device", args.device]
    port = getattr(args, "port", 8000)
    print(f"lyrics-tui: serving the playground on http://localhost:{port} (Ctrl+C stops)")
    Server(shlex.join(command), port=port, title="lyrics-tui").serve()
    return 0
